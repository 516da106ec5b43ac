"""One instrumented LLM call, from its request to the records of its span.

:meth:`LlmCall.start` runs before the SDK sends the request and
:meth:`LlmCall.end` when the result is known (at once, or when a stream
ends). Both only read attributes and build records: serialization, pricing
and storage happen on the writer's thread, and so does reading a response
returned whole (:meth:`LlmCall.end_later`).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from ..models.base import new_id
from ..tracing import apm
from ..tracing.context import ActiveTrace
from ..tracing.context import current_frame
from ..tracing.context import pending_prompt_version
from ..tracing.context import take_prompt_variables
from ..tracing.context import take_prompt_version
from ..tracing.recorder import error_message
from ..tracing.recorder import log_recorder_error
from ..tracing.recorder import recording
from ..tracing.records import PROMPT_VARIABLES
from ..tracing.records import PendingResponse
from ..tracing.records import SpanRecord
from ..tracing.request_trace import automatic_trace
from . import extract
from .extract import CallOutcome
from .providers import provider_of_url


def http_status(error: BaseException) -> int | None:
    """The HTTP status of an SDK's API error (``status_code`` in openai's and most SDKs')."""
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


@dataclasses.dataclass(frozen=True)
class Operation:
    """How to read one kind of call: its request, its result, its stream."""

    name: str  # the span's ``operation``: chat, responses, embeddings
    otel_name: str  # ``gen_ai.operation.name``
    read_input: Callable[[Mapping[str, Any]], Any]
    wants_json: Callable[[Mapping[str, Any]], bool]
    read_outcome: Callable[[Any, bool], CallOutcome]
    #: The request's parameters as span metadata (each API names its own).
    read_metadata: Callable[[Mapping[str, Any]], dict[str, Any]] = extract.request_metadata
    #: The HTTP status of an error the call raised, if it has one.
    read_status: Callable[[BaseException], int | None] = http_status
    #: Whether the request's parameters (``read_metadata``, ``wants_json``) may be
    #: read when the call ended, on the writer's thread for a response returned
    #: whole (``LlmCall.end_later``): true where they are the top-level values of
    #: the call's own ``kwargs``. A call with one of
    #: :data:`.extract.NESTED_PARAMETERS` (objects the host may reuse and
    #: change) is read as it starts all the same.
    read_later: bool = False


def never_json(kwargs: Mapping[str, Any]) -> bool:
    return False


CHAT = Operation(
    "chat",
    "chat",
    extract.chat_input,
    extract.chat_wants_json,
    extract.chat_outcome,
    read_later=True,
)
RESPONSES = Operation(
    "responses",
    "chat",
    extract.responses_input,
    extract.responses_wants_json,
    extract.responses_outcome,
    read_later=True,
)
EMBEDDINGS = Operation(
    "embeddings",
    "embeddings",
    extract.embeddings_input,
    never_json,
    extract.embeddings_outcome,
    read_later=True,
)


def provider_of(resource: Any) -> str:
    """The provider behind the client of ``resource``; see :mod:`.providers`.

    Recent ``openai`` SDKs keep the URL in ``_configured_base_url`` behind two
    properties and an import run on every read of ``_base_url``; read it
    directly when it is there (``anthropic``'s ``_base_url`` is the attribute).
    """
    client = resource._client
    return provider_of_url(client.__dict__.get("_configured_base_url") or client._base_url)


class LlmCall:
    """The span of one call; see the module docstring."""

    __slots__ = (
        "_wants_json",
        "capture",
        "checked",
        "id",
        "input",
        "metadata",
        "model",
        "name",
        "operation",
        "owns_trace",
        "parent_id",
        "provider",
        "request",
        "result",
        "started",
        "started_at",
        "trace",
    )

    def __init__(
        self,
        trace: ActiveTrace,
        owns_trace: bool,
        parent_id: uuid.UUID | None,
        operation: Operation,
        name: str,
        model: str | None,
    ) -> None:
        self.trace = trace
        self.owns_trace = owns_trace
        self.parent_id = parent_id
        self.operation = operation
        self.name = name
        self.model = model
        self.id = new_id()
        self.capture = trace.capture_content
        self.started_at = trace.started_at if owns_trace else time.time()
        self.started = time.perf_counter()
        self.provider: str | None = None
        self.input: Any = None
        self.metadata: dict[str, Any] = {}
        #: The call's keyword arguments until :meth:`_read_request` read them.
        self.request: Mapping[str, Any] | None = None
        self._wants_json = False
        #: The SDK's result, until the writer reads it (see :meth:`end_later`).
        self.result: Any = None
        #: Whether ``LLM_LOGS_ENABLED`` was read as the call started (see :meth:`_submit`).
        self.checked = False

    @classmethod
    def start(
        cls, resource: Any, operation: Operation, kwargs: Mapping[str, Any]
    ) -> LlmCall | None:
        """The call's span, or ``None`` when nothing is to be recorded.

        ``resource`` ``None`` (a module-level function, LiteLLM's) leaves the
        provider unknown until :meth:`routed_to` names it.
        """
        model = kwargs.get("model")
        model = model if isinstance(model, str) else None
        name = f"{operation.name} {model}" if model else operation.name
        frame = current_frame()
        if frame is None:
            how = recording()
            if how.writer is None or not how.llm_calls:
                return None
            joined = None
            if apm.ingest is not None:
                environment = None if how.settings is None else how.settings.environment
                joined = apm.joined_trace(name, how.writer, how.capture_content, environment)
            if joined is not None:  # inside another instrumentation's span: its trace
                (trace, parent_id), owns_trace = joined, False
            else:
                trace, owns_trace = automatic_trace(name, how, announce=False)
                parent_id = None
            call = cls(trace, owns_trace, parent_id, operation, name, model)
            call.checked = True
        else:
            trace = frame.trace
            if trace.writer is None or not trace.llm_calls:
                return None
            call = cls(trace, False, frame.span_id, operation, name, model)
        if operation.read_later and extract.NESTED_PARAMETERS.isdisjoint(kwargs):
            metadata: dict[str, Any] = {"gen_ai.operation.name": operation.otel_name}
            call.request = kwargs  # the wrapper's own dict, of plain values: nothing changes it
        else:
            metadata = operation.read_metadata(kwargs)
            metadata["gen_ai.operation.name"] = operation.otel_name
            call._wants_json = operation.wants_json(kwargs)
        if resource is not None:
            call.provider = metadata["gen_ai.provider.name"] = provider_of(resource)
        if model:
            metadata["gen_ai.request.model"] = model
        version = take_prompt_version() if pending_prompt_version() is not None else None
        if version is not None:
            metadata["prompt_version_id"] = version
            if trace.prompt_version_id is None:  # built before its trace began
                trace.prompt_version_id = version
            variables = take_prompt_variables()
            if variables is not None and call.capture:
                metadata[PROMPT_VARIABLES] = variables
        call.metadata = metadata
        if call.capture:
            call.input = operation.read_input(kwargs)
        return call

    def _read_request(self) -> None:
        """Read the parameters :meth:`start` left in :attr:`request` (``Operation.read_later``).

        When the call ended: on the writer's thread for a response returned
        whole (:meth:`fill`), else on the caller's. Into the span's own
        metadata, whose other keys (operation, provider, model, prompt, error)
        are not request parameters' names.
        """
        request = self.request
        if request is not None:
            self.request = None
            self.metadata.update(self.operation.read_metadata(request))
            self._wants_json = self.operation.wants_json(request)

    @property
    def wants_json(self) -> bool:
        """Whether the request asked for JSON (its output is parsed as JSON)."""
        if self.request is not None:
            self._read_request()
        return self._wants_json

    def routed_to(self, provider: str) -> None:
        """Name the provider once the call knows it: LiteLLM picks it inside the call."""
        self.provider = self.metadata["gen_ai.provider.name"] = provider

    def outcome_of(self, result: Any) -> CallOutcome:
        """What ``result`` says; nothing, rather than no span, when it cannot be read."""
        try:
            return self.operation.read_outcome(result, self.wants_json)
        except Exception:
            log_recorder_error()
            return CallOutcome()

    def fail(self, error: BaseException) -> None:
        self.end(CallOutcome(), error=error)

    def end_later(self, result: Any) -> None:
        """Send the span now and have the writer read ``result`` before storing it.

        Reading a response (its model, usage, messages, tool calls, JSON
        arguments) was about a third of what a call added on the host's
        thread, and nothing the host needs waits for it. The response object
        is the one the SDK returned to the caller: the writer reads it within
        ``LLM_LOGS_WRITER_FLUSH_INTERVAL``. The SDKs we defer for (``openai``,
        ``anthropic``, ``google-genai``) never change a response once
        returned; a host that edits one in place in that window has its
        edit stored, and one that breaks it makes the span stored without
        its outcome (logged, as any recorder failure). So are the request's
        parameters (:meth:`_read_request`). LiteLLM, whose
        logging callbacks may touch the response on threads of their own,
        reads at once with :meth:`end`. The call itself is the pending
        response (:meth:`fill`): no object more on the host's thread.
        """
        self.result = result
        self._submit(self._span(None, self))

    def fill(self, span: SpanRecord) -> list[SpanRecord]:
        """Read the result :meth:`end_later` kept into ``span``, on the writer's thread;
        its tool-call children. Never raises."""
        if self.request is not None:
            self._read_request()  # into the span's metadata, before the span is read
        outcome = self.outcome_of(self.result)
        self.result = None
        try:
            return fill_span(span, outcome, self.capture)
        except Exception:
            log_recorder_error()
            return []

    def send(
        self,
        response: PendingResponse,
        error: BaseException | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Send the span now, its outcome to be read from ``response`` by the writer."""
        if self.request is not None:
            self._read_request()
        if metadata:
            self.metadata.update(metadata)
        self._submit(self._span(error, response))

    def end(
        self,
        outcome: CallOutcome,
        *,
        error: BaseException | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Send the span (which carries its automatic trace, if any) and its tool-call children."""
        if self.request is not None:
            self._read_request()
        if metadata:
            self.metadata.update(metadata)
        span = self._span(error)
        children = fill_span(span, outcome, self.capture)
        self._submit(span)
        for child in children:
            self._submit(child)

    def _span(
        self, error: BaseException | None, response: PendingResponse | None = None
    ) -> SpanRecord:
        """The span as the call ended, before its outcome is read (see :func:`fill_span`)."""
        now = time.perf_counter()
        trace = self.trace
        announces = None
        if trace.unannounced:  # the first span of a request's trace sent: it carries the record
            trace.unannounced = False
            announces = trace
        message = None
        if error is not None:
            status = self.operation.read_status(error)
            message = _api_error_message(error, status, self.metadata)
        return SpanRecord(
            id=self.id,
            trace_id=trace.id,
            parent_id=self.parent_id,
            name=self.name,
            kind="llm",
            started_at=self.started_at,
            status="completed" if message is None else "error",
            completed_at=time.time(),
            duration_ms=(now - self.started) * 1000,
            error=message,
            operation=self.operation.name,
            model=self.model,
            provider=self.provider,
            input=self.input,
            metadata=self.metadata,
            automatic=trace if self.owns_trace else None,
            announces=announces,
            response=response,
        )

    def _submit(self, span: SpanRecord) -> None:
        writer = self.trace.writer
        assert writer is not None
        # A call outside any trace asked ``LLM_LOGS_ENABLED`` as it started
        # (``recording()``): the writer need not ask again for its spans.
        writer.submit(span, checked=self.checked)


def fill_span(span: SpanRecord, outcome: CallOutcome, capture: bool) -> list[SpanRecord]:
    """Put ``outcome`` in ``span`` (an LLM call's, not yet stored); its tool-call children.

    Runs on the host's thread for streams and errors, on the writer's for
    :meth:`LlmCall.end_later`: one place says what a span keeps of an outcome.
    """
    metadata: dict[str, Any] = span.metadata  # type: ignore[assignment]  # the call's own dict
    if outcome.model:
        span.model = outcome.model
        metadata["gen_ai.response.model"] = outcome.model
    if outcome.response_id:
        metadata["gen_ai.response.id"] = outcome.response_id
    if outcome.finish_reasons:
        metadata["gen_ai.response.finish_reasons"] = outcome.finish_reasons
    if outcome.error is not None and span.error is None:
        span.status, span.error = "error", outcome.error
    if capture:
        span.output = outcome.output
    span.input_tokens = outcome.input_tokens
    span.output_tokens = outcome.output_tokens
    span.cached_tokens = outcome.cached_tokens
    span.cache_write_tokens = outcome.cache_write_tokens
    span.reasoning_tokens = outcome.reasoning_tokens
    completed_at = span.completed_at  # the span's clock read serves its tools
    assert completed_at is not None
    return [
        SpanRecord(
            id=new_id(),
            trace_id=span.trace_id,
            parent_id=span.id,
            name=f"tool.{call.name}",
            kind="tool",
            started_at=completed_at,
            completed_at=completed_at,
            duration_ms=0.0,
            input=call.arguments if capture else None,
            metadata={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": call.name,
                "gen_ai.tool.call.id": call.id,
            },
        )
        for call in outcome.tool_calls
    ]


def _api_error_message(error: BaseException, status: int | None, metadata: dict[str, Any]) -> str:
    """``RateLimitError (HTTP 429): message``; the status also goes to metadata."""
    metadata["error.type"] = type(error).__name__
    if status is None:
        return error_message(error)
    metadata["http.response.status_code"] = status
    # anthropic's ``api_message`` is the body's message alone; its ``message``
    # repeats the status and adds the request id.
    text = getattr(error, "api_message", None) or getattr(error, "message", None) or str(error)
    return f"{type(error).__name__} (HTTP {status}): {text}"
