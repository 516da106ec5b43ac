"""What a span keeps of an Anthropic Messages request, of its message and of its stream.

The output has the shape of every other LLM span (see :mod:`.extract`), an
assistant message, with the model's thinking beside its text::

    {"role": "assistant", "content": "the text blocks, joined",
     "thinking": "the thinking blocks, joined",
     "tool_calls": [{"id": "toolu_...", "name": ..., "arguments": {...}}]}

Tokens follow the meaning they have for every provider: Anthropic reports
cache reads and writes apart from ``input_tokens``, so they are added to it;
``cached_tokens`` are the reads and ``cache_write_tokens`` the writes.
Like :mod:`.extract`, everything here runs on the caller's thread: attribute
reads and shallow copies only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..tracing.recorder import snapshot
from .extract import CallOutcome
from .extract import ToolCall
from .extract import assistant_message
from .extract import int_or_none
from .extract import offered_tools
from .extract import parse_json

#: Request parameters kept as span metadata, under OpenTelemetry GenAI names.
REQUEST_ATTRIBUTES = {
    "max_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "stop_sequences": "gen_ai.request.stop_sequences",
    "service_tier": "anthropic.request.service_tier",
}

#: ``stop_reason`` as the finish reasons every other provider's spans use, so a
#: filter or chart over them needs to know no provider's own words.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

#: What a ``redacted_thinking`` block (encrypted by Anthropic) shows as thinking.
REDACTED_THINKING = "[redacted thinking]"

_PLAIN = (str, int, float, bool, list, tuple)


def request_metadata(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The request's parameters under GenAI names; never headers, keys or extra bodies."""
    metadata: dict[str, Any] = {}
    for param, value in kwargs.items():
        attribute = REQUEST_ATTRIBUTES.get(param)
        if attribute is not None and isinstance(value, _PLAIN):
            metadata[attribute] = list(value) if isinstance(value, tuple) else value
    thinking = kwargs.get("thinking")
    # ``None`` first, here and below: ``isinstance`` against an ABC runs Python code.
    if (
        thinking is not None
        and isinstance(thinking, Mapping)
        and isinstance(thinking.get("budget_tokens"), int)
    ):
        metadata["anthropic.request.thinking.budget_tokens"] = thinking["budget_tokens"]
    return metadata


def messages_input(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {}
    system = kwargs.get("system")
    if isinstance(system, (str, list, tuple)) and system:
        content["system"] = snapshot(system)
    content["messages"] = snapshot(kwargs.get("messages"))
    return offered_tools(kwargs, content)


def messages_wants_json(kwargs: Mapping[str, Any]) -> bool:
    """Structured output: ``parse``/``stream`` with an ``output_format`` type, or a
    JSON schema in ``output_config``."""
    if isinstance(kwargs.get("output_format"), type):
        return True
    config = kwargs.get("output_config")
    if config is None or not isinstance(config, Mapping):
        return False
    output_format = config.get("format")
    return isinstance(output_format, Mapping) and output_format.get("type") == "json_schema"


def set_tokens(
    outcome: CallOutcome,
    input_tokens: int | None,
    cache_reads: int | None,
    cache_writes: int | None,
    output_tokens: int | None,
    thinking_tokens: int | None,
) -> None:
    """Anthropic's counts under the meaning they have for every provider."""
    if input_tokens is not None:
        outcome.input_tokens = input_tokens + (cache_reads or 0) + (cache_writes or 0)
    outcome.cached_tokens = cache_reads
    outcome.cache_write_tokens = cache_writes
    outcome.output_tokens = output_tokens
    outcome.reasoning_tokens = thinking_tokens


def _thinking_tokens(usage: Any) -> int | None:
    return int_or_none(
        getattr(getattr(usage, "output_tokens_details", None), "thinking_tokens", None)
    )


def _finish_reasons(stop_reason: str | None) -> list[str]:
    return [FINISH_REASONS.get(stop_reason, stop_reason)] if stop_reason else []


def assistant_output(
    texts: list[str],
    thinking: list[str],
    tool_calls: tuple[ToolCall, ...],
    wants_json: bool,
    parsed: Any = None,
) -> Any:
    """The span's output: text (or structured output), thinking and tool calls."""
    if parsed is not None:
        content = parsed
    else:
        text = "".join(texts) or None
        content = parse_json(text) if wants_json else text
    message = assistant_message(content, tool_calls)
    if thinking:
        message["thinking"] = "\n\n".join(thinking)
    return message


def message_outcome(message: Any, wants_json: bool) -> CallOutcome:
    """The outcome of a ``Message`` (``create``, ``parse``, ``get_final_message``)."""
    outcome = CallOutcome(model=message.model, response_id=message.id)
    usage = message.usage
    if usage is not None:
        set_tokens(
            outcome,
            int_or_none(usage.input_tokens),
            int_or_none(usage.cache_read_input_tokens),
            int_or_none(usage.cache_creation_input_tokens),
            int_or_none(usage.output_tokens),
            _thinking_tokens(usage),
        )
    outcome.finish_reasons = _finish_reasons(message.stop_reason)
    texts: list[str] = []
    thinking: list[str] = []
    tool_calls: list[ToolCall] = []
    for block in message.content or ():
        kind = block.type
        if kind == "text":
            texts.append(block.text)
        elif kind == "thinking":
            thinking.append(block.thinking)
        elif kind == "redacted_thinking":
            thinking.append(REDACTED_THINKING)
        elif kind == "tool_use":
            tool_calls.append(ToolCall(block.id, block.name, block.input))
    outcome.tool_calls = tuple(tool_calls)
    # parse(): the app's own model (a property of ParsedMessage only).
    parsed = message.parsed_output if hasattr(type(message), "parsed_output") else None
    outcome.output = assistant_output(texts, thinking, outcome.tool_calls, wants_json, parsed)
    return outcome


class _Block:
    """What the events of one content block carried so far."""

    __slots__ = ("id", "kind", "name", "pieces")

    def __init__(self, kind: str, id: str | None = None, name: str = "") -> None:
        self.kind = kind
        self.id = id
        self.name = name
        self.pieces: list[str] = []


class MessagesAccumulator:
    """Builds a message's outcome from its raw stream events (``create(stream=True)``,
    and the ``stream()`` helper, which reads the same events)."""

    def __init__(self, wants_json: bool) -> None:
        self.wants_json = wants_json
        self.model: str | None = None
        self.response_id: str | None = None
        self.stop_reason: str | None = None
        self.blocks: dict[int, _Block] = {}
        #: input, cache reads, cache writes, output, thinking: the latest counts.
        self.tokens: list[int | None] = [None] * 5

    def _usage(self, usage: Any) -> None:
        counts = (
            getattr(usage, "input_tokens", None),
            getattr(usage, "cache_read_input_tokens", None),
            getattr(usage, "cache_creation_input_tokens", None),
            getattr(usage, "output_tokens", None),
            _thinking_tokens(usage),
        )
        for position, count in enumerate(counts):
            if isinstance(count, int):
                self.tokens[position] = count

    def add(self, event: Any) -> bool:
        kind = event.type
        if kind == "content_block_delta":
            block = self.blocks.get(event.index)
            delta = event.delta
            if block is None:
                return False
            if delta.type == "text_delta":
                block.pieces.append(delta.text)
            elif delta.type == "input_json_delta":
                block.pieces.append(delta.partial_json)
            elif delta.type == "thinking_delta":
                block.pieces.append(delta.thinking)
            else:
                return False  # signatures, citations
            return True
        if kind == "content_block_start":
            start = event.content_block
            block = self.blocks[event.index] = _Block(
                start.type, getattr(start, "id", None), getattr(start, "name", "")
            )
            if start.type == "text" and start.text:
                block.pieces.append(start.text)
            elif start.type == "thinking" and start.thinking:
                block.pieces.append(start.thinking)
        elif kind == "message_start":
            message = event.message
            self.model = message.model
            self.response_id = message.id
            self._usage(message.usage)
        elif kind == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            self._usage(event.usage)
        return False

    def result(self) -> CallOutcome:
        outcome = CallOutcome(model=self.model, response_id=self.response_id)
        set_tokens(outcome, *self.tokens)
        outcome.finish_reasons = _finish_reasons(self.stop_reason)
        texts: list[str] = []
        thinking: list[str] = []
        tool_calls: list[ToolCall] = []
        for _, block in sorted(self.blocks.items()):
            text = "".join(block.pieces)
            if block.kind == "text":
                texts.append(text)
            elif block.kind == "thinking":
                thinking.append(text)
            elif block.kind == "redacted_thinking":
                thinking.append(REDACTED_THINKING)
            elif block.kind == "tool_use":
                tool_calls.append(ToolCall(block.id, block.name, parse_json(text) or {}))
        outcome.tool_calls = tuple(tool_calls)
        outcome.output = assistant_output(texts, thinking, outcome.tool_calls, self.wants_json)
        return outcome
