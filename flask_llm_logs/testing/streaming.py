"""Server-sent events for ``stream: true``, cut from a finished reply.

The engine builds the whole reply first; this module slices it into the
chunks and events OpenAI would have sent. Deriving the stream from the final
object guarantees that what a client accumulates from the deltas equals the
non-streamed reply, which is what stream-handling code must get right.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

#: Most pieces a text is cut into: "several chunks", without thousands of
#: events for long replies (benchmarks stream through the fake too).
MAX_PIECES = 8

_WORDS = re.compile(r"\S+\s*|\s+")


def split_pieces(text: str, max_pieces: int = MAX_PIECES) -> list[str]:
    """Cut ``text`` at word boundaries into at most ``max_pieces`` pieces.

    A text without spaces (compact JSON, one word) is cut by characters, so
    clients still see partial deltas that they must concatenate.
    """
    if not text:
        return [""]
    words = _WORDS.findall(text)
    if len(words) == 1:
        size = max(1, -(-len(text) // min(max_pieces, 4)))
        return [text[i : i + size] for i in range(0, len(text), size)]
    if len(words) <= max_pieces:
        return words
    per_piece = -(-len(words) // max_pieces)
    return ["".join(words[i : i + per_piece]) for i in range(0, len(words), per_piece)]


def sse(data: dict[str, Any] | str, event: str | None = None) -> bytes:
    """One server-sent event."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    if event is None:
        return f"data: {payload}\n\n".encode()
    return f"event: {event}\ndata: {payload}\n\n".encode()


# -- chat completions ------------------------------------------------------


def chat_chunks(completion: dict[str, Any], *, include_usage: bool) -> Iterator[bytes]:
    """The SSE body of a streamed chat completion, ending with ``data: [DONE]``.

    Per choice: a delta with the role, then content pieces (or tool-call
    deltas: name and id first, then argument pieces, each with its
    ``index``), then an empty delta with the ``finish_reason``. With
    ``include_usage``, a last chunk has ``choices: []`` and the usage, and the
    others ``usage: null``, as OpenAI does.
    """
    base = {
        "id": completion["id"],
        "object": "chat.completion.chunk",
        "created": completion["created"],
        "model": completion["model"],
        "service_tier": completion.get("service_tier"),
        "system_fingerprint": completion.get("system_fingerprint"),
    }
    if include_usage:
        base["usage"] = None

    def chunk(index: int, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return sse({**base, "choices": [choice]})

    for choice in completion["choices"]:
        index = choice["index"]
        message = choice["message"]
        tool_calls = message.get("tool_calls") or []
        if tool_calls:
            yield chunk(index, {"role": "assistant", "content": None, "refusal": None})
            for position, call in enumerate(tool_calls):
                function = call["function"]
                yield chunk(
                    index,
                    {
                        "tool_calls": [
                            {
                                "index": position,
                                "id": call["id"],
                                "type": "function",
                                "function": {"name": function["name"], "arguments": ""},
                            }
                        ]
                    },
                )
                for piece in split_pieces(function["arguments"]):
                    yield chunk(
                        index,
                        {"tool_calls": [{"index": position, "function": {"arguments": piece}}]},
                    )
        else:
            yield chunk(index, {"role": "assistant", "content": "", "refusal": None})
            for piece in split_pieces(message.get("content") or ""):
                yield chunk(index, {"content": piece})
        yield chunk(index, {}, choice["finish_reason"])
    if include_usage:
        yield sse({**base, "choices": [], "usage": completion["usage"]})
    yield b"data: [DONE]\n\n"


# -- responses -------------------------------------------------------------


def response_events(response: dict[str, Any]) -> Iterator[bytes]:
    """The SSE body of a streamed response, with ``sequence_number``s.

    ``response.created`` and ``response.in_progress`` carry the response
    without output or usage; then, per output item, ``output_item.added``,
    its content or argument deltas and the ``.done`` events; last
    ``response.completed`` (or ``response.incomplete``) with the whole
    response, usage included.
    """
    sequence = 0

    def event(kind: str, **fields: Any) -> bytes:
        nonlocal sequence
        data = {"type": kind, "sequence_number": sequence, **fields}
        sequence += 1
        return sse(data, kind)

    pending = {
        **response,
        "status": "in_progress",
        "output": [],
        "usage": None,
        "completed_at": None,
        "incomplete_details": None,
    }
    yield event("response.created", response=pending)
    yield event("response.in_progress", response=pending)
    for output_index, item in enumerate(response["output"]):
        if item["type"] == "message":
            yield from _message_events(event, output_index, item)
        elif item["type"] == "function_call":
            added = {**item, "arguments": "", "status": "in_progress"}
            yield event("response.output_item.added", output_index=output_index, item=added)
            for piece in split_pieces(item["arguments"]):
                yield event(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=output_index,
                    delta=piece,
                )
            yield event(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=output_index,
                name=item["name"],
                arguments=item["arguments"],
            )
            yield event("response.output_item.done", output_index=output_index, item=item)
        else:
            yield event("response.output_item.added", output_index=output_index, item=item)
            yield event("response.output_item.done", output_index=output_index, item=item)
    final = "response.completed" if response["status"] == "completed" else "response.incomplete"
    yield event(final, response=response)


def _message_events(event: Any, output_index: int, item: dict[str, Any]) -> Iterator[bytes]:
    added = copy.deepcopy(item)
    added["status"] = "in_progress"
    added["content"] = []
    yield event("response.output_item.added", output_index=output_index, item=added)
    for content_index, part in enumerate(item["content"]):
        ids = {"item_id": item["id"], "output_index": output_index, "content_index": content_index}
        text = part.get("text", "")
        yield event("response.content_part.added", **ids, part={**part, "text": ""})
        for piece in split_pieces(text):
            yield event("response.output_text.delta", **ids, delta=piece, logprobs=[])
        yield event("response.output_text.done", **ids, text=text, logprobs=[])
        yield event("response.content_part.done", **ids, part=part)
    yield event("response.output_item.done", output_index=output_index, item=item)
