"""The Anthropic Messages API, served by the same fake server as the OpenAI one.

``POST /v1/messages`` answers as a JSON message or, with ``"stream": true``,
as Anthropic's server-sent events (``message_start``,
``content_block_start``/``delta``/``stop``, ``message_delta`` with the
usage, ``message_stop``); ``POST /v1/messages/count_tokens`` counts a
prompt. Errors have Anthropic's body, ``{"type": "error", "error": {"type",
"message"}}``, so the real ``anthropic`` SDK raises what it raises in
production (``OverloadedError`` for a 529). The wire format was checked
against recordings of real traffic (see ``docs/testing.rst``).

The reply rules are those of the OpenAI engine (scripted replies come from
the same :meth:`~flask_llm_logs.testing.FakeOpenAI.reply_with`), in
Anthropic's terms:

* text ``"Fake reply to: <last user text>"``, or ``"Fake reply using the
  tool result: <content>"`` after a ``tool_result``;
* offered tools: the first (or the one ``tool_choice`` names) is called with
  input built from its ``input_schema``, unless ``tool_choice`` is ``none``;
* ``thinking`` enabled: a thinking block comes first;
* ``output_config.format`` of type ``json_schema``: a JSON text matching it;
* a reply longer than ``max_tokens`` is cut, with ``stop_reason`` ``max_tokens``.

Prompt caching is simulated: the prompt up to the last block marked with
``cache_control`` (or all of it, with a top-level ``cache_control``) is
written to the cache the first time this fake sees it and read from it
afterwards, so ``cache_creation_input_tokens`` and
``cache_read_input_tokens`` behave as Anthropic's.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from typing import Any

from .engine import Reply
from .engine import ReplyScript
from .engine import ToolCall
from .engine import new_id
from .errors import ApiError
from .errors import ScriptedFailure
from .schema import sample_for_schema
from .server import HttpRequest
from .server import HttpResponse
from .streaming import split_pieces
from .streaming import sse
from .tokens import count_tokens

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"

#: Anthropic's error ``type`` and default message per HTTP status.
ERROR_TYPES: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request (scripted by the fake)."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "Not found (scripted by the fake)."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
    500: ("api_error", "Internal server error (scripted by the fake)."),
    529: ("overloaded_error", "Overloaded"),
}

_EVENT_STREAM = "text/event-stream; charset=utf-8"


def anthropic_error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """The body Anthropic sends with an error ``status``."""
    kind, default = ERROR_TYPES.get(
        status, ("api_error" if status >= 500 else "invalid_request_error", f"HTTP {status}.")
    )
    return {
        "type": "error",
        "error": {"type": kind, "message": message if message is not None else default},
        "request_id": new_id("req_"),
    }


def _response(status: int, data: Any) -> HttpResponse:
    return HttpResponse(
        status,
        json.dumps(data, separators=(",", ":")).encode(),
        headers={"request-id": new_id("req_")},
    )


def _error(status: int, message: str | None = None) -> HttpResponse:
    return _response(status, anthropic_error_body(status, message))


# -- reading a request -------------------------------------------------------


def _block_text(block: Any) -> str:
    """What one content block contributes to the prompt."""
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return ""
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "tool_use":
        return str(block.get("name", "")) + json.dumps(block.get("input"))
    if kind == "tool_result":
        return _content_text(block.get("content"))
    if kind == "thinking":
        return str(block.get("thinking", ""))
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(_block_text(block) for block in content)
    return _block_text(content)


def _prompt_blocks(body: dict[str, Any]) -> list[Any]:
    """The prompt's blocks in order: the system's, then each message's."""
    blocks: list[Any] = []
    system = body.get("system")
    if isinstance(system, list):
        blocks.extend(system)
    elif system:
        blocks.append(system)
    for message in body["messages"]:
        content = message.get("content") if isinstance(message, dict) else message
        blocks.extend(content if isinstance(content, list) else [content])
    return blocks


def _require(body: dict[str, Any], key: str) -> Any:
    value = body.get(key)
    if value is None or value == []:
        raise ApiError(400, f"{key}: Field required")
    return value


class _PromptCache:
    """Prompt prefixes written to the fake's cache, by hash."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[str] = set()

    def usage(self, body: dict[str, Any]) -> tuple[int, int, int]:
        """``(uncached input tokens, cache reads, cache writes)`` of a request."""
        blocks = _prompt_blocks(body)
        tokens = [count_tokens(_block_text(block)) for block in blocks]
        if body.get("cache_control"):
            cut = len(blocks)
        else:
            marked = [
                i for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("cache_control")
            ]
            cut = marked[-1] + 1 if marked else 0
        if cut == 0:
            return sum(tokens), 0, 0
        prefix = sum(tokens[:cut])
        key = hashlib.sha256(
            json.dumps([body.get("model"), blocks[:cut]], sort_keys=True, default=str).encode()
        ).hexdigest()
        with self._lock:
            seen = key in self._seen
            self._seen.add(key)
        rest = sum(tokens[cut:])
        return (rest, prefix, 0) if seen else (rest, 0, prefix)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


# -- building a message ------------------------------------------------------


def _default_text(messages: list[Any]) -> tuple[str, bool]:
    """The default reply text, and whether the conversation ends with a tool result."""
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    content = last.get("content")
    if last.get("role") == "user" and isinstance(content, list):
        results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        if results:
            text = _content_text(results[-1].get("content"))
            return f"Fake reply using the tool result: {text}", True
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            text = _content_text(message.get("content"))
            if text:
                return f"Fake reply to: {text}", False
    return "Fake reply.", False


def _pick_tool(body: dict[str, Any]) -> tuple[str, Any] | None:
    tools = [
        (t.get("name", ""), t.get("input_schema"))
        for t in body.get("tools") or ()
        if isinstance(t, dict) and t.get("type") in (None, "custom")
    ]
    choice = body.get("tool_choice") or {}
    if not tools or choice.get("type") == "none":
        return None
    if choice.get("type") == "tool":
        for tool in tools:
            if tool[0] == choice.get("name"):
                return tool
    return tools[0]


def _wants_thinking(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _json_schema(body: dict[str, Any]) -> Any:
    output_format = (body.get("output_config") or {}).get("format") or {}
    return output_format.get("schema") if output_format.get("type") == "json_schema" else None


class AnthropicApi:
    """The Anthropic routes of the fake server (see the module docstring)."""

    def __init__(self, replies: ReplyScript, api_key: str | None = None) -> None:
        self.replies = replies
        self.api_key = api_key
        self.cache = _PromptCache()

    def handles(self, path: str) -> bool:
        return path in (MESSAGES_PATH, COUNT_TOKENS_PATH)

    def __call__(
        self,
        request: HttpRequest,
        payload: Any,
        parse_error: ApiError | None,
        failure: ScriptedFailure | None,
    ) -> HttpResponse:
        if self.api_key is not None and self.api_key not in (
            request.headers.get("x-api-key"),
            request.headers.get("authorization", "").removeprefix("Bearer "),
        ):
            return _error(401)
        if failure is not None:
            response = _error(failure.status, failure.message)
            response.headers.update(failure.headers)
            return response
        if parse_error is not None:
            return _error(400, "The request body is not valid JSON.")
        if request.method != "POST":
            return _error(405, f"Method {request.method} not allowed for {request.path}.")
        if not isinstance(payload, dict):
            return _error(400, "The request body must be a JSON object.")
        try:
            if request.path == COUNT_TOKENS_PATH:
                _require(payload, "model")
                _require(payload, "messages")
                return _response(200, {"input_tokens": self._count(payload)})
            message = self.message(payload)
        except ApiError as error:
            return _error(error.status, str(error))
        if not payload.get("stream"):
            return _response(200, message)
        return HttpResponse(
            200,
            content_type=_EVENT_STREAM,
            headers={"request-id": new_id("req_")},
            chunks=message_events(message),
        )

    @staticmethod
    def _count(body: dict[str, Any]) -> int:
        return sum(count_tokens(_block_text(block)) for block in _prompt_blocks(body))

    @staticmethod
    def _default_reply(body: dict[str, Any], default_text: str, after_tool: bool) -> Reply:
        tool = None if after_tool else _pick_tool(body)
        if tool is not None:
            return Reply(tool_calls=(ToolCall(tool[0], json.dumps(sample_for_schema(tool[1]))),))
        schema = _json_schema(body)
        if schema is not None:
            return Reply(text=json.dumps(sample_for_schema(schema)))
        return Reply(text=default_text)

    def message(self, body: dict[str, Any]) -> dict[str, Any]:
        """A ``message`` object for a ``/v1/messages`` body."""
        model = _require(body, "model")
        max_tokens = _require(body, "max_tokens")
        messages = _require(body, "messages")
        if not isinstance(messages, list):
            raise ApiError(400, "messages: Input should be a valid list")
        default_text, after_tool = _default_text(messages)
        reply = self.replies.take()
        content: list[dict[str, Any]] = []
        output_tokens = 0
        thinking_tokens = 0
        if _wants_thinking(body):
            thought = f"Thinking about: {default_text}"
            thinking_tokens = count_tokens(thought)
            content.append(
                {"type": "thinking", "thinking": thought, "signature": new_id("fake-signature-")}
            )
        if reply is None:
            reply = self._default_reply(body, default_text, after_tool)
        stop_reason = "tool_use" if reply.tool_calls else "end_turn"
        text = reply.text
        if text is not None:
            if isinstance(max_tokens, int) and count_tokens(text) > max_tokens:
                text, stop_reason = text[: max_tokens * 4], "max_tokens"
            content.append({"type": "text", "text": text})
            output_tokens += count_tokens(text)
        for call in reply.tool_calls:
            content.append(
                {
                    "type": "tool_use",
                    "id": new_id("toolu_"),
                    "name": call.name,
                    "input": json.loads(call.arguments),
                    "caller": {"type": "direct"},
                }
            )
            output_tokens += count_tokens(call.name + call.arguments)
        output_tokens = max(output_tokens, 1) + thinking_tokens
        input_tokens, cache_read, cache_write = self.cache.usage(body)
        usage: dict[str, Any] = {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": cache_write,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }
        if thinking_tokens:
            usage["output_tokens_details"] = {"thinking_tokens": thinking_tokens}
        return {
            "model": model,
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "stop_details": None,
            "usage": usage,
        }


# -- streaming -----------------------------------------------------------------


def _event(kind: str, **fields: Any) -> bytes:
    return sse({"type": kind, **fields}, kind)


def _block_events(index: int, block: dict[str, Any]) -> Iterator[bytes]:
    """``content_block_start``, its deltas, ``content_block_stop``, as Anthropic sends them."""
    kind = block["type"]
    if kind == "text":
        yield _event("content_block_start", index=index, content_block={"type": "text", "text": ""})
        for piece in split_pieces(block["text"]):
            yield _event(
                "content_block_delta", index=index, delta={"type": "text_delta", "text": piece}
            )
    elif kind == "tool_use":
        yield _event("content_block_start", index=index, content_block={**block, "input": {}})
        arguments = json.dumps(block["input"], separators=(",", ":"))
        for piece in ["", *split_pieces(arguments)]:
            yield _event(
                "content_block_delta",
                index=index,
                delta={"type": "input_json_delta", "partial_json": piece},
            )
    elif kind == "thinking":
        yield _event(
            "content_block_start",
            index=index,
            content_block={"type": "thinking", "thinking": "", "signature": ""},
        )
        for piece in split_pieces(block["thinking"]):
            yield _event(
                "content_block_delta",
                index=index,
                delta={"type": "thinking_delta", "thinking": piece},
            )
        yield _event(
            "content_block_delta",
            index=index,
            delta={"type": "signature_delta", "signature": block["signature"]},
        )
    yield _event("content_block_stop", index=index)


def message_events(message: dict[str, Any]) -> Iterator[bytes]:
    """The SSE body of a streamed message, cut from the finished ``message``.

    ``message_start`` carries the message without content, its input usage
    and one output token; a ``ping`` follows the first block's start, as
    with Anthropic; ``message_delta`` carries the stop reason and the final
    usage.
    """
    usage = message["usage"]
    start_usage = {**usage, "output_tokens": 1}
    start_usage.pop("output_tokens_details", None)
    started = {**message, "content": [], "stop_reason": None, "usage": start_usage}
    yield _event("message_start", message=started)
    for index, block in enumerate(message["content"]):
        events = _block_events(index, block)
        yield next(events)
        if index == 0:
            yield _event("ping")
        yield from events
    final_usage = {
        key: usage[key]
        for key in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
            "output_tokens_details",
        )
        if key in usage
    }
    yield _event(
        "message_delta",
        delta={"stop_reason": message["stop_reason"], "stop_sequence": None, "stop_details": None},
        usage=final_usage,
    )
    yield _event("message_stop")
