"""The :class:`LlmLogs` extension object and its per-app state."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from flask import Flask
from flask import current_app
from flask import has_app_context
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.engine import Engine

from . import migrations
from .config import Settings
from .config import load_settings
from .models import Base
from .tracing.context import forget_prompt_version
from .tracing.writer import Writer

if TYPE_CHECKING:
    from sqlalchemy.orm import scoped_session

EXTENSION_KEY = "llm_logs"


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
    #: Called by :meth:`shutdown`, newest first (background threads, pools).
    shutdown_hooks: list[Callable[[], None]] = dataclasses.field(default_factory=list)
    #: Stores traces and spans in the background, see :mod:`.tracing.writer`.
    writer: Writer = dataclasses.field(init=False)

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
    def enabled(self) -> bool:
        """Read live, so ``app.config["LLM_LOGS_ENABLED"] = False`` works at runtime."""
        return bool(self.app.config["LLM_LOGS_ENABLED"])


#: The state of the app initialised last: used for LLM calls made outside any
#: app context (a bare thread, a script), where ``current_app`` is unavailable.
_last_state: State | None = None


def get_state(app: Flask | None = None) -> State:
    """The state of ``app``, of the current app, or of the app initialised last."""
    if app is None and has_app_context():
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app is not None:
        try:
            return app.extensions[EXTENSION_KEY]
        except KeyError:
            raise RuntimeError(
                f"flask-llm-logs is not initialised on app {app.name!r}: call LlmLogs(app)"
            ) from None
    if _last_state is None:
        raise RuntimeError("flask-llm-logs is not initialised: call LlmLogs(app) first")
    return _last_state


class LlmLogs:
    """Record every LLM call of a Flask app, manage prompts and run batches.

    ::

        llm_logs = LlmLogs()

        def create_app():
            app = Flask(__name__)
            llm_logs.init_app(app)
            return app

    :param app: initialise on this app right away.
    :param db: the host's Flask-SQLAlchemy instance. Without it the one already
        registered on the app is used, or the extension brings its own
        (``SQLALCHEMY_DATABASE_URI`` defaulting to SQLite in the instance folder).
    """

    def __init__(self, app: Flask | None = None, *, db: SQLAlchemy | None = None) -> None:
        self._db = db
        #: Handlers for every app this object initialises, before or after init_app.
        self._batch_handlers: dict[str, Any] = {}
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        global _last_state
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                f"flask-llm-logs is already initialised on app {app.name!r};"
                " call init_app once per app."
            )
        settings = load_settings(app)
        # The bind key lives on the metadata, where Flask-SQLAlchemy's session
        # looks for it when it picks an engine for our tables.
        Base.metadata.info["bind_key"] = settings.bind_key
        state = State(
            app=app,
            settings=settings,
            db=self._resolve_db(app),
            batch_handlers=collections.ChainMap({}, self._batch_handlers),
        )
        state.writer = Writer(state)
        state.shutdown_hooks.append(state.writer.close)
        app.extensions[EXTENSION_KEY] = state
        _last_state = state
        app.teardown_request(forget_prompt_version)

        migrations.hide_tables_from_host_migrations(app)
        if settings.auto_instrument:
            from .instrumentation import instrument

            instrument()
        from .cli import cli

        app.cli.add_command(cli)

        from .web import register as register_ui

        register_ui(app, settings)

    def flush(self, timeout: float | None = None) -> bool:
        """Store every trace and span recorded so far; see :func:`flush`."""
        return flush(timeout)

    def stats(self) -> dict[str, int]:
        """The background writer's counters; see :func:`stats`."""
        return stats()

    def register_batch_handler(self, purpose: str, handler: Any, app: Flask | None = None) -> None:
        """Deliver batch results of ``purpose`` to ``handler``; see :doc:`/batches`.

        ``handler(request, message)`` is called once per successful request,
        inside the transaction that marks it succeeded; an optional
        ``handler.on_failure(request, error)`` once per failed request.

        Without ``app`` the handler serves every app this object initialises,
        before or after :meth:`init_app` (so it can be registered at import
        time, as a blueprint's routes are); with ``app``, that app only.
        """
        if not callable(handler):
            raise TypeError(f"a batch handler must be callable, got {handler!r}")
        if app is None:
            self._batch_handlers[purpose] = handler
        else:
            get_state(app).batch_handlers[purpose] = handler

    def enqueue_flush(self, purpose: str | None = None, app: Flask | None = None) -> Any:
        """Queue ``flush_batches(purpose)``: one waiting job per purpose; the RQ job."""
        from .jobs import enqueue_flush

        return enqueue_flush(get_state(app), purpose)

    def enqueue_poll(self, app: Flask | None = None) -> Any:
        """Queue ``poll_batches()`` unless one is already waiting; the RQ job."""
        from .jobs import enqueue_poll

        return enqueue_poll(get_state(app))

    def enqueue_purge(self, app: Flask | None = None) -> Any:
        """Queue ``purge_traces()`` unless one is already waiting; the RQ job.

        It deletes traces older than ``LLM_LOGS_RETENTION_DAYS``, as
        ``flask llm-logs purge`` does; see :doc:`/tracing`.
        """
        from .jobs import enqueue_purge

        return enqueue_purge(get_state(app))

    def _resolve_db(self, app: Flask) -> SQLAlchemy:
        if self._db is not None:
            if "sqlalchemy" not in app.extensions:
                self._db.init_app(app)
            return self._db
        if "sqlalchemy" in app.extensions:
            return app.extensions["sqlalchemy"]
        app.config.setdefault("SQLALCHEMY_DATABASE_URI", "sqlite:///llm_logs.sqlite3")
        db = SQLAlchemy()
        db.init_app(app)
        return db


def flush(timeout: float | None = None) -> bool:
    """Wait until the traces and spans recorded so far are stored.

    Uses the current app, or the app initialised last. Call it before a
    short-lived process exits without ``atexit`` (``os._exit``), or in tests.

    :param timeout: seconds to wait at most; ``None`` waits as long as it takes.
    :return: whether everything was stored in time.
    """
    return get_state().writer.flush(timeout)


def stats() -> dict[str, int]:
    """The background writer's counters for the current (or last initialised) app.

    ``queued``, ``written_spans``, ``written_traces``, ``dropped``,
    ``errors`` and ``retries``; see :meth:`.Writer.stats`.
    """
    return get_state().writer.stats()
