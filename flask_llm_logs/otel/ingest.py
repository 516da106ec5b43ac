"""Spans of other instrumentations (LangChain, LlamaIndex, DSPy, openai-v2...) into our traces.

:class:`LlmLogsSpanProcessor` is added to the host's ``TracerProvider``. It
reads three dialects of attributes: the OpenTelemetry GenAI conventions
(``gen_ai.*``, as ``opentelemetry-instrumentation-openai-v2`` writes them),
OpenInference (``openinference.span.kind``, ``llm.*``, ``input.value``,
``output.value``) and OpenLLMetry (``traceloop.span.kind``,
``llm.request.type``, ``gen_ai.prompt.N.*``). A span that describes LLM
work (an LLM call, a tool, a chain, an agent, a retriever) becomes one of
our spans; any other span is ignored unless it sits between two such spans
of one trace, where it becomes a custom step so the tree stays whole.

Which spans sit between which is only known once the spans around them
ended, so a trace's spans wait in memory until the trace's local root (the
span without a parent in this process) ends; then they go to the writer in
one go. The thread that ends a span is the host's (its LLM call's), so it
only notes the span, as the SDK handed it over (a ``ReadableSpan``, which
no longer changes), and whether it has LLM meaning; reading the
attributes, building the tree and the trace's record happen on the
writer's thread (:class:`~flask_llm_logs.tracing.records.Deferred`). A
trace's spans with no LLM meaning that end before its first LLM span are
not kept. Ids come from the OpenTelemetry ones, so a span sent twice is
stored once.

One call recorded twice, by the other instrumentation and by ours, is
stored once: an LLM call of ours made while a span of a GenAI
instrumentation is current joins that span's trace, as its child (see
:func:`join`), and the other instrumentation's LLM span becomes a custom
step around it; the tokens count once.

Nothing here raises into the host's OpenTelemetry pipeline: a failure is
logged like any recorder failure and the span is skipped. A trace whose
spans cannot be read on the writer's side is logged, dropped and counted
there (``stats()["dropped"]``).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Flask
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import Span
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import StatusCode

from ..state import State
from ..state import get_state
from ..tracing import apm
from ..tracing.recorder import log_recorder_error
from ..tracing.records import Deferred
from ..tracing.records import SpanRecord
from ..tracing.records import TraceRecord
from .export import SCOPE

#: Traces waiting for their local root at most; the oldest is dropped past it.
MAX_OPEN_TRACES = 10_000
#: Words in instrumentation scope names that say "GenAI": the spans our own
#: LLM calls may join (an HTTP server's span is never one).
GENAI_SCOPES = (
    "openinference",
    "genai",
    "openai",
    "anthropic",
    "langchain",
    "llama_index",
    "llamaindex",
    "dspy",
    "crewai",
    "bedrock",
    "vertexai",
    "google_generativeai",
    "mistral",
    "cohere",
    "groq",
    "ollama",
    "litellm",
    "traceloop",
)

#: OpenInference's span kinds, and ours (the original kept in metadata).
OPENINFERENCE_KINDS = {
    "LLM": "llm",
    "EMBEDDING": "llm",
    "TOOL": "tool",
    "CHAIN": "custom",
    "AGENT": "custom",
    "RETRIEVER": "custom",
    "RERANKER": "custom",
    "GUARDRAIL": "custom",
    "EVALUATOR": "custom",
    "PROMPT": "custom",
}
#: ``gen_ai.operation.name`` values, and our kind.
GENAI_OPERATIONS = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "llm",
    "execute_tool": "tool",
    "invoke_agent": "custom",
    "create_agent": "custom",
    "invoke_workflow": "custom",
    "retrieval": "custom",
}
#: OpenLLMetry's ``traceloop.span.kind``, and our kind.
TRACELOOP_KINDS = {"workflow": "custom", "task": "custom", "agent": "custom", "tool": "tool"}

#: Attribute names per field, first found wins: GenAI, OpenInference, OpenLLMetry.
FIELDS: dict[str, tuple[str, ...]] = {
    "model": ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name"),
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    "input_tokens": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
    ),
    "output_tokens": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    ),
    "cached_tokens": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ),
    "cache_write_tokens": (
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "llm.token_count.prompt_details.cache_write",
    ),
    "reasoning_tokens": (
        "gen_ai.usage.reasoning.output_tokens",
        "llm.token_count.completion_details.reasoning",
    ),
    "cost": ("llm.cost.total",),
}
INPUT_ATTRIBUTES = ("gen_ai.input.messages", "gen_ai.tool.call.arguments", "input.value")
OUTPUT_ATTRIBUTES = ("gen_ai.output.messages", "gen_ai.tool.call.result", "output.value")
#: Attributes kept as span metadata (the request's parameters and the like).
METADATA_PREFIXES = ("gen_ai.request.", "gen_ai.response.", "gen_ai.tool.", "error.type")


#: The attributes that give a span LLM meaning (see :func:`kind_of`).
KIND_ATTRIBUTES = frozenset(
    {
        "openinference.span.kind",
        "gen_ai.operation.name",
        "traceloop.span.kind",
        "llm.request.type",
        "gen_ai.system",
        "gen_ai.request.model",
    }
)


def kind_of(attributes: Mapping[str, Any]) -> tuple[str, str] | None:
    """Our kind of a span and what its instrumentation calls it; ``None``: no LLM meaning.

    Run on the host's thread for every span that ends: the names present are
    found in one pass over the span's, since each look-up of a missing name
    in the SDK's attributes raises and catches a ``KeyError`` (a span of the
    host's HTTP server costs 0.5 µs so, against 8 µs asked name by name).
    """
    present = KIND_ATTRIBUTES.intersection(attributes)
    if not present:
        return None
    if "openinference.span.kind" in present:
        word = attributes["openinference.span.kind"]
        if isinstance(word, str) and word.upper() in OPENINFERENCE_KINDS:
            return OPENINFERENCE_KINDS[word.upper()], word.lower()
    if "gen_ai.operation.name" in present:
        word = attributes["gen_ai.operation.name"]
        if isinstance(word, str) and word in GENAI_OPERATIONS:
            return GENAI_OPERATIONS[word], word
    if "traceloop.span.kind" in present:
        word = attributes["traceloop.span.kind"]
        if isinstance(word, str) and word in TRACELOOP_KINDS:
            return TRACELOOP_KINDS[word], word
    if "llm.request.type" in present:  # OpenLLMetry's LLM spans
        word = attributes["llm.request.type"]
        if isinstance(word, str):
            return "llm", word
    if "gen_ai.system" in present or "gen_ai.request.model" in present:
        return "llm", "chat"
    return None


def trace_uuid(trace_id: int) -> uuid.UUID:
    """Our trace id for an OpenTelemetry trace."""
    return uuid.UUID(int=trace_id)


def span_uuid(trace_id: int, span_id: int) -> uuid.UUID:
    """Our span id for an OpenTelemetry span: unique within its trace and across traces."""
    return uuid.UUID(int=((trace_id >> 64) << 64) | span_id)


@dataclasses.dataclass(slots=True)
class _Trace:
    """A trace's spans so far, as they ended, until its local root ends."""

    #: Each ended span with our kind of it (``None``: no LLM meaning).
    spans: list[tuple[ReadableSpan, tuple[str, str] | None]] = dataclasses.field(
        default_factory=list
    )
    #: Spans our own LLM calls joined: they have LLM work under them.
    joined: set[int] = dataclasses.field(default_factory=set)


class LlmLogsSpanProcessor(SpanProcessor):
    """Records the spans of other instrumentations; see the module docstring.

    ::

        provider.add_span_processor(LlmLogsSpanProcessor())

    :param app: the app whose writer and settings to use; by default the
        current app, else the app initialised last (spans often end outside
        any app context).
    """

    def __init__(self, app: Flask | None = None) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._traces: collections.OrderedDict[int, _Trace] = collections.OrderedDict()
        #: GenAI spans started and not ended: what our own LLM calls may join.
        #: Set and popped without the lock (one dictionary operation each); an
        #: ended span is popped before its trace is handed over under the lock,
        #: which :meth:`join` holds while it reads.
        self._open: dict[int, int] = {}
        #: Whether spans of an instrumentation scope, by name, are GenAI ones.
        self._genai_scopes: dict[str, bool] = {}
        apm.ingest = self

    # -- the host's pipeline -------------------------------------------------
    #
    # Both run on the thread that starts or ends the span: the host's LLM
    # call. They only note the span; reading its attributes into our records
    # happens on the writer's thread (see :class:`_Ingested`).

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            scope = span.instrumentation_scope
            name = "" if scope is None else scope.name
            genai = self._genai_scopes.get(name)
            if genai is None:
                genai = self._genai_scopes[name] = _is_genai(name)
            if genai:
                context = span.get_span_context()
                self._open[context.span_id] = context.trace_id
        except Exception:
            log_recorder_error()

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._end(span)
        except Exception:
            log_recorder_error()

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    # -- our own LLM calls ---------------------------------------------------

    def join(self, trace_id: int, span_id: int) -> tuple[uuid.UUID, uuid.UUID] | None:
        """Our trace and parent ids for a call of ours made in the GenAI span ``span_id``;
        ``None`` if it is not one (then the call records as usual)."""
        with self._lock:  # so the span cannot end between the two
            if self._open.get(span_id) != trace_id:
                return None
            self._traces.setdefault(trace_id, _Trace()).joined.add(span_id)
        return trace_uuid(trace_id), span_uuid(trace_id, span_id)

    # -- the spans -----------------------------------------------------------

    def _end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None:
            return
        self._open.pop(context.span_id, None)
        scope = span.instrumentation_scope
        if scope is not None and scope.name == SCOPE:
            return  # our own export, through a provider that also feeds us
        kind = kind_of(span.attributes or {})
        parent = span.parent
        local_root = parent is None or parent.is_remote
        trace_id = context.trace_id
        with self._lock:
            waiting = self._traces.get(trace_id)
            if waiting is None:
                if kind is None:
                    return  # no LLM work seen in this trace so far: not kept
                waiting = _Trace()
                if not local_root:
                    self._traces[trace_id] = waiting
                    if len(self._traces) > MAX_OPEN_TRACES:
                        self._traces.popitem(last=False)
            elif local_root:
                del self._traces[trace_id]
            waiting.spans.append((span, kind))
        if not local_root:
            return
        state = self._state()
        if state is not None and state.writer is not None:
            state.writer.submit(_Ingested(trace_id, waiting, state))

    def _state(self) -> State | None:
        try:
            return get_state(self._app)
        except RuntimeError:
            return None


def _is_genai(scope: str) -> bool:
    """Whether an instrumentation scope's spans are GenAI ones: what our own calls may join."""
    name = scope.lower()
    return name != SCOPE and any(word in name for word in GENAI_SCOPES)


@dataclasses.dataclass(slots=True)
class _Node:
    """An ended span of the trace: a record if it has LLM meaning, else its place."""

    parent: int | None
    record: SpanRecord
    meaningful: bool
    below: bool = False  # a meaningful span (or a call of ours) is under it


class _Ingested(Deferred):
    """A trace whose local root ended, as the writer's thread turns it into our records."""

    __slots__ = ("otel_trace_id", "state", "trace")

    def __init__(self, trace_id: int, trace: _Trace, state: State) -> None:
        super().__init__(trace_uuid(trace_id))
        self.otel_trace_id = trace_id
        self.trace = trace
        #: The app's settings, read here: ``LLM_LOGS_CAPTURE_CONTENT`` as it is
        #: when the writer takes the trace.
        self.state = state

    def records(self) -> list[SpanRecord | TraceRecord]:
        capture = self.state.capture_content
        nodes: dict[int, _Node] = {}
        for span, kind in self.trace.spans:
            context = span.context
            parent = span.parent
            assert context is not None
            nodes[context.span_id] = _Node(
                parent=None if parent is None or parent.is_remote else parent.span_id,
                record=_record(span, kind, capture),
                meaningful=kind is not None,
            )
        for span_id, node in nodes.items():
            if node.meaningful or span_id in self.trace.joined:
                _mark_above(nodes, node)
        environment = self.state.settings.environment
        return _resolve(self.otel_trace_id, nodes, self.trace.joined, environment)


def _mark_above(nodes: Mapping[int, _Node], node: _Node) -> None:
    """Mark the spans above ``node`` as having LLM work under them."""
    parent = node.parent
    while parent is not None and parent in nodes:
        above = nodes[parent]
        if above.below:
            return  # marked from here up already
        above.below = True
        parent = above.parent


def _resolve(
    trace_id: int, nodes: dict[int, _Node], joined: set[int], environment: str | None
) -> list[SpanRecord | TraceRecord]:
    """The records of a trace whose local root ended: the spans kept and the trace."""
    for span_id, node in nodes.items():
        if span_id in joined:
            node.below = True
            if node.record.kind == "llm":  # our own call inside records the LLM call
                node.record.kind = "custom"
                node.record.input_tokens = node.record.output_tokens = None
                node.record.cached_tokens = node.record.cache_write_tokens = None
                node.record.reasoning_tokens = None
                node.record.cost = 0.0

    def meaningful_above(node: _Node) -> bool:
        parent = node.parent
        while parent is not None and parent in nodes:
            if nodes[parent].meaningful:
                return True
            parent = nodes[parent].parent
        return False

    kept = {
        span_id
        for span_id, node in nodes.items()
        if node.meaningful or (node.below and meaningful_above(node))
    }
    if not kept and not joined:
        return []
    records: list[SpanRecord | TraceRecord] = []
    top: list[SpanRecord] = []
    for span_id in kept:
        node = nodes[span_id]
        parent = node.parent
        while parent is not None and parent not in kept:
            parent = nodes[parent].parent if parent in nodes else None
        node.record.parent_id = None if parent is None else span_uuid(trace_id, parent)
        if parent is None:
            top.append(node.record)
        records.append(node.record)
    named = min(top, key=lambda r: r.started_at) if top else _root_record(nodes)
    started = min((r.started_at for r in top), default=named.started_at)
    completed = max((r.completed_at or r.started_at for r in top), default=named.completed_at)
    failed = next((r for r in top if r.status == "error"), None)
    root_parent = next(
        (n.parent for n in nodes.values() if n.record is named and n.parent is not None), None
    )
    records.append(
        TraceRecord(
            id=trace_uuid(trace_id),
            name=named.name,
            started_at=started,
            status="error" if failed is not None else "completed",
            completed_at=completed,
            duration_ms=None if completed is None else (completed - started) * 1000,
            error=None if failed is None else failed.error,
            metadata={"otel.scope": named.metadata.get("otel.scope")},
            environment=environment,
            apm_trace_id=format(trace_id, "032x"),
            apm_span_id=None if root_parent is None else format(root_parent, "016x"),
        )
    )
    return records


def _root_record(nodes: Mapping[int, _Node]) -> SpanRecord:
    return next(node.record for node in nodes.values() if node.parent is None)


def _first(attributes: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attributes.get(name)
        if value is not None:
            return value
    return None


def _content(attributes: Mapping[str, Any], names: tuple[str, ...], prefix: str) -> Any:
    value = _first(attributes, names)
    if value is None:  # OpenLLMetry: gen_ai.prompt.0.role, gen_ai.prompt.0.content, ...
        flat = {k[len(prefix) :]: v for k, v in attributes.items() if k.startswith(prefix)}
        return flat or None
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _record(span: ReadableSpan, kind: tuple[str, str] | None, capture: bool) -> SpanRecord:
    attributes = span.attributes or {}
    context = span.context
    assert context is not None
    started = (span.start_time or time.time_ns()) / 1e9
    completed = (span.end_time or time.time_ns()) / 1e9
    error = None
    if span.status.status_code is StatusCode.ERROR:
        error = span.status.description or str(attributes.get("error.type") or "error")
        for event in span.events:
            if event.name == "exception" and event.attributes:
                kind_name = event.attributes.get("exception.type", "")
                error = f"{kind_name}: {event.attributes.get('exception.message', '')}"
                break
    metadata: dict[str, Any] = {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in attributes.items()
        if key.startswith(METADATA_PREFIXES)
    }
    scope = span.instrumentation_scope
    metadata["otel.scope"] = None if scope is None else scope.name
    metadata["otel.span_id"] = format(context.span_id, "016x")
    our_kind = "custom" if kind is None else kind[0]
    if kind is not None:
        metadata["otel.kind"] = kind[1]
    fields = {name: _first(attributes, names) for name, names in FIELDS.items()}
    operation = attributes.get("gen_ai.operation.name")
    if our_kind == "llm" and not isinstance(operation, str):
        operation = "embeddings" if kind and kind[1] in ("embedding", "embeddings") else "chat"
    if our_kind == "llm":
        metadata.setdefault("gen_ai.operation.name", operation)
    cost = fields["cost"]
    return SpanRecord(
        id=span_uuid(context.trace_id, context.span_id),
        trace_id=trace_uuid(context.trace_id),
        parent_id=None,  # set once the trace's tree is known
        name=span.name,
        kind=our_kind,
        started_at=started,
        status="error" if error is not None else "completed",
        completed_at=completed,
        duration_ms=(completed - started) * 1000,
        error=error,
        operation=operation if our_kind == "llm" and isinstance(operation, str) else None,
        model=fields["model"] if isinstance(fields["model"], str) else None,
        provider=fields["provider"] if isinstance(fields["provider"], str) else None,
        input=_content(attributes, INPUT_ATTRIBUTES, "gen_ai.prompt.") if capture else None,
        output=_content(attributes, OUTPUT_ATTRIBUTES, "gen_ai.completion.") if capture else None,
        input_tokens=_number(fields["input_tokens"]),
        output_tokens=_number(fields["output_tokens"]),
        cached_tokens=_number(fields["cached_tokens"]),
        cache_write_tokens=_number(fields["cache_write_tokens"]),
        reasoning_tokens=_number(fields["reasoning_tokens"]),
        cost=float(cost) if isinstance(cost, (int, float)) else None,
        metadata=metadata,
    )
