"""The :class:`LlmLogs` extension object: it makes each app's state and wires the features up.

This is the top of the package: it imports the features (tracing, prompts,
batches, web, cli, jobs, instrumentation) and none of them imports it; they
find the app's state in :mod:`.state`.
"""

from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from . import migrations
from . import process
from .alerts.rules import load_rules
from .batches.adapters import check_provider
from .cli import cli
from .config import ConfigurationError
from .config import Settings
from .config import load_settings
from .instrumentation import check_sdks
from .instrumentation import instrument
from .jobs import enqueue_alerts_check
from .jobs import enqueue_flush
from .jobs import enqueue_poll
from .jobs import enqueue_purge
from .prompts.labels import read_label_settings
from .prompts.rendering import RenderLimits
from .prompts.store import PromptStore
from .state import EXTENSION_KEY
from .state import State
from .state import close_read_session
from .state import get_state
from .state import register
from .tracing.context import forget_prompt_version
from .tracing.pricing import check_pricing_provider
from .tracing.request_trace import end_request_trace
from .tracing.request_trace import end_with_streamed_response
from .tracing.writer import Writer
from .web import register as register_ui

if TYPE_CHECKING:
    from .otel.export import Exporter


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
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                f"flask-llm-logs is already initialised on app {app.name!r};"
                " call init_app once per app."
            )
        settings = load_settings(app)
        check_provider(settings.batch_provider)
        check_pricing_provider(settings.pricing_provider)
        sdks = check_sdks(settings.instrument)
        alert_rules = load_rules(app.config)
        labels = read_label_settings(app.config)
        process.install_hooks()
        state = State(
            app=app,
            settings=settings,
            db=self._resolve_db(app),
            batch_handlers=collections.ChainMap({}, self._batch_handlers),
            alert_rules=alert_rules,
        )
        state.exporter = _exporter(settings)
        state.writer = Writer(
            settings,
            engine=lambda: state.engine,
            enabled=state.is_enabled,
            export=None if state.exporter is None else state.exporter.export,
        )
        state.prompt_store = PromptStore(
            lambda: state.engine,
            cache_ttl=lambda: state.prompt_cache_ttl,
            strict=lambda: state.prompt_strict,
            limits=RenderLimits(
                max_output_chars=settings.prompt_max_output_chars,
                max_partial_depth=settings.prompt_max_partial_depth,
                max_section_depth=settings.prompt_max_section_depth,
            ),
            labels=labels,
        )
        if state.exporter is not None:
            state.shutdown_hooks.append(state.exporter.close)
        state.shutdown_hooks.append(state.writer.close)
        register(state)
        app.teardown_request(forget_prompt_version)
        app.teardown_request(end_request_trace)
        app.teardown_appcontext(close_read_session)
        app.after_request(end_with_streamed_response)

        migrations.hide_tables_from_host_migrations(app)
        if settings.auto_instrument:
            instrument(sdks)
        app.cli.add_command(cli)
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
        return enqueue_flush(get_state(app), purpose)

    def enqueue_poll(self, app: Flask | None = None) -> Any:
        """Queue ``poll_batches()`` unless one is already waiting; the RQ job."""
        return enqueue_poll(get_state(app))

    def enqueue_purge(self, app: Flask | None = None) -> Any:
        """Queue ``purge_traces()`` unless one is already waiting; the RQ job.

        It deletes traces older than ``LLM_LOGS_RETENTION_DAYS``, as
        ``flask llm-logs purge`` does; see :doc:`/tracing`.
        """
        return enqueue_purge(get_state(app))

    def enqueue_alerts_check(self, app: Flask | None = None) -> Any:
        """Queue ``check_alerts()`` unless one is already waiting; the RQ job.

        It evaluates ``LLM_LOGS_ALERTS``, as ``flask llm-logs alerts check``
        does; see :doc:`/alerts`.
        """
        return enqueue_alerts_check(get_state(app))

    def _resolve_db(self, app: Flask) -> SQLAlchemy:
        if self._db is not None:
            if "sqlalchemy" not in app.extensions:
                self._db.init_app(app)
            return self._db
        if "sqlalchemy" in app.extensions:
            host_db: SQLAlchemy = app.extensions["sqlalchemy"]
            return host_db
        app.config.setdefault("SQLALCHEMY_DATABASE_URI", "sqlite:///llm_logs.sqlite3")
        db = SQLAlchemy()
        db.init_app(app)
        return db


def _exporter(settings: Settings) -> Exporter | None:
    """The OpenTelemetry export the settings ask for; its packages are imported only then."""
    if not settings.exports:
        return None
    try:
        from .otel.export import Exporter
    except ImportError as error:
        key = "LLM_LOGS_OTLP_ENDPOINT"
        if settings.otlp_endpoint is None:
            key = "LLM_LOGS_OTEL_TRACER_PROVIDER"
        raise ConfigurationError(
            key, f"needs OpenTelemetry: pip install 'flask-llm-logs[otel]' ({error})"
        ) from None
    return Exporter(settings)


def flush(timeout: float | None = None) -> bool:
    """Wait until the traces and spans recorded so far are stored (and exported).

    Uses the current app, or the app initialised last. Call it before a
    short-lived process exits without ``atexit`` (``os._exit``), or in tests.

    :param timeout: seconds to wait at most; ``None`` waits as long as it takes.
    :return: whether everything was stored in time.
    """
    state = get_state()
    deadline = None if timeout is None else time.monotonic() + timeout
    stored = state.writer.flush(timeout)
    if state.exporter is None:
        return stored
    left = None if deadline is None else max(0.0, deadline - time.monotonic())
    return state.exporter.flush(left) and stored


def stats() -> dict[str, int]:
    """The background writer's counters for the current (or last initialised) app.

    ``queued``, ``written_spans``, ``written_traces``, ``written_scores``, ``dropped``,
    ``errors`` and ``retries``; see :meth:`.Writer.stats`. With an OpenTelemetry
    export, ``exported`` and ``export_dropped`` too (see :doc:`/opentelemetry`).
    """
    state = get_state()
    counts = state.writer.stats()
    if state.exporter is not None:
        counts.update(state.exporter.stats())
    return counts
