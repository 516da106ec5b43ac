"""The trace of work done outside any trace: one per request, or one per call.

With ``LLM_LOGS_AUTO_TRACE = "request"`` every LLM call (and span) a request
makes outside an explicit ``trace`` joins one automatic trace named after
the route (``POST /chat/<int:id>``), made by the first of them, so a request
that calls no LLM stores nothing. It lives on :data:`flask.g`, which the
request's threads (``copy_context_to``) and async views share, and ends
when the request is torn down, or, for a streamed response, when the server
closes it once sent (a teardown runs as the view returns, and again after a
``stream_with_context`` generator). Outside a request, and with ``"call"``,
each call gets an automatic trace of its own.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from flask import Response
from flask import g
from flask import has_request_context

from . import request_context
from .context import ActiveTrace
from .context import current_frame
from .recorder import AUTO_TRACE_PREFIX
from .recorder import Recording
from .recorder import announce_trace
from .recorder import end_trace
from .recorder import log_recorder_error
from .recorder import recording
from .recorder import start_trace

#: Where the request's trace and its ``perf_counter`` start wait on ``g``.
_KEY = "_llm_logs_request_trace"
#: Set on ``g`` when the response streams: its closing ends the trace, not a teardown.
_STREAMED = "_llm_logs_request_streamed"


def automatic_trace(name: str, how: Recording, announce: bool = True) -> tuple[ActiveTrace, bool]:
    """The trace for ``name`` run outside any trace, and whether ``name`` owns (ends) it.

    ``announce`` false leaves the ``running`` record of the request's trace
    to its first span sent (see :func:`request_trace`).
    """
    in_request = has_request_context()  # asked once, for the trace's request context too
    if in_request and how.settings is not None and how.settings.trace_per_request:
        return request_trace(how, announce), False
    trace = start_trace(
        AUTO_TRACE_PREFIX + name, None, announce=False, how=how, in_request=in_request
    )
    return trace, True


def request_trace(how: Recording, announce: bool = True) -> ActiveTrace:
    """The current request's automatic trace, made by its first caller (inside a request).

    The trace is made ``unannounced``: an LLM call leaves its ``running``
    record to the first span of the trace sent, which carries it to the writer
    (one record fewer to build and queue on the host's call); ``announce``
    sends it now if no span has (``span()``, ``update_current_trace()``).
    ``how`` is what :func:`recording` said a moment ago, with recording on.
    """
    # ``g``'s attributes as a dict, looked up once: each use of the proxy looks
    # ``g`` up again, and its ``get``/``setdefault`` are Python methods around these.
    namespace: dict[str, Any] = vars(g._get_current_object())
    entry: tuple[ActiveTrace, float] | None = namespace.get(_KEY)
    if entry is None:
        assert how.settings is not None
        context = request_context.read(how.settings, how.app)
        made = start_trace(context.route, None, announce=False, how=how, context=context)
        made.unannounced = True
        # Threads of one request may race here: one trace wins.
        entry = namespace.setdefault(_KEY, (made, time.perf_counter()))
    trace = entry[0]
    if announce and trace.unannounced:
        trace.unannounced = False
        announce_trace(trace, checked=True)  # ``how`` was read just now: no need to ask again
    return trace


def current_trace() -> ActiveTrace | None:
    """The trace work done here joins: the open one, or the request's; ``None`` if neither."""
    frame = current_frame()
    if frame is not None:
        return frame.trace
    how = recording()
    if how.writer is None or how.settings is None or not how.settings.trace_per_request:
        return None
    return request_trace(how) if has_request_context() else None


def end_with_streamed_response(response: Response) -> Response:
    """Have a streamed response's closing end the request's trace (an ``after_request``)."""
    try:
        if response.is_streamed:
            setattr(g, _STREAMED, True)
            # ``g`` itself, not the proxy: no app context is left when the server closes.
            namespace = g._get_current_object()
            response.call_on_close(functools.partial(_end, namespace, None))
    except Exception:
        log_recorder_error()
    return response


def end_request_trace(error: BaseException | None = None) -> None:
    """End the request's automatic trace, if it has one and no stream does (a teardown).

    A view that raised ends it with its error at once, streamed or not
    (Flask's error response counts as streamed).
    """
    if error is not None or not g.get(_STREAMED):
        _end(g, error)


def _end(namespace: Any, error: BaseException | None) -> None:
    try:
        entry: tuple[ActiveTrace, float] | None = namespace.pop(_KEY, None)
        if entry is not None:
            end_trace(*entry, error)
    except Exception:
        log_recorder_error()
