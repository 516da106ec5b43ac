"""What a span keeps of a google-genai request and of its result.

Requests are read from ``model``, ``contents`` and ``config`` (a dict or a
``GenerateContentConfig``); results attribute by attribute, as for openai,
into the same assistant message (``content``, ``tool_calls``) plus the
model's thoughts when it shows them. Token counts follow the one meaning
every provider gets (see ``docs/tracing.rst``):

- ``input_tokens``: ``prompt_token_count`` (which includes the cached
  content) plus ``tool_use_prompt_token_count``;
- ``output_tokens``: ``candidates_token_count`` plus ``thoughts_token_count``,
  as Gemini bills thoughts as output and OpenAI counts reasoning in output;
- ``cached_tokens``: ``cached_content_token_count``;
  ``reasoning_tokens``: ``thoughts_token_count``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..tracing.recorder import snapshot
from .extract import CallOutcome
from .extract import ToolCall
from .extract import assistant_message
from .extract import choices_output
from .extract import parse_json

#: ``config`` fields kept as span metadata, under OpenTelemetry GenAI names.
CONFIG_ATTRIBUTES = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "stop_sequences": "gen_ai.request.stop_sequences",
    "seed": "gen_ai.request.seed",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "candidate_count": "gen_ai.request.choice.count",
    "output_dimensionality": "gen_ai.embeddings.dimension.count",
}

#: Gemini's finish reasons as the values OpenTelemetry and chat completions use.
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}

_PLAIN = (str, int, float, bool, list, tuple)

#: Whether a config of this type is a ``Mapping``, by type: ``isinstance``
#: against the ABC runs Python code, and each call reads its config three times.
_MAPPING_TYPES: dict[type, bool] = {}


def config_fields(config: Any) -> Mapping[str, Any]:
    """The fields of ``config``, a dict or a ``GenerateContentConfig`` (or ``None``).

    A pydantic model's fields are in its ``__dict__``: reading them there
    is cheap, where ``getattr`` of a field only another config type has
    (``embed_content``'s) costs a raised ``AttributeError``.
    """
    if config is None:
        return {}
    is_mapping = _MAPPING_TYPES.get(type(config))
    if is_mapping is None:
        is_mapping = _MAPPING_TYPES[type(config)] = isinstance(config, Mapping)
    if is_mapping:
        mapping: Mapping[str, Any] = config
        return mapping
    fields = getattr(config, "__dict__", None)
    return fields if isinstance(fields, dict) else {}


def request_metadata(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``config``'s parameters under GenAI names; never ``http_options`` (headers, keys)."""
    metadata: dict[str, Any] = {}
    fields = config_fields(kwargs.get("config"))
    if not fields:
        return metadata
    for field, attribute in CONFIG_ATTRIBUTES.items():
        value = fields.get(field)
        if isinstance(value, _PLAIN):
            metadata[attribute] = list(value) if isinstance(value, tuple) else value
    return metadata


class CompactModel:
    """An SDK object in a span's input, dumped without its unset fields.

    A ``Content`` dumped whole is a dozen ``null`` parts per text; dumping
    happens on the writer's thread (which calls ``model_dump``), never on
    the caller's.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def model_dump(self, mode: str = "json") -> Any:
        return self.value.model_dump(mode=mode, exclude_none=True)


def _compact(value: Any) -> Any:
    if hasattr(value, "model_dump") and not isinstance(value, type):
        return CompactModel(value)
    if callable(value):  # a Python function offered as a tool
        return {"function": getattr(value, "__name__", repr(value))}
    return value


def _compact_all(value: Any) -> Any:
    value = snapshot(value)
    if isinstance(value, list):
        return [_compact(item) for item in value]
    return _compact(value)


def generate_input(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    content = {"contents": _compact_all(kwargs.get("contents"))}
    config = config_fields(kwargs.get("config"))
    system = config.get("system_instruction")
    if system is not None:
        content["system_instruction"] = _compact_all(system)
    tools = config.get("tools")
    if tools:
        content["tools"] = _compact_all(tools)
    return content


def embed_input(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {"input": _compact_all(kwargs.get("contents"))}


def wants_json(kwargs: Mapping[str, Any]) -> bool:
    return config_fields(kwargs.get("config")).get("response_mime_type") == "application/json"


def _int(value: Any) -> int | None:
    if isinstance(value, float):  # Vertex AI's embedding statistics count in floats
        return int(value)
    return value if isinstance(value, int) else None


def _sum(*values: int | None) -> int | None:
    present = [value for value in values if value is not None]
    return sum(present) if present else None


def usage(outcome: CallOutcome, metadata: Any) -> None:
    """Token counts from ``usage_metadata``, with the meaning of the module docstring."""
    if metadata is None:
        return
    thoughts = _int(metadata.thoughts_token_count)
    outcome.input_tokens = _sum(
        _int(metadata.prompt_token_count), _int(metadata.tool_use_prompt_token_count)
    )
    outcome.output_tokens = _sum(_int(metadata.candidates_token_count), thoughts)
    outcome.cached_tokens = _int(metadata.cached_content_token_count)
    outcome.reasoning_tokens = thoughts


def finish_reason(reason: Any, tool_calls: tuple[ToolCall, ...]) -> str:
    name = getattr(reason, "value", reason)
    if name == "STOP" and tool_calls:
        return "tool_calls"
    return FINISH_REASONS.get(name, str(name).lower())


class CandidateParts:
    """What the parts of one candidate carried (in one response, or over a stream)."""

    __slots__ = ("other", "text", "thoughts", "tools")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.thoughts: list[str] = []
        self.tools: list[ToolCall] = []
        #: Parts that are neither text nor function calls (images, code), as they are.
        self.other: list[Any] = []

    def add(self, content: Any) -> bool:
        """Take a ``Content``'s parts in; whether they carried generated content."""
        generated = False
        for part in getattr(content, "parts", None) or ():
            call = part.function_call
            if part.text is not None:
                (self.thoughts if part.thought else self.text).append(part.text)
            elif call is not None:
                self.tools.append(ToolCall(call.id, call.name or "", snapshot(call.args)))
            else:
                self.other.append(CompactModel(part))
            generated = True
        return generated

    def message(self, wants_json: bool, parsed: Any = None) -> Any:
        content = parsed
        if content is None:
            text = "".join(self.text) or None
            content = parse_json(text) if wants_json else text
        message = assistant_message(content, tuple(self.tools))
        if self.thoughts:
            message["thinking"] = "".join(self.thoughts)
        if self.other:
            message["parts"] = self.other
        return message


def _history_tool_calls(response: Any) -> tuple[ToolCall, ...]:
    """Function calls the SDK already answered (automatic function calling) in this call."""
    parts = CandidateParts()
    for content in response.automatic_function_calling_history or ():
        if content.role == "model":
            parts.add(content)
    return tuple(parts.tools)


def generate_outcome(response: Any, wants_json: bool) -> CallOutcome:
    outcome = CallOutcome(model=response.model_version, response_id=response.response_id)
    usage(outcome, response.usage_metadata)
    outcome.tool_calls = _history_tool_calls(response)
    messages = []
    reasons = []
    candidates = response.candidates or ()
    for candidate in candidates:
        parts = CandidateParts()
        parts.add(candidate.content)
        outcome.tool_calls += tuple(parts.tools)
        parsed = response.parsed if len(candidates) == 1 else None
        messages.append(parts.message(wants_json, parsed))
        if candidate.finish_reason is not None:
            reasons.append(finish_reason(candidate.finish_reason, tuple(parts.tools)))
    blocked = getattr(response.prompt_feedback, "block_reason", None)
    if blocked is not None and not candidates:
        reasons.append("content_filter")
        outcome.error = f"prompt blocked: {getattr(blocked, 'value', blocked)}"
    outcome.finish_reasons = reasons
    if messages:
        outcome.output = choices_output(messages)
    return outcome


class GenerateAccumulator:
    """Builds a streamed ``generate_content``'s outcome from its chunks."""

    def __init__(self, wants_json: bool) -> None:
        self.wants_json = wants_json
        self.outcome = CallOutcome()
        #: By candidate index; the first made up front, so a stream that ends
        #: before any content still stores an (empty) message.
        self.candidates: dict[int, CandidateParts] = {0: CandidateParts()}
        self.reasons: dict[int, Any] = {}

    def add(self, chunk: Any) -> bool:
        outcome = self.outcome
        outcome.model = chunk.model_version or outcome.model
        outcome.response_id = chunk.response_id or outcome.response_id
        if chunk.usage_metadata is not None:
            usage(outcome, chunk.usage_metadata)
        generated = False
        for candidate in chunk.candidates or ():
            index = candidate.index or 0
            parts = self.candidates.get(index)
            if parts is None:
                parts = self.candidates[index] = CandidateParts()
            generated = parts.add(candidate.content) or generated
            if candidate.finish_reason is not None:
                self.reasons[index] = candidate.finish_reason
        return generated

    def result(self) -> CallOutcome:
        outcome = self.outcome
        messages = []
        reasons = []
        for index, parts in sorted(self.candidates.items()):
            messages.append(parts.message(self.wants_json))
            outcome.tool_calls += tuple(parts.tools)
            if index in self.reasons:
                reasons.append(finish_reason(self.reasons[index], tuple(parts.tools)))
        outcome.finish_reasons = reasons
        outcome.output = choices_output(messages)
        return outcome


def embed_outcome(result: Any, wants_json: bool) -> CallOutcome:
    """Tokens from ``usage_metadata`` (Gemini API) or each embedding's statistics (Vertex AI)."""
    outcome = CallOutcome()
    embeddings = result.embeddings or ()
    if result.usage_metadata is not None:
        outcome.input_tokens = _int(result.usage_metadata.prompt_token_count)
    else:
        outcome.input_tokens = _sum(
            *(_int(getattr(e.statistics, "token_count", None)) for e in embeddings)
        )
    values = embeddings[0].values if embeddings else None
    outcome.output = {
        "embeddings": len(embeddings),
        "dimensions": len(values) if isinstance(values, list) else None,
    }
    return outcome
