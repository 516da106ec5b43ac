"""The host's OpenTelemetry span a trace starts in (its APM's request trace, say).

Read once per trace, on the caller's thread, and only when the host has
imported OpenTelemetry's API (:data:`OPENTELEMETRY` in ``sys.modules``): an
app without it pays one dictionary look-up per trace. The ids are kept as
W3C ``traceparent`` writes them (32 and 16 hex digits), the form an APM's
search box and URL take.
"""

from __future__ import annotations

import contextvars
import sys
import time
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Protocol

from .context import ActiveTrace

if TYPE_CHECKING:
    from .writer import Writer

#: The module whose presence says the host may have a span open.
OPENTELEMETRY = "opentelemetry.trace"


class Ingest(Protocol):
    """What our LLM calls ask ``otel.ingest.LlmLogsSpanProcessor`` (named here, not imported)."""

    def join(self, trace_id: int, span_id: int) -> tuple[uuid.UUID, uuid.UUID] | None: ...


#: The processor taking in other instrumentations' spans, once the app made one.
ingest: Ingest | None = None


#: Reads OpenTelemetry's current context (a mapping), found on first use.
_read_context: Callable[[], Mapping[str, object]] | None = None


def _find_context_reader() -> Callable[[], Mapping[str, object]]:
    """The ``get`` of the context variable OpenTelemetry keeps its context in.

    Being imported is not using it: ``redis`` imports OpenTelemetry's API for
    its own optional metrics, so most hosts have it loaded and no span open.
    Their context is empty, which its variable's own ``get`` tells in one C
    call, where ``get_current_span()`` runs six Python functions (every LLM
    call outside a trace starts one). The variable is OpenTelemetry's private
    attribute; without it, the public ``get_current`` does the same.
    """
    global _read_context
    context = sys.modules["opentelemetry.context"]
    variable = getattr(getattr(context, "_RUNTIME_CONTEXT", None), "_current_context", None)
    _read_context = (
        variable.get if isinstance(variable, contextvars.ContextVar) else context.get_current
    )
    return _read_context


def current_span() -> tuple[str | None, str | None]:
    """The trace and span id of the host's current span; ``(None, None)`` when none is."""
    try:
        if not (_read_context or _find_context_reader())():  # nothing current: no span
            return None, None
        context = sys.modules[OPENTELEMETRY].get_current_span().get_span_context()
    except Exception:  # a broken or partial OpenTelemetry must not stop the trace
        return None, None
    if not context.is_valid:
        return None, None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def joined_trace(
    name: str, writer: Writer, capture_content: bool, environment: str | None
) -> tuple[ActiveTrace, uuid.UUID] | None:
    """The trace and parent of an LLM call of ours made inside another instrumentation's
    GenAI span, which :data:`ingest` records: the call joins that span's trace, so the
    call is stored once (see ``otel.ingest``). ``None``: record as usual."""
    if ingest is None:
        return None
    try:
        context = sys.modules[OPENTELEMETRY].get_current_span().get_span_context()
        ids = ingest.join(context.trace_id, context.span_id) if context.is_valid else None
    except Exception:
        return None
    if ids is None:
        return None
    trace = ActiveTrace(
        id=ids[0],
        name=name,
        started_at=time.time(),
        metadata={},
        writer=writer,
        capture_content=capture_content,
        environment=environment,
    )
    return trace, ids[1]
