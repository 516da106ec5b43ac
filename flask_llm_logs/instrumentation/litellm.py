"""Patch points in LiteLLM: its module-level ``completion``, ``embedding`` and async twins.

One LiteLLM call is one span, named after the provider LiteLLM routed it
to. LiteLLM picks the provider inside the call, so the span learns it at the
end: from the result's ``_hidden_params``, the stream's
``custom_llm_provider`` or the error's ``llm_provider``; only a result that
does not say (Anthropic-routed completions) has its model routed again, by
LiteLLM's own ``get_llm_provider``, once per model and base URL. When LiteLLM calls the
``openai`` SDK underneath, the :class:`~.patching.Patcher`'s guard keeps
that inner call from being a second span.

LiteLLM's results are OpenAI-shaped, so the OpenAI readers read them; its
usage already counts cache reads and writes in ``prompt_tokens``, as this
package does.

``import litellm`` fetches a price map from the internet unless
``LITELLM_LOCAL_MODEL_COST_MAP`` is set: when this module, or the app after
``init_app``, is the first to import LiteLLM, that variable is set to
``True`` unless the app set it (see :func:`~.litellm_offline`).

Only ``litellm.completion`` and its siblings are patched: a name imported
before ``init_app`` (``from litellm import completion``) is the
unpatched function.
"""

from __future__ import annotations

import sys

from . import litellm_offline

if "litellm" not in sys.modules:
    litellm_offline()

import functools
from collections.abc import Mapping
from typing import Any
from typing import NamedTuple

import litellm
from litellm import CustomStreamWrapper

from . import extract
from .calls import LlmCall
from .calls import Operation
from .calls import never_json
from .extract import CallOutcome
from .patching import Patcher
from .patching import PatchPoint
from .streams import ChatAccumulator
from .streams import ReadingNext
from .streams import StreamRecorder
from .streams import recorder_for

#: LiteLLM's provider names that this package (and ``genai-prices``, which
#: prices the span) spells otherwise; the rest are the same.
PROVIDER_NAMES = {
    "gemini": "google",
    "vertex_ai": "google-vertex",
    "vertex_ai_beta": "google-vertex",
    "anthropic_text": "anthropic",
    "text-completion-openai": "openai",
    "azure_ai": "azure",
    "azure_text": "azure",
    "bedrock": "aws",
    "cohere_chat": "cohere",
    "codestral": "mistral",
    "fireworks_ai": "fireworks",
    "together_ai": "together",
    "xai": "x-ai",
    "ollama_chat": "ollama",
    "hosted_vllm": "vllm",
    "moonshot": "moonshotai",
    "meta_llama": "meta",
}


def provider_name(litellm_provider: str) -> str:
    """``litellm_provider`` as this package names providers."""
    return PROVIDER_NAMES.get(litellm_provider, litellm_provider)


def _cache_writes(outcome: CallOutcome, usage: Any) -> None:
    """The cache writes LiteLLM reports (Anthropic's, and others') beside OpenAI's usage."""
    details = getattr(usage, "prompt_tokens_details", None)
    writes = getattr(details, "cache_write_tokens", None)
    outcome.cache_write_tokens = writes if isinstance(writes, int) else None


def _usage(outcome: CallOutcome, usage: Any) -> None:
    extract.chat_usage(outcome, usage)
    _cache_writes(outcome, usage)


def _chat_outcome(response: Any, wants_json: bool) -> CallOutcome:
    outcome = extract.chat_outcome(response, wants_json)
    _cache_writes(outcome, getattr(response, "usage", None))
    return outcome


def _embeddings_outcome(response: Any, wants_json: bool) -> CallOutcome:
    """LiteLLM's embeddings are dictionaries, OpenAI's objects."""
    outcome = CallOutcome(model=response.model)
    usage = response.usage
    tokens = getattr(usage, "prompt_tokens", None)
    outcome.input_tokens = tokens if isinstance(tokens, int) else None
    data = response.data or ()
    first = data[0] if data else None
    vector = first.get("embedding") if isinstance(first, Mapping) else None
    outcome.output = {
        "embeddings": len(data),
        "dimensions": len(vector) if isinstance(vector, list) else None,
    }
    return outcome


CHAT = Operation("chat", "chat", extract.chat_input, extract.chat_wants_json, _chat_outcome)
EMBEDDINGS = Operation(
    "embeddings", "embeddings", extract.embeddings_input, never_json, _embeddings_outcome
)

PATCH_POINTS: tuple[PatchPoint[Operation], ...] = (
    PatchPoint("litellm", None, "completion", CHAT),
    PatchPoint("litellm", None, "acompletion", CHAT, is_async=True),
    PatchPoint("litellm", None, "embedding", EMBEDDINGS),
    PatchPoint("litellm", None, "aembedding", EMBEDDINGS, is_async=True),
)

#: The parameters LiteLLM's functions take first, for calls that pass them by position.
_POSITIONAL = {"chat": ("model", "messages"), "embeddings": ("model", "input")}


class _RecordedStream(CustomStreamWrapper):  # type: ignore[misc]  # LiteLLM is untyped here
    """A LiteLLM stream whose chunks feed its span.

    The caller's stream object is kept, its class swapped for this subclass
    (``isinstance`` holds, every attribute is there): LiteLLM's stream
    turns the provider's raw events into chunks inside ``__next__``, so
    only there are its chunks seen. LiteLLM closes the stream itself when
    it ends, from inside ``__next__``: that close is the end the iterator
    reports, not the caller's.
    """

    _llm_logs_recorder: StreamRecorder

    def __next__(self) -> Any:
        with ReadingNext(self._llm_logs_recorder, StopIteration):
            chunk = super().__next__()
        self._llm_logs_recorder.read(chunk)
        return chunk

    async def __anext__(self) -> Any:
        with ReadingNext(self._llm_logs_recorder, StopAsyncIteration):
            chunk = await super().__anext__()
        self._llm_logs_recorder.read(chunk)
        return chunk

    def close(self) -> None:
        if not self._llm_logs_recorder.reading:  # else the stream ends itself
            self._llm_logs_recorder.finish(how="closed")
        super().close()

    async def aclose(self) -> None:
        if not self._llm_logs_recorder.reading:
            self._llm_logs_recorder.finish(how="closed")
        await super().aclose()


def _watch(stream: CustomStreamWrapper, call: LlmCall) -> None:
    stream._llm_logs_recorder = recorder_for(stream, call, ChatAccumulator(call.wants_json, _usage))
    stream.__class__ = _RecordedStream


@functools.lru_cache(maxsize=256)
def _route(model: Any, custom_llm_provider: Any, api_base: Any) -> str | None:
    """LiteLLM's routing of ``model``, for results that do not say where they came from
    (an Anthropic-routed completion's hidden params do not)."""
    try:
        return str(litellm.get_llm_provider(model, custom_llm_provider, api_base=api_base)[1])
    except Exception:  # LiteLLM could not route it: neither could the call
        return None


class _Call(NamedTuple):
    """One LiteLLM call in flight: its span, and what LiteLLM routes it by."""

    span: LlmCall
    route: tuple[Any, Any, Any]  # model, custom_llm_provider, api_base


def _routed_provider(result: Any, call: _Call) -> str | None:
    if isinstance(result, CustomStreamWrapper):
        provider = result.custom_llm_provider
    else:
        hidden = getattr(result, "_hidden_params", None)
        provider = hidden.get("custom_llm_provider") if isinstance(hidden, Mapping) else None
    if isinstance(provider, str) and provider:
        return provider
    try:
        return _route(*call.route)
    except TypeError:  # an unhashable argument: no routing to reuse
        return None


class _LiteLLMHooks:
    """How one LiteLLM call becomes a span."""

    def start(
        self, resource: Any, operation: Operation, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> _Call | None:
        if args:
            kwargs = {**dict(zip(_POSITIONAL[operation.name], args, strict=False)), **kwargs}
        span = LlmCall.start(None, operation, kwargs)
        if span is None:
            return None
        route = (kwargs.get("model"), kwargs.get("custom_llm_provider"), kwargs.get("api_base"))
        return _Call(span, route)

    def succeeded(self, call: _Call, result: Any) -> None:
        """Record ``result``; a stream is watched in place and recorded when it ends."""
        span = call.span
        provider = _routed_provider(result, call)
        if provider:
            span.routed_to(provider_name(provider))
        if isinstance(result, CustomStreamWrapper):
            _watch(result, span)
        else:
            span.end(span.outcome_of(result))

    def failed(self, call: _Call, error: BaseException) -> None:
        provider = getattr(error, "llm_provider", None)
        if isinstance(provider, str) and provider:
            call.span.routed_to(provider_name(provider))
        call.span.fail(error)


#: What ``instrumentation.instrument()`` patches: LiteLLM's module functions.
PATCHER = Patcher(PATCH_POINTS, _LiteLLMHooks())
