"""What the extension keeps for one app, and how any module finds it.

This module sits below every feature package (tracing, prompts, batches,
web, cli, jobs): they find the app's :class:`State` here, never in
:mod:`.extension`, which creates it and wires the features up. Keys that may
change on a running app are read through :class:`State`'s properties, the
one place that knows how to read them.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from flask import Flask
from flask import current_app
from flask import g
from flask import has_app_context
from flask import has_request_context
from flask import session as browser_session
from sqlalchemy.orm import Session

from .config import Settings
from .config import read_bool
from .config import read_seconds
from .config import read_timedelta

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import scoped_session

    from .alerts.rules import AlertRule
    from .otel.export import Exporter
    from .prompts.store import PromptStore
    from .tracing.writer import Writer

#: Where the state lives: ``app.extensions["llm_logs"]``.
EXTENSION_KEY = "llm_logs"

#: After a UI user changed something, their pages read the primary this many
#: seconds, longer than a healthy replica lags: nobody sees their change vanish.
READ_YOUR_WRITES_SECONDS = 10.0
#: When the browser last wrote, in its (signed) Flask session cookie.
_WROTE_AT = "llm_logs_wrote_at"
#: The request's replica session, in ``g``.
_READ_SESSION = "_llm_logs_read_session"


@dataclasses.dataclass(eq=False)
class State:
    """Everything the extension keeps for one app, in ``app.extensions["llm_logs"]``.

    The extension object itself holds no app, so one :class:`LlmLogs` can
    serve several apps (tests, app factories).
    """

    app: Flask
    settings: Settings
    db: SQLAlchemy
    #: Batch result handlers by purpose, see :meth:`LlmLogs.register_batch_handler`:
    #: this app's own, then those registered on the extension object.
    batch_handlers: collections.ChainMap[str, Any] = dataclasses.field(
        default_factory=collections.ChainMap
    )
    #: ``LLM_LOGS_ALERTS``, validated at ``init_app``; see :mod:`.alerts`.
    alert_rules: tuple[AlertRule, ...] = ()
    #: Called by :meth:`shutdown`, newest first (background threads, pools).
    shutdown_hooks: list[Callable[[], None]] = dataclasses.field(default_factory=list)
    #: Stores traces and spans in the background, see :mod:`.tracing.writer`.
    writer: Writer = dataclasses.field(init=False)
    #: The app's prompts: database access and the per-process cache.
    prompt_store: PromptStore = dataclasses.field(init=False)
    #: Exports traces and spans over OpenTelemetry, when the app asks for it.
    exporter: Exporter | None = None

    def shutdown(self) -> None:
        """Stop what the extension started for this app (tests, app teardown)."""
        while self.shutdown_hooks:
            self.shutdown_hooks.pop()()

    @property
    def session(self) -> scoped_session[Any]:
        return self.db.session

    @property
    def engine(self) -> Engine:
        """The engine the logs tables live on (the bind key's, or the default)."""
        with self.app.app_context():
            return self.db.engines[self.settings.bind_key]

    @property
    def read_engine(self) -> Engine:
        """The engine pages and :func:`~flask_llm_logs.metrics` read from: the replica of
        ``LLM_LOGS_READ_BIND``, unless this browser wrote a moment ago."""
        if self.settings.read_bind is None or _wrote_recently():
            return self.engine
        with self.app.app_context():
            return self.db.engines[self.settings.read_bind]

    @property
    def read_session(self) -> Session | scoped_session[Any]:
        """The session the UI's pages read with: on the replica (one per request, closed
        at teardown), or the app's own session when there is none or the browser
        wrote a moment ago. Writes always go through :attr:`session`."""
        if self.settings.read_bind is None or _wrote_recently():
            return self.session
        found: Session | None = g.get(_READ_SESSION)
        if found is None:
            found = Session(bind=self.read_engine)
            setattr(g, _READ_SESSION, found)
        return found

    # -- keys read live, so tests and admin tools can change them at runtime --

    def is_enabled(self) -> bool:
        """``LLM_LOGS_ENABLED``: whether anything is recorded.

        A method as well as the :attr:`enabled` property: the writer asks it
        for every record on the host's thread, and holds it bound (one call
        fewer than a ``lambda`` reading the property).
        """
        return read_bool(self.app.config, "LLM_LOGS_ENABLED")

    enabled = property(is_enabled)

    @property
    def capture_content(self) -> bool:
        """``LLM_LOGS_CAPTURE_CONTENT``: whether inputs and outputs are stored."""
        return read_bool(self.app.config, "LLM_LOGS_CAPTURE_CONTENT")

    def recording_switches(self) -> tuple[bool, bool]:
        """``LLM_LOGS_ENABLED`` and ``LLM_LOGS_CAPTURE_CONTENT`` at once.

        Every LLM call outside a trace reads both: through the properties
        that was two calls more on the host's thread, and ``read_bool`` is
        only asked of a value that is not already ``True`` or ``False``.
        """
        config = self.app.config
        enabled = config["LLM_LOGS_ENABLED"]
        if enabled is not True and enabled is not False:
            enabled = read_bool(config, "LLM_LOGS_ENABLED")
        capture = config["LLM_LOGS_CAPTURE_CONTENT"]
        if capture is not True and capture is not False:
            capture = read_bool(config, "LLM_LOGS_CAPTURE_CONTENT")
        return enabled, capture

    @property
    def batch_enabled(self) -> bool:
        """``LLM_LOGS_BATCH_ENABLED``: whether batches are submitted (else run one by one)."""
        return read_bool(self.app.config, "LLM_LOGS_BATCH_ENABLED")

    @property
    def batch_stale_claim_after(self) -> dt.timedelta:
        """``LLM_LOGS_BATCH_STALE_CLAIM_AFTER``: when an unfinished submission is retaken."""
        return read_timedelta(self.app.config, "LLM_LOGS_BATCH_STALE_CLAIM_AFTER")

    @property
    def batch_lost_after(self) -> dt.timedelta:
        """``LLM_LOGS_BATCH_LOST_AFTER``: how long a batch the provider denies knowing is
        waited for before it is marked failed."""
        return read_timedelta(self.app.config, "LLM_LOGS_BATCH_LOST_AFTER")

    @property
    def prompt_strict(self) -> bool:
        """``LLM_LOGS_PROMPT_STRICT``: whether ``build()`` refuses missing variables."""
        return read_bool(self.app.config, "LLM_LOGS_PROMPT_STRICT")

    @property
    def prompt_cache_ttl(self) -> float:
        """``LLM_LOGS_PROMPT_CACHE_TTL``: seconds a loaded prompt may be served from cache."""
        return read_seconds(self.app.config, "LLM_LOGS_PROMPT_CACHE_TTL")


#: The state of the app initialised last: used for LLM calls made outside any
#: app context (a bare thread, a script), where ``current_app`` is unavailable.
_last_state: State | None = None


def register(state: State) -> None:
    """Make ``state`` its app's, and the fallback outside any app context."""
    global _last_state
    state.app.extensions[EXTENSION_KEY] = state
    _last_state = state


def get_state(app: Flask | None = None) -> State:
    """The state of ``app``, of the current app, or of the app initialised last."""
    if app is None and has_app_context():
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app is not None:
        try:
            state: State = app.extensions[EXTENSION_KEY]
        except KeyError:
            raise RuntimeError(
                f"flask-llm-logs is not initialised on app {app.name!r}: call LlmLogs(app)"
            ) from None
        return state
    if _last_state is None:
        raise RuntimeError("flask-llm-logs is not initialised: call LlmLogs(app) first")
    return _last_state


def note_write() -> None:
    """Have this browser read the primary for a while: it just changed something there."""
    browser_session[_WROTE_AT] = time.time()


def _wrote_recently() -> bool:
    if not has_request_context():
        return False
    wrote_at = browser_session.get(_WROTE_AT)
    return isinstance(wrote_at, float) and time.time() - wrote_at < READ_YOUR_WRITES_SECONDS


def close_read_session(error: BaseException | None = None) -> None:
    """Close the request's replica session (an app-context teardown)."""
    session: Session | None = g.pop(_READ_SESSION, None)
    if session is not None:
        session.close()
