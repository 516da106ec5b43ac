"""The host's OpenTelemetry span a trace starts in (its APM's request trace, say).

Read once per trace, on the caller's thread, and only when the host has
imported OpenTelemetry's API (:data:`OPENTELEMETRY` in ``sys.modules``): an
app without it pays one dictionary look-up per trace. The ids are kept as
W3C ``traceparent`` writes them (32 and 16 hex digits), the form an APM's
search box and URL take.
"""

from __future__ import annotations

import sys
import time
import uuid
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


def current_span() -> tuple[str | None, str | None]:
    """The trace and span id of the host's current span; ``(None, None)`` when none is."""
    try:
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
