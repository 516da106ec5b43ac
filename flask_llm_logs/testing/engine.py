"""Reply generation: request body in, OpenAI response body out.

Pure functions of the request (plus any reply a test scripted), with no HTTP
in sight, so that the synchronous endpoints and batch results share one
implementation and cannot drift apart.

Rules, all deterministic:

* The text of a reply is ``"Fake reply to: <last user message>"``, or
  ``"Fake reply using the tool result: <output>"`` right after a tool result.
* When function tools are offered and the conversation does not end with a
  tool result (chat) or contain one (responses), the model calls the first
  tool (or the one named by ``tool_choice``), with arguments built from the
  tool's JSON schema (:func:`~.schema.sample_for_schema`).
* A JSON schema response format gives a JSON reply matching the schema.
* Tokens: :func:`~.tokens.count_tokens` per message; cached tokens are
  those of every message but the last (the "prefix").
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import itertools
import json
import os
import random
import struct
import threading
import time
from collections.abc import Sequence
from typing import Any

from .errors import ApiError
from .schema import sample_for_schema
from .tokens import chat_message_text
from .tokens import content_text
from .tokens import count_tokens
from .tokens import input_item_text
from .tokens import reasoning_tokens

#: Embedding sizes of OpenAI's models, used when ``dimensions`` is not given.
EMBEDDING_DIMENSIONS = {
    "text-embedding-3-large": 3072,
    "text-embedding-3-small": 1536,
    "text-embedding-ada-002": 1536,
}
DEFAULT_EMBEDDING_DIMENSIONS = 1536


#: Random per process, so ids never clash between test runs sharing a database.
_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)


def new_id(prefix: str) -> str:
    """A unique id such as ``resp_3f2a...``: a random per-process part and a
    counter, cheaper than a UUID (a 10,000-line batch makes 40,000 ids)."""
    return f"{prefix}{_ID_PREFIX}{next(_ID_COUNTER):012x}"


@dataclasses.dataclass(frozen=True)
class ToolCall:
    """A tool call the fake model makes: a function name and its JSON arguments."""

    name: str
    arguments: str


@dataclasses.dataclass(frozen=True)
class Reply:
    """A reply scripted by a test with :meth:`FakeOpenAI.reply_with`."""

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


class ReplyScript:
    """Thread-safe FIFO of scripted replies for chat and responses calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._replies: list[Reply] = []

    def add(self, reply: Reply, times: int = 1) -> None:
        with self._lock:
            self._replies.extend([reply] * times)

    def take(self) -> Reply | None:
        if not self._replies:  # fast path: no lock when nothing is scripted
            return None
        with self._lock:
            return self._replies.pop(0) if self._replies else None

    def clear(self) -> None:
        with self._lock:
            self._replies.clear()


@dataclasses.dataclass
class Plan:
    """What the fake model answers, before it is shaped as chat or responses."""

    text: str | None
    tool_calls: list[ToolCall]
    truncated: bool = False


def _require(body: dict[str, Any], key: str) -> Any:
    value = body.get(key)
    if value is None or value == "" or value == []:
        raise ApiError(
            400,
            f"Missing required parameter: '{key}'.",
            code="missing_required_parameter",
            param=key,
        )
    return value


#: Chat Completions parameters the Responses API refuses, with the one to use instead.
RESPONSES_MOVED_PARAMETERS = {"max_tokens": "max_output_tokens"}


def _refuse_moved_parameters(body: dict[str, Any]) -> None:
    """Answer a Chat Completions parameter on ``/v1/responses`` as OpenAI does: a 400.

    Code that passes ``max_tokens`` offline must not first fail in production.
    """
    for name, replacement in RESPONSES_MOVED_PARAMETERS.items():
        if name in body:
            raise ApiError(
                400,
                f"Unsupported parameter: '{name}'. In the Responses API, this parameter "
                f"has moved to '{replacement}'.",
                code="unsupported_parameter",
                param=name,
            )


def _tool_arguments(parameters: dict[str, Any] | None) -> str:
    return json.dumps(sample_for_schema(parameters))


def pick_tool(
    tools: list[tuple[str, dict[str, Any] | None]], tool_choice: Any
) -> tuple[str, dict[str, Any] | None] | None:
    """The function tool the fake calls, or None when it must answer in text."""
    if not tools or tool_choice == "none":
        return None
    if isinstance(tool_choice, dict):
        wanted = tool_choice.get("name") or (tool_choice.get("function") or {}).get("name")
        for tool in tools:
            if tool[0] == wanted:
                return tool
    return tools[0]


def _json_reply(format_type: str | None, schema: dict[str, Any] | None, text: str) -> str:
    if format_type == "json_schema":
        return json.dumps(sample_for_schema(schema))
    if format_type == "json_object":
        return json.dumps({"reply": text})
    return text


def _truncate(text: str, max_tokens: Any) -> tuple[str, bool]:
    """Cut ``text`` to ``max_tokens`` by the fake's rule; True when it was cut."""
    if isinstance(max_tokens, int) and max_tokens > 0 and count_tokens(text) > max_tokens:
        return text[: max_tokens * 4], True
    return text, False


class Engine:
    """Builds chat completions, responses and embeddings from request bodies."""

    def __init__(self, replies: ReplyScript | None = None) -> None:
        self.replies = replies if replies is not None else ReplyScript()

    # -- shared ------------------------------------------------------------

    def plan(
        self,
        *,
        reply: Reply | None,
        scripted: bool,
        tool: tuple[str, dict[str, Any] | None] | None,
        default_text: str,
        format_type: str | None,
        schema: dict[str, Any] | None,
        max_tokens: Any,
    ) -> Plan:
        if reply is None and scripted:
            reply = self.replies.take()
        if reply is not None:
            return Plan(text=reply.text, tool_calls=list(reply.tool_calls))
        if tool is not None:
            return Plan(text=None, tool_calls=[ToolCall(tool[0], _tool_arguments(tool[1]))])
        text = _json_reply(format_type, schema, default_text)
        if format_type is None:
            text, truncated = _truncate(text, max_tokens)
            return Plan(text=text, tool_calls=[], truncated=truncated)
        return Plan(text=text, tool_calls=[])

    @staticmethod
    def output_tokens(plan: Plan) -> int:
        tokens = count_tokens(plan.text) if plan.text is not None else 0
        for call in plan.tool_calls:
            tokens += count_tokens(call.name + call.arguments)
        return max(tokens, 1)

    # -- chat completions --------------------------------------------------

    def chat_completion(
        self, body: dict[str, Any], *, reply: Reply | None = None, scripted: bool = True
    ) -> dict[str, Any]:
        """A ``chat.completion`` object for a ``/v1/chat/completions`` body."""
        model = _require(body, "model")
        messages = _require(body, "messages")
        if not isinstance(messages, list):
            raise ApiError(400, "'messages' must be an array.", param="messages")
        texts = [chat_message_text(message) for message in messages]
        prompt_tokens = sum(count_tokens(text) for text in texts)
        cached_tokens = prompt_tokens - count_tokens(texts[-1])
        last = messages[-1] if isinstance(messages[-1], dict) else {}
        after_tool = last.get("role") == "tool"

        if after_tool:
            default_text = f"Fake reply using the tool result: {content_text(last.get('content'))}"
        else:
            user_text = next(
                (
                    chat_message_text(m)
                    for m in reversed(messages)
                    if isinstance(m, dict) and m.get("role") == "user"
                ),
                "",
            )
            default_text = f"Fake reply to: {user_text}" if user_text else "Fake reply."

        tools = [
            (t["function"].get("name", ""), t["function"].get("parameters"))
            for t in body.get("tools") or ()
            if isinstance(t, dict) and t.get("type") == "function" and "function" in t
        ]
        response_format = body.get("response_format") or {}
        json_schema = response_format.get("json_schema") or {}
        format_type = response_format.get("type")
        plan = self.plan(
            reply=reply,
            scripted=scripted,
            tool=None if after_tool else pick_tool(tools, body.get("tool_choice")),
            default_text=default_text,
            format_type=format_type if format_type != "text" else None,
            schema=json_schema.get("schema"),
            max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        )
        visible = self.output_tokens(plan)
        reasoning = reasoning_tokens(model, visible)
        completion_tokens = visible + reasoning

        message: dict[str, Any] = {
            "role": "assistant",
            "content": plan.text,
            "refusal": None,
            "annotations": [],
        }
        if plan.tool_calls:
            message["tool_calls"] = [
                {
                    "id": new_id("call_"),
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in plan.tool_calls
            ]
            finish_reason = "tool_calls"
        else:
            finish_reason = "length" if plan.truncated else "stop"
        n = body.get("n") or 1
        return {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": i, "message": message, "logprobs": None, "finish_reason": finish_reason}
                for i in range(n)
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens * n,
                "total_tokens": prompt_tokens + completion_tokens * n,
                "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": reasoning * n,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fakeopenai",
        }

    # -- responses ---------------------------------------------------------

    def response(
        self, body: dict[str, Any], *, reply: Reply | None = None, scripted: bool = True
    ) -> dict[str, Any]:
        """A ``response`` object for a ``/v1/responses`` body."""
        model = _require(body, "model")
        _refuse_moved_parameters(body)
        raw_input = body.get("input")
        if raw_input is None and not body.get("instructions") and not body.get("prompt"):
            _require(body, "input")
        items: list[Any]
        if raw_input is None:
            items = []
        elif isinstance(raw_input, str):
            items = [{"role": "user", "content": raw_input}]
        else:
            items = list(raw_input)
        instructions = body.get("instructions")
        texts = [instructions] if isinstance(instructions, str) and instructions else []
        texts += [input_item_text(item) for item in items]
        input_tokens = sum(count_tokens(text) for text in texts)
        cached_tokens = input_tokens - count_tokens(texts[-1]) if texts else 0

        outputs = [
            i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"
        ]
        if outputs:
            default_text = f"Fake reply using the tool result: {input_item_text(outputs[-1])}"
        else:
            user_text = next(
                (
                    input_item_text(i)
                    for i in reversed(items)
                    if isinstance(i, dict) and i.get("role") == "user"
                ),
                "",
            )
            default_text = f"Fake reply to: {user_text}" if user_text else "Fake reply."

        tools = [
            (t.get("name", ""), t.get("parameters"))
            for t in body.get("tools") or ()
            if isinstance(t, dict) and t.get("type") == "function"
        ]
        text_config = body.get("text") or {}
        text_format = text_config.get("format") or {}
        format_type = text_format.get("type")
        plan = self.plan(
            reply=reply,
            scripted=scripted,
            tool=None if outputs else pick_tool(tools, body.get("tool_choice")),
            default_text=default_text,
            format_type=format_type if format_type != "text" else None,
            schema=text_format.get("schema"),
            max_tokens=body.get("max_output_tokens"),
        )
        visible = self.output_tokens(plan)
        reasoning = reasoning_tokens(model, visible)
        output_tokens = visible + reasoning

        output: list[dict[str, Any]] = []
        if plan.text is not None:
            output.append(
                {
                    "id": new_id("msg_"),
                    "type": "message",
                    "status": "incomplete" if plan.truncated else "completed",
                    "role": "assistant",
                    "content": [
                        {
                            "type": "output_text",
                            "text": plan.text,
                            "annotations": [],
                            "logprobs": [],
                        }
                    ],
                }
            )
        for call in plan.tool_calls:
            output.append(
                {
                    "id": new_id("fc_"),
                    "type": "function_call",
                    "status": "completed",
                    "call_id": new_id("call_"),
                    "name": call.name,
                    "arguments": call.arguments,
                }
            )
        now = int(time.time())
        return {
            "id": new_id("resp_"),
            "object": "response",
            "created_at": now,
            "status": "incomplete" if plan.truncated else "completed",
            "completed_at": None if plan.truncated else now,
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if plan.truncated else None,
            "instructions": instructions,
            "max_output_tokens": body.get("max_output_tokens"),
            "metadata": body.get("metadata") or {},
            "model": model,
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": text_format or {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": cached_tokens, "cache_write_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": reasoning},
                "total_tokens": input_tokens + output_tokens,
            },
            "user": body.get("user"),
        }

    # -- embeddings --------------------------------------------------------

    def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        """A ``list`` of ``embedding`` objects for a ``/v1/embeddings`` body."""
        model = _require(body, "model")
        raw = _require(body, "input")
        inputs: Sequence[Any]
        if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
            inputs = [raw]
        else:
            inputs = raw
        dimensions = body.get("dimensions") or EMBEDDING_DIMENSIONS.get(
            model, DEFAULT_EMBEDDING_DIMENSIONS
        )
        base64_format = body.get("encoding_format") == "base64"
        data = []
        prompt_tokens = 0
        for index, item in enumerate(inputs):
            if isinstance(item, str):
                text, tokens = item, count_tokens(item)
            else:  # a list of token ids
                text, tokens = " ".join(map(str, item)), max(1, len(item))
            prompt_tokens += tokens
            vector = embedding_vector(text, int(dimensions))
            embedding: Any = (
                base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
                if base64_format
                else list(vector)
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        return {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }


@functools.lru_cache(maxsize=4096)
def embedding_vector(text: str, dimensions: int) -> tuple[float, ...]:
    """A unit vector that depends only on ``text`` and ``dimensions``.

    Seeded from the text (``random.Random`` hashes strings with SHA-512, so the
    result is stable across processes): equal texts get equal vectors, so
    similarity search over fake embeddings still finds exact matches.
    """
    rng = random.Random(text)
    values = [rng.random() * 2.0 - 1.0 for _ in range(dimensions)]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return tuple(v / norm for v in values)
