"""Our traces and spans as OpenTelemetry spans, handed over on the writer's thread.

The writer hands :meth:`Exporter.export` each batch of records it takes off
its queue, before it stores them: turning them into spans is quick and in
memory, and the spans then wait in a queue of their own (see
:mod:`.delivery`), so the collector and the database never wait for each
other. The host's LLM call never runs any of this.

The spans keep our structure without a span object living across records
(a child ends, and is sent, before its parent): their ids come from ours.
A trace is a span whose OpenTelemetry trace id is our trace's UUID and
whose span id is the UUID's low 64 bits; a span's id is its UUID's low 64
bits, its parent its parent's (or the trace's). A trace started inside one
of the host's spans takes that span's trace id and becomes its child, so
the host's APM shows its LLM calls in the request's trace. The ids are
given to the SDK through the ``id_generator`` of our own ``Tracer``
(each ``get_tracer`` call makes a new one): the app's provider and its
other tracers keep theirs.

We make our own ``TracerProvider`` for ``LLM_LOGS_OTLP_ENDPOINT``, never the
global one; ``LLM_LOGS_OTEL_TRACER_PROVIDER`` hands the spans to the app's
provider and its processors instead (``exported`` then counts the spans
handed over; what its exporters lose, they count).
"""

from __future__ import annotations

import collections
import threading
import uuid
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanContext
from opentelemetry.trace import SpanKind
from opentelemetry.trace import Status
from opentelemetry.trace import StatusCode
from opentelemetry.trace import TraceFlags

from ..config import Settings
from ..log import get_logger
from ..tracing.records import Record
from ..tracing.records import SpanRecord
from ..tracing.records import TraceRecord
from ..tracing.store import ContentPolicy
from ..tracing.store import Rows
from . import attributes
from .delivery import Delivery

#: The instrumentation scope of our spans; :mod:`.ingest` ignores it, so a
#: provider that both takes our spans and feeds the ingest makes no loop.
SCOPE = "flask_llm_logs"
#: Seconds the OTLP exporter spends on one request, its own retries included.
EXPORT_TIMEOUT = 2.0
#: Traces whose host span is remembered until they end (a running trace's spans need it).
MAX_OPEN_TRACES = 10_000

_LOW_64 = (1 << 64) - 1
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def span_id_of(id: uuid.UUID) -> int:
    """The OpenTelemetry span id of our trace or span ``id``: its random low 64 bits."""
    return (id.int & _LOW_64) or 1


def host_of(record: TraceRecord) -> tuple[int, int] | None:
    """The host span's trace and span id a trace started in, if any."""
    if record.apm_trace_id is None or record.apm_span_id is None:
        return None
    return int(record.apm_trace_id, 16), int(record.apm_span_id, 16)


class _GivenIds(IdGenerator):
    """The ids of the span being made: set just before each ``start_span``, under the lock."""

    trace_id = 0
    span_id = 0

    def generate_span_id(self) -> int:
        return self.span_id

    def generate_trace_id(self) -> int:
        return self.trace_id


class Exporter:
    """Turns the writer's records into OpenTelemetry spans; see the module docstring."""

    def __init__(self, settings: Settings) -> None:
        self._policy = ContentPolicy(
            redact=settings.redact,
            pricing_provider=settings.pricing_provider,
            max_content_bytes=settings.max_content_bytes,
        )
        self._delivery: Delivery | None = None
        provider = settings.otel_tracer_provider
        if provider is None:
            exporter = OTLPSpanExporter(
                endpoint=settings.otlp_endpoint,
                headers=dict(settings.otlp_headers),
                timeout=EXPORT_TIMEOUT,
            )
            self._delivery = Delivery(exporter, settings.max_queue)
            provider = TracerProvider(resource=Resource.create())
            provider.add_span_processor(self._delivery)
            self._provider: TracerProvider | None = provider
        else:
            self._provider = None  # the app's: the app shuts it down
        self._tracer: Any = provider.get_tracer(SCOPE, schema_url=_schema_url())
        self._ids = _GivenIds()
        self._tracer.id_generator = self._ids
        self._lock = threading.Lock()
        #: Host spans of the traces that started in one, until their end record.
        self._hosts: collections.OrderedDict[uuid.UUID, tuple[int, int]] = collections.OrderedDict()
        self._handed_over = 0
        self._failed = 0

    def export(self, records: Sequence[Record], rows: Rows | None = None) -> None:
        """Make the spans of ``records`` (called by the writer's threads); never raises.

        ``rows``: the records' rows as the writer made them for the database;
        a span's content JSON and cost are taken from its row rather than
        made a second time (without one, with ``LLM_LOGS_STORE_TRACES = False``,
        they are made here).
        """
        prepared = {row["id"]: row for row in rows.spans} if rows is not None else {}
        with self._lock:
            for record in records:
                try:
                    if isinstance(record, SpanRecord):
                        self._span(record, prepared.get(record.id))
                    elif isinstance(record, TraceRecord):
                        self._trace(record)
                except Exception:
                    self._failed += 1
                    get_logger().debug("flask-llm-logs: could not export %r", record, exc_info=True)

    def _trace(self, record: TraceRecord) -> None:
        host = host_of(record)
        if record.status == "running":
            if host is not None:
                self._remember(record.id, host)
            return
        host = host or self._hosts.pop(record.id, None)
        self._emit(
            record.name,
            SpanKind.INTERNAL,
            attributes.trace_attributes(record),
            trace_id=record.id.int if host is None else host[0],
            span_id=span_id_of(record.id),
            parent_id=None if host is None else host[1],
            record=record,
        )

    def _span(self, record: SpanRecord, row: Mapping[str, Any] | None) -> None:
        values = attributes.span_attributes(record, self._policy, row)
        if record.automatic is not None:  # the trace is this span alone
            trace = record.automatic_trace()
            values = {**attributes.trace_attributes(trace), **values}
            host = host_of(trace)
            parent_id = None if host is None else host[1]
        else:
            host = self._hosts.get(record.trace_id)
            parent_id = span_id_of(record.parent_id or record.trace_id)
        self._emit(
            attributes.span_name(record),
            SpanKind.CLIENT if record.kind == "llm" else SpanKind.INTERNAL,
            values,
            trace_id=record.trace_id.int if host is None else host[0],
            span_id=span_id_of(record.id),
            parent_id=parent_id,
            record=record,
        )

    def _remember(self, trace_id: uuid.UUID, host: tuple[int, int]) -> None:
        self._hosts[trace_id] = host
        if len(self._hosts) > MAX_OPEN_TRACES:
            self._hosts.popitem(last=False)

    def _emit(
        self,
        name: str,
        kind: SpanKind,
        values: dict[str, Any],
        *,
        trace_id: int,
        span_id: int,
        parent_id: int | None,
        record: TraceRecord | SpanRecord,
    ) -> None:
        context = Context()
        if parent_id is not None:
            parent = SpanContext(trace_id, parent_id, is_remote=True, trace_flags=_SAMPLED)
            context = trace_api.set_span_in_context(trace_api.NonRecordingSpan(parent), context)
        self._ids.trace_id, self._ids.span_id = trace_id, span_id
        start = int(record.started_at * 1e9)
        if record.completed_at is not None:
            end = int(record.completed_at * 1e9)
        else:
            end = start + int((record.duration_ms or 0.0) * 1e6)
        span = self._tracer.start_span(
            name, context=context, kind=kind, attributes=values, start_time=start
        )
        if record.status == "error":
            span.set_status(Status(StatusCode.ERROR, record.error))
        span.end(end_time=max(start, end))
        self._handed_over += 1

    def stats(self) -> dict[str, int]:
        """``exported``: spans the collector took (or handed to the app's provider);
        ``export_dropped``: spans lost (the collector refused or was away past the
        retries, the export queue was full, or a record could not be made a span)."""
        if self._delivery is None:
            return {"exported": self._handed_over, "export_dropped": self._failed}
        return {
            "exported": self._delivery.exported,
            "export_dropped": self._delivery.dropped + self._failed,
        }

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the spans made so far are sent (or dropped); whether in time."""
        if self._delivery is None:
            return True
        return self._delivery.force_flush(int((30.0 if timeout is None else timeout) * 1000))

    def close(self) -> None:
        """Send what waits and stop our provider (the app's stays the app's)."""
        if self._provider is not None:
            self._provider.shutdown()


def _schema_url() -> str:
    return f"https://opentelemetry.io/schemas/{attributes.SEMCONV_VERSION}"
