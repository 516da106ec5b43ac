"""What the caller's thread hands to the background writer.

A record is made once, when a trace starts or ends or a span ends, and never
changed afterwards: the writer may read it on another thread at any time.
That is a rule, not enforced: ``frozen=True`` makes each record about 4 µs
slower to build (every field goes through ``object.__setattr__``), on the
host's thread, for every LLM call. The exceptions are a span's pending
``response`` (read into the span, and its metadata, with the request's
parameters) and the trace it ``announces`` (a live trace, which
``update_current_trace`` may still change: its record is made from it as it
is then): the writer's thread does both once the span is in its hands,
before anything else reads it.
Fields may still hold SDK objects (responses, messages); turning them into
JSON, pricing, redaction and rollups happen in the writer, off the host's
LLM call. Times are seconds since the epoch, as :func:`time.time` gives
them: in the real loop of an LLM call that costs 0.4 µs, where
``datetime.now(timezone.utc)`` costs 2.8 µs; the writer makes the datetimes.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Protocol


class AutomaticTrace(Protocol):
    """What an automatic trace's row is made of (``context.ActiveTrace``, read-only)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def started_at(self) -> float: ...
    @property
    def name(self) -> str: ...
    @property
    def metadata(self) -> Mapping[str, Any]: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def session_id(self) -> str | None: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def environment(self) -> str | None: ...
    @property
    def apm_trace_id(self) -> str | None: ...
    @property
    def apm_span_id(self) -> str | None: ...


class PendingResponse(Protocol):
    """An LLM call's result, read on the writer's thread (``instrumentation.calls``)."""

    def fill(self, span: SpanRecord) -> Sequence[SpanRecord]:
        """Put the result's outcome in ``span``; the spans of its tool calls. Never raises."""


#: Span metadata: the variables a prompt was built with, kept (and redacted) with the content.
PROMPT_VARIABLES = "prompt_variables"


@dataclasses.dataclass(slots=True)
class TraceRecord:
    """A trace's state; sent when it starts (``running``) and when it ends.

    The writer upserts on ``id``, so the end record completes the row the
    start record made, whichever lands first. Token, cost and span-count
    rollups are not carried here: the writer derives them from the stored
    spans, which keeps them right when spans arrive late.
    """

    id: uuid.UUID
    name: str
    started_at: float
    status: str = "running"  # running, completed, error
    completed_at: float | None = None
    duration_ms: float | None = None
    error: str | None = None
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    prompt_version_id: int | None = None
    user_id: str | None = None
    session_id: str | None = None
    tags: Sequence[str] = ()
    environment: str | None = None
    #: The host's OpenTelemetry span the trace started in (hex, as W3C
    #: ``traceparent`` writes them): the export makes the trace its child.
    apm_trace_id: str | None = None
    apm_span_id: str | None = None

    @property
    def trace_id(self) -> uuid.UUID:
        """The trace this record belongs to, named as on a span (the writer routes by it)."""
        return self.id


@dataclasses.dataclass(slots=True)
class SpanRecord:
    """A finished span. ``cost`` left ``None`` is priced by the writer."""

    id: uuid.UUID
    trace_id: uuid.UUID
    parent_id: uuid.UUID | None
    name: str
    started_at: float
    kind: str = "custom"  # llm, tool, custom
    status: str = "completed"  # completed, error
    completed_at: float | None = None
    duration_ms: float | None = None
    error: str | None = None
    operation: str | None = None
    model: str | None = None
    provider: str | None = None
    input: Any = None
    output: Any = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    #: Prompt tokens written to the provider's cache (billed apart by Anthropic
    #: and OpenAI); ``input_tokens`` counts them too.
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost: float | None = None
    time_to_first_token_ms: float | None = None
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: Set on the span of an automatic trace (an LLM call outside any trace):
    #: the writer makes the trace's row from this span and this trace (which
    #: nothing changes once the call ended), which saves building and
    #: queueing a second record on the host's LLM call.
    automatic: AutomaticTrace | None = None
    #: Set on the first span of a request's automatic trace sent by an LLM call
    #: (``ActiveTrace.unannounced``, ``tracing.request_trace``): the writer
    #: makes the trace's ``running`` record from this trace, before the span,
    #: which saves building and queueing it on the host's LLM call; ``None``
    #: once made.
    announces: AutomaticTrace | None = None
    #: An LLM call's result not read yet: the writer has it fill in the
    #: span's outcome, and adds its tool-call children, before anything else
    #: sees the span (see ``LlmCall.end_later``); ``None`` once read.
    response: PendingResponse | None = None

    def automatic_trace(self) -> TraceRecord:
        """The final record of the automatic trace this span is the whole of (the
        trace's id and start are the span's: the call made it as it started)."""
        trace = self.automatic
        assert trace is not None
        return trace_record(
            trace,
            status=self.status,
            completed_at=self.completed_at,
            duration_ms=self.duration_ms,
            error=self.error,
            metadata=trace.metadata,
            prompt_version_id=self.metadata.get("prompt_version_id"),
        )


def trace_record(trace: AutomaticTrace, **fields: Any) -> TraceRecord:
    """A record of ``trace`` as it is now; ``fields`` the rest (its end, its metadata)."""
    return TraceRecord(
        id=trace.id,
        name=trace.name,
        started_at=trace.started_at,
        user_id=trace.user_id,
        session_id=trace.session_id,
        tags=list(trace.tags),
        environment=trace.environment,
        apm_trace_id=trace.apm_trace_id,
        apm_span_id=trace.apm_span_id,
        **fields,
    )


def running_record(trace: AutomaticTrace) -> TraceRecord:
    """The ``running`` record of ``trace``, which makes its row show while it runs."""
    return trace_record(trace, metadata=dict(trace.metadata))


@dataclasses.dataclass(slots=True)
class ScoreRecord:
    """A score of a trace or of one of its spans, checked by ``score()`` before it is made."""

    id: uuid.UUID
    #: ``None`` only for a span scored outside any trace (see ``span_decides``).
    trace_id: uuid.UUID | None
    name: str
    created_at: float
    span_id: uuid.UUID | None = None
    #: The span was scored without its trace: the stored span's trace wins over
    #: ``trace_id`` (the trace current when scoring, a guess).
    span_decides: bool = False
    value: float | None = None
    label: str | None = None
    comment: str | None = None
    source: str = "api"
    author: str | None = None


Record = TraceRecord | SpanRecord | ScoreRecord


class Deferred:
    """Records the writer makes itself, from what the caller's thread handed over.

    For work too heavy for the host's thread: ``otel.ingest`` hands over the
    OpenTelemetry spans of a trace as they ended, and the writer's thread
    reads their attributes and builds the tree (:meth:`records`) before the
    batch is exported and stored. Routed by ``trace_id``, like the records
    it becomes, so it is stored in order with the other records of its trace.
    """

    __slots__ = ("trace_id",)

    def __init__(self, trace_id: uuid.UUID) -> None:
        self.trace_id = trace_id

    def records(self) -> Sequence[TraceRecord | SpanRecord]:
        """The records to store; called once, on the writer's thread. May raise
        (the writer drops it and counts it)."""
        raise NotImplementedError


#: What :meth:`Writer.submit <.writer.Writer.submit>` takes.
Submitted = Record | Deferred
