"""What a span keeps of an openai request and of its result.

Requests are snapshotted shallowly (a list and its dicts copied, nothing
serialized), results are read attribute by attribute: both run on the
caller's thread and must stay cheap. Outputs of chat completions and
responses share one shape, an assistant message::

    {"role": "assistant", "content": "text, or structured output as JSON",
     "tool_calls": [{"id": ..., "name": ..., "arguments": {...}}]}
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from ..tracing.recorder import snapshot

#: Request parameters kept as span metadata, under OpenTelemetry GenAI names.
REQUEST_ATTRIBUTES = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
    "stop": "gen_ai.request.stop_sequences",
    "n": "gen_ai.request.choice.count",
    "dimensions": "gen_ai.embeddings.dimension.count",
    "service_tier": "openai.request.service_tier",
    "reasoning_effort": "openai.request.reasoning_effort",
}

_PLAIN = (str, int, float, bool, list, tuple)
#: Parameters whose values are objects of the host's, read for their contents
#: (``reasoning["effort"]``, the JSON format): a host may reuse one and change
#: it after the call returned, so a call that has one is read as it starts.
NESTED_PARAMETERS = frozenset({"reasoning", "response_format", "text"})


@dataclasses.dataclass(frozen=True, slots=True)
class ToolCall:
    id: str | None
    name: str
    arguments: Any  # parsed JSON, or the text when it is not JSON


@dataclasses.dataclass(slots=True)
class CallOutcome:
    """What a finished call returned."""

    output: Any = None
    model: str | None = None
    response_id: str | None = None
    finish_reasons: list[str] | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    #: An error the API reported in a successful HTTP reply (``response.failed``).
    error: str | None = None


def request_metadata(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The request's parameters under GenAI names; never headers, keys or extra bodies."""
    metadata: dict[str, Any] = {}
    for param, value in kwargs.items():
        attribute = REQUEST_ATTRIBUTES.get(param)
        if attribute is not None and isinstance(value, _PLAIN):
            metadata[attribute] = value
    if isinstance(kwargs.get("stop"), str):  # one stop sequence: OpenTelemetry types it a list
        metadata["gen_ai.request.stop_sequences"] = [kwargs["stop"]]
    encoding = kwargs.get("encoding_format")
    if isinstance(encoding, str):
        metadata["gen_ai.request.encoding_formats"] = [encoding]
    reasoning = kwargs.get("reasoning")
    if (
        reasoning is not None
        and isinstance(reasoning, Mapping)
        and isinstance(reasoning.get("effort"), str)
    ):
        metadata["openai.request.reasoning_effort"] = reasoning["effort"]
    return metadata


def offered_tools(kwargs: Mapping[str, Any], content: dict[str, Any]) -> dict[str, Any]:
    tools = kwargs.get("tools")
    if isinstance(tools, (list, tuple)) and tools:
        content["tools"] = snapshot(tools)
    return content


def chat_input(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return offered_tools(kwargs, {"messages": snapshot(kwargs.get("messages"))})


def responses_input(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    content = {"input": snapshot(kwargs.get("input"))}
    instructions = kwargs.get("instructions")
    if isinstance(instructions, str):
        content["instructions"] = instructions
    return offered_tools(kwargs, content)


def embeddings_input(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {"input": snapshot(kwargs.get("input"))}


def _is_json_format(value: Any) -> bool:
    # ``None`` first: ``isinstance`` against an ABC runs Python code.
    return (
        value is not None
        and isinstance(value, Mapping)
        and value.get("type") in ("json_schema", "json_object")
    )


def chat_wants_json(kwargs: Mapping[str, Any]) -> bool:
    response_format = kwargs.get("response_format")  # mostly absent: no call more then
    return response_format is not None and _is_json_format(response_format)


def responses_wants_json(kwargs: Mapping[str, Any]) -> bool:
    text = kwargs.get("text")
    return isinstance(text, Mapping) and _is_json_format(text.get("format"))


def parse_json(text: str | None) -> Any:
    """``text`` as JSON, or as it is when it is not JSON (a model's invalid arguments)."""
    if not text:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def assistant_message(content: Any, tool_calls: tuple[ToolCall, ...], refusal: Any = None) -> Any:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {"id": call.id, "name": call.name, "arguments": call.arguments} for call in tool_calls
        ]
    if refusal:
        message["refusal"] = refusal
    return message


def int_or_none(value: Any) -> int | None:
    """A token count as the SDK gave it, or ``None`` when it is missing or not a count."""
    return value if isinstance(value, int) else None


def chat_usage(outcome: CallOutcome, usage: Any) -> None:
    if usage is None:
        return
    outcome.input_tokens = int_or_none(getattr(usage, "prompt_tokens", None))
    outcome.output_tokens = int_or_none(getattr(usage, "completion_tokens", None))
    details = getattr(usage, "prompt_tokens_details", None)
    outcome.cached_tokens = int_or_none(getattr(details, "cached_tokens", None))
    details = getattr(usage, "completion_tokens_details", None)
    outcome.reasoning_tokens = int_or_none(getattr(details, "reasoning_tokens", None))


def responses_usage(outcome: CallOutcome, usage: Any) -> None:
    if usage is None:
        return
    outcome.input_tokens = int_or_none(getattr(usage, "input_tokens", None))
    outcome.output_tokens = int_or_none(getattr(usage, "output_tokens", None))
    details = getattr(usage, "input_tokens_details", None)
    outcome.cached_tokens = int_or_none(getattr(details, "cached_tokens", None))
    # Not in every SDK version's model, nor in every compatible server's reply.
    outcome.cache_write_tokens = int_or_none(getattr(details, "cache_write_tokens", None))
    details = getattr(usage, "output_tokens_details", None)
    outcome.reasoning_tokens = int_or_none(getattr(details, "reasoning_tokens", None))


def choices_output(messages: list[Any]) -> Any:
    """A chat call's output: its one message, or with ``n > 1`` the list of every choice's."""
    if len(messages) == 1:
        return messages[0]
    return messages


def chat_outcome(completion: Any, wants_json: bool) -> CallOutcome:
    outcome = CallOutcome(model=completion.model, response_id=completion.id)
    choices = completion.choices or ()
    outcome.finish_reasons = [c.finish_reason for c in choices if c.finish_reason]
    chat_usage(outcome, completion.usage)
    messages = []
    for choice in choices:
        message = choice.message
        tool_calls = tuple(
            ToolCall(call.id, call.function.name, parse_json(call.function.arguments))
            for call in message.tool_calls or ()
            if call.type == "function"
        )
        outcome.tool_calls += tool_calls
        # .parse(): the app's own model. (A missing attribute of a pydantic
        # model costs microseconds through __getattr__: look in __dict__.)
        content = message.__dict__.get("parsed")
        if content is None:
            content = parse_json(message.content) if wants_json else message.content
        # LiteLLM's messages from non-OpenAI providers have no refusal field.
        messages.append(assistant_message(content, tool_calls, message.__dict__.get("refusal")))
    if messages:
        outcome.output = choices_output(messages)
    return outcome


#: A response's ``incomplete_details.reason`` as the conventions' finish reason.
_INCOMPLETE_REASONS = {"max_output_tokens": "length"}


def responses_finish_reason(response: Any, tool_calls: tuple[ToolCall, ...]) -> str | None:
    """Why a response ended, in the values chat completions and OpenTelemetry use.

    The Responses API has a status (``completed``, ``incomplete``,
    ``failed``) instead; stored as is, a filter or chart over finish reasons
    would need to know both APIs.
    """
    status = response.status
    if status == "completed":
        return "tool_calls" if tool_calls else "stop"
    if status == "failed":
        return "error"
    reason: str | None = getattr(getattr(response, "incomplete_details", None), "reason", None)
    if reason:
        return _INCOMPLETE_REASONS.get(reason, reason)
    return status or None


def responses_outcome(response: Any, wants_json: bool) -> CallOutcome:
    outcome = CallOutcome(model=response.model, response_id=response.id)
    responses_usage(outcome, response.usage)
    if response.status == "failed":
        outcome.error = getattr(response.error, "message", None) or "response failed"
    outcome.tool_calls = tuple(
        ToolCall(item.call_id, item.name, parse_json(item.arguments))
        for item in response.output or ()
        if item.type == "function_call"
    )
    reason = responses_finish_reason(response, outcome.tool_calls)
    outcome.finish_reasons = [reason] if reason else []
    content = response.output_parsed if hasattr(type(response), "output_parsed") else None
    if content is None:
        text = response.output_text or None
        content = parse_json(text) if wants_json else text
    outcome.output = assistant_message(content, outcome.tool_calls)
    return outcome


def embeddings_outcome(result: Any, wants_json: bool) -> CallOutcome:
    outcome = CallOutcome(model=result.model)
    usage = result.usage
    outcome.input_tokens = int_or_none(getattr(usage, "prompt_tokens", None))
    data = result.data or ()
    dimensions = len(data[0].embedding) if data and isinstance(data[0].embedding, list) else None
    outcome.output = {"embeddings": len(data), "dimensions": dimensions}
    return outcome
