"""The fake Anthropic Messages API speaks the wire format of the real one."""

from __future__ import annotations

import json
from typing import Any
from typing import cast

import anthropic
import httpx
import pytest
from anthropic.types import MessageParam
from anthropic.types import TextBlockParam
from anthropic.types import ToolParam
from anthropic.types import ToolUseBlock
from anthropic.types import ToolUseBlockParam

from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.anthropic_messages import MESSAGES
from tests.helpers.anthropic_messages import text_of

MODEL = "claude-sonnet-4-5"
TOOLS: list[ToolParam] = [
    {
        "name": "lookup_price",
        "input_schema": {
            "type": "object",
            "properties": {"symbol": {"type": "string"}},
            "required": ["symbol"],
        },
    }
]


def post(fake: FakeOpenAI, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{fake.url}/v1/messages", json=body, headers={"x-api-key": "test"})


def events_of(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """``(event name, data)`` pairs, checking each name matches its data's type."""
    found = []
    for block in response.text.strip().split("\n\n"):
        name_line, data_line = block.split("\n")
        name = name_line.removeprefix("event: ")
        data = json.loads(data_line.removeprefix("data: "))
        assert data["type"] == name
        found.append((name, data))
    return found


def test_message_json(fake_openai: FakeOpenAI) -> None:
    response = post(fake_openai, {"model": MODEL, "max_tokens": 100, "messages": MESSAGES})
    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")
    body = response.json()
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["content"] == [{"type": "text", "text": f"Fake reply to: {MESSAGES[0]['content']}"}]
    assert body["stop_reason"] == "end_turn"
    assert set(body["usage"]) >= {
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
    }


def test_stream_events_in_anthropic_order(fake_openai: FakeOpenAI) -> None:
    fake_openai.reply_with("Let me look.", tool_calls=[("lookup_price", {"symbol": "AAPL"})])
    response = post(
        fake_openai,
        {
            "model": MODEL,
            "max_tokens": 100,
            "messages": MESSAGES,
            "tools": TOOLS,
            "stream": True,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
        },
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = events_of(response)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert names[2] == "ping"  # after the first block's start, as Anthropic sends it
    starts = [
        data["content_block"]["type"] for name, data in events if name == "content_block_start"
    ]
    assert starts == ["thinking", "text", "tool_use"]
    deltas = {data["delta"]["type"] for name, data in events if name == "content_block_delta"}
    assert deltas == {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"}
    arguments = "".join(
        data["delta"]["partial_json"]
        for name, data in events
        if name == "content_block_delta" and data["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(arguments) == {"symbol": "AAPL"}
    message_delta = events[-2][1]
    assert message_delta["delta"]["stop_reason"] == "tool_use"
    assert message_delta["usage"]["output_tokens_details"]["thinking_tokens"] > 0


def test_streamed_message_equals_the_whole_one(fake_openai: FakeOpenAI) -> None:
    client = fake_openai.anthropic_client()
    fake_openai.reply_with("one two three four five six seven eight nine ten", times=2)
    whole = client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    with client.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
        streamed = stream.get_final_message()
    assert [b.model_dump() for b in streamed.content] == [b.model_dump() for b in whole.content]
    assert streamed.usage.output_tokens == whole.usage.output_tokens
    assert streamed.stop_reason == whole.stop_reason


def test_tool_result_and_tool_choice(fake_openai: FakeOpenAI) -> None:
    client = fake_openai.anthropic_client()
    called = client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES, tools=TOOLS)
    [tool_use] = called.content
    assert isinstance(tool_use, ToolUseBlock)
    assert (called.stop_reason, tool_use.name, tool_use.input) == (
        "tool_use",
        "lookup_price",
        {"symbol": "sample symbol"},
    )
    conversation: list[MessageParam] = [
        *MESSAGES,
        # The block is sent back as the caller dumped it, not as the SDK would serialise it.
        {"role": "assistant", "content": [cast(ToolUseBlockParam, tool_use.model_dump())]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "42"}],
        },
    ]
    answered = client.messages.create(
        model=MODEL, max_tokens=100, tools=TOOLS, messages=conversation
    )
    assert text_of(answered) == "Fake reply using the tool result: 42"
    not_called = client.messages.create(
        model=MODEL, max_tokens=100, messages=MESSAGES, tools=TOOLS, tool_choice={"type": "none"}
    )
    assert not_called.stop_reason == "end_turn"


def test_max_tokens_cuts_the_reply(fake_openai: FakeOpenAI) -> None:
    message = fake_openai.anthropic_client().messages.create(
        model=MODEL, max_tokens=2, messages=[{"role": "user", "content": "Count to one hundred"}]
    )
    assert message.stop_reason == "max_tokens"
    assert len(text_of(message)) == 8


def test_prompt_cache_is_written_then_read(fake_openai: FakeOpenAI) -> None:
    client = fake_openai.anthropic_client()
    system: list[TextBlockParam] = [
        {"type": "text", "text": "Rules. " * 50, "cache_control": {"type": "ephemeral"}}
    ]
    first = client.messages.create(model=MODEL, max_tokens=10, system=system, messages=MESSAGES)
    second = client.messages.create(model=MODEL, max_tokens=10, system=system, messages=MESSAGES)
    assert first.usage.cache_creation_input_tokens is not None  # the SDK types it optional
    assert first.usage.cache_creation_input_tokens > 0 == first.usage.cache_read_input_tokens
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert first.usage.input_tokens == second.usage.input_tokens > 0
    assert client.messages.count_tokens(model=MODEL, system=system, messages=MESSAGES).input_tokens


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_scripted_errors_have_anthropic_s_body(
    fake_openai: FakeOpenAI,
    status: int,
    error_class: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    fake_openai.fail_next(status, path="/v1/messages")
    with pytest.raises(error_class) as raised:
        fake_openai.anthropic_client().messages.create(
            model=MODEL, max_tokens=10, messages=MESSAGES
        )
    body = raised.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert raised.value.status_code == status


def test_missing_parameters_and_api_key(fake_openai: FakeOpenAI) -> None:
    response = post(fake_openai, {"model": MODEL, "messages": MESSAGES})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }
    with FakeOpenAI(api_key="right") as guarded:
        with pytest.raises(anthropic.AuthenticationError):
            guarded.anthropic_client(api_key="wrong").messages.create(
                model=MODEL, max_tokens=10, messages=MESSAGES
            )
        assert (
            guarded.anthropic_client()
            .messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
            .content
        )
