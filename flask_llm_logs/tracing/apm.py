"""The host's OpenTelemetry span a trace starts in (its APM's request trace, say).

Read once per trace, on the caller's thread, and only when the host has
imported OpenTelemetry's API (:data:`OPENTELEMETRY` in ``sys.modules``): an
app without it pays one dictionary look-up per trace. The ids are kept as
W3C ``traceparent`` writes them (32 and 16 hex digits), the form an APM's
search box and URL take.
"""

from __future__ import annotations

import sys

#: The module whose presence says the host may have a span open.
OPENTELEMETRY = "opentelemetry.trace"


def current_span() -> tuple[str | None, str | None]:
    """The trace and span id of the host's current span; ``(None, None)`` when none is."""
    try:
        context = sys.modules[OPENTELEMETRY].get_current_span().get_span_context()
    except Exception:  # a broken or partial OpenTelemetry must not stop the trace
        return None, None
    if not context.is_valid:
        return None, None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
