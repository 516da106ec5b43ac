"""The plumbing the public tracing API and the SDK integrations share.

:mod:`.api` (``trace``/``span``/``tool``) and every module of
:mod:`flask_llm_logs.instrumentation` record through these functions: how
the current app records, starting and ending a trace, copying what the
caller may change later, and logging (never raising) a recorder's own
failure. Private: nothing here is public API.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

from flask import has_request_context

from ..log import get_logger
from ..models.base import new_id
from ..state import get_state
from . import apm
from . import request_context
from .context import ActiveTrace
from .records import running_record
from .records import trace_record

if TYPE_CHECKING:
    from flask import Flask

    from ..config import Settings
    from .writer import Writer

#: Prefix of the traces made for LLM calls and spans outside any trace.
AUTO_TRACE_PREFIX = "auto:"


#: Seconds between two warnings about recorder failures; the rest go to debug.
WARNING_INTERVAL = 60.0
_last_warning = float("-inf")


def log_recorder_error() -> None:
    """A recording step failed: say so (once a minute) and carry on with the host's work."""
    global _last_warning
    now = time.monotonic()
    level = logging.DEBUG
    if now - _last_warning >= WARNING_INTERVAL:
        _last_warning = now
        level = logging.WARNING
    get_logger().log(level, "flask-llm-logs: could not record a span", exc_info=True)


def error_message(error: BaseException) -> str:
    """How an exception is stored: its type, then its message."""
    return f"{type(error).__name__}: {error}"


def snapshot(value: Any) -> Any:
    """A shallow copy of a dict or list, so the app mutating it later (the
    next turn appended to ``messages``) does not change what is stored."""
    if type(value) is dict:
        return value.copy()
    if type(value) is list or type(value) is tuple:
        return [item.copy() if type(item) is dict else item for item in value]
    return value


class Recording(NamedTuple):
    """How the current app records, asked once when a trace starts."""

    #: The writer to record with; ``None``: record nothing.
    writer: Writer | None
    #: Whether inputs and outputs are kept (``LLM_LOGS_CAPTURE_CONTENT``).
    capture_content: bool
    #: Whether the app records LLM calls (``LLM_LOGS_AUTO_INSTRUMENT``: the SDK
    #: is patched for the whole process once any app asks for it).
    llm_calls: bool
    #: The app's settings: environment, user and session, automatic traces.
    settings: Settings | None
    #: The app (the current one, when there is one): a request's trace asks it
    #: whether Flask-Login runs, without a look-up through ``current_app``.
    app: Flask | None


#: Recording nothing: recording off, or no app uses the extension.
NOT_RECORDING = Recording(None, False, False, None, None)


def recording() -> Recording:
    """How the current app (or the app initialised last) records."""
    try:
        state = get_state()
    except RuntimeError:
        # Not initialised, or the current app does not use the extension.
        return NOT_RECORDING
    try:
        enabled, capture_content = state.recording_switches()
        if not enabled:
            return NOT_RECORDING
        settings = state.settings
        return Recording(
            state.writer, capture_content, settings.auto_instrument, settings, state.app
        )
    except Exception:
        # A switch set at runtime to a value that is not one: the host's
        # call goes on unrecorded, and the log says which key is wrong.
        log_recorder_error()
        return NOT_RECORDING


def tag_list(tags: Iterable[str] | None, argument: str = "tags") -> list[str]:
    """``tags`` as the list a trace stores, checked: a string alone would become its letters."""
    if tags is None:
        return []
    if isinstance(tags, str) or not all(isinstance(tag, str) for tag in tags):
        raise ValueError(f"{argument}: must be a list of strings, got {tags!r}")
    return list(tags)


def start_trace(
    name: str,
    metadata: Mapping[str, Any] | None,
    *,
    announce: bool,
    how: Recording | None = None,
    in_request: bool | None = None,
    context: request_context.RequestContext | None = None,
    user_id: str | int | None = None,
    session_id: str | int | None = None,
    tags: Iterable[str] | None = None,
) -> ActiveTrace:
    """A new outermost trace; ``announce`` sends its ``running`` record now.

    Automatic traces are not announced: their only record is sent at the
    end (an LLM call's span carries it, see ``SpanRecord.automatic``), so
    the LLM call's path builds and queues one record. ``how`` is what
    :func:`recording` said, and ``in_request`` what
    :func:`flask.has_request_context` said, when the caller already asked
    them (an LLM call's path asks each once). Inside a request, the trace
    takes the request's route, endpoint, user and session (see
    :mod:`.request_context`; ``context`` when the caller read them already);
    ``user_id`` and ``session_id`` given here win over the app's.
    """
    writer, capture, llm_calls, settings, app = how or recording()
    trace = ActiveTrace(
        id=new_id(),
        name=name,
        started_at=time.time(),
        metadata=dict(metadata) if metadata else {},
        writer=writer,
        capture_content=capture,
        llm_calls=llm_calls,
    )
    if tags is not None:
        trace.tags = tag_list(tags)
    if writer is not None and settings is not None:
        trace.environment = settings.environment
        if apm.OPENTELEMETRY in sys.modules:  # the host uses OpenTelemetry: a dict look-up
            trace.apm_trace_id, trace.apm_span_id = apm.current_span()
        if context is None and (has_request_context() if in_request is None else in_request):
            context = request_context.read(settings, app)
        if context is not None:
            trace.metadata = {**context.attributes, **trace.metadata}
            trace.user_id, trace.session_id = context.user_id, context.session_id
    if user_id is not None:
        trace.user_id = str(user_id)
    if session_id is not None:
        trace.session_id = str(session_id)
    if announce:
        announce_trace(trace)
    return trace


def announce_trace(trace: ActiveTrace, checked: bool = False) -> None:
    """Send the ``running`` record of ``trace``, so it shows while it runs.

    ``checked``: the caller read ``LLM_LOGS_ENABLED`` a moment ago
    (:func:`recording`), see ``Writer.submit``.
    """
    if trace.writer is not None:
        trace.writer.submit(running_record(trace), checked)


def end_trace(trace: ActiveTrace, started: float, error: BaseException | None) -> None:
    """Send the final record of ``trace``; ``started`` is its ``perf_counter``.

    ``error`` marks the trace as failed.
    """
    if trace.writer is None:
        return
    trace.writer.submit(
        trace_record(
            trace,
            status="completed" if error is None else "error",
            completed_at=time.time(),
            duration_ms=(time.perf_counter() - started) * 1000,
            error=None if error is None else error_message(error),
            metadata=trace.metadata.copy(),
            prompt_version_id=trace.prompt_version_id,
        )
    )
