"""The fake OpenAI server, driven through the real ``openai`` SDK.

Every endpoint is exercised the way user code calls it (``create``,
``stream``, ``parse``, sync and async), so a change in the SDK's parsing
that the fake no longer satisfies shows up here first.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import json
import struct
import time
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionFunctionToolParam
from openai.types.chat import ChatCompletionMessageParam
from openai.types.responses import FunctionToolParam
from pydantic import BaseModel

from flask_llm_logs.testing import FakeOpenAI
from flask_llm_logs.testing import count_tokens
from flask_llm_logs.testing.errors import ApiError

MODEL = "gpt-4.1-mini"

WEATHER_PARAMETERS: dict[str, object] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "units": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer"},
    },
    "required": ["city", "units"],
}
CHAT_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": WEATHER_PARAMETERS},
}
RESPONSES_TOOL: FunctionToolParam = {
    "type": "function",
    "name": "get_weather",
    "parameters": WEATHER_PARAMETERS,
    "strict": None,
}


class Mood(str, enum.Enum):
    happy = "happy"
    sad = "sad"


class Step(BaseModel):
    title: str
    minutes: int


class Plan(BaseModel):
    name: str
    mood: Mood
    steps: list[Step]
    budget: float | None


# -- chat completions --------------------------------------------------------


def test_chat_reply_and_usage(fake_openai: FakeOpenAI, openai_client: openai.OpenAI) -> None:
    messages: list[Any] = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello to the team"},
    ]
    completion = openai_client.chat.completions.create(model=MODEL, messages=messages)

    choice = completion.choices[0]
    assert choice.message.content == "Fake reply to: Say hello to the team"
    assert choice.finish_reason == "stop"
    assert completion.model == MODEL
    usage = completion.usage
    assert usage is not None
    prompt = count_tokens("You are terse.") + count_tokens("Say hello to the team")
    assert usage.prompt_tokens == prompt
    assert usage.completion_tokens == count_tokens(choice.message.content)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == count_tokens("You are terse.")
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0
    assert fake_openai.last_request is not None
    assert fake_openai.last_request.body["messages"] == messages


def test_chat_reasoning_model_and_max_tokens(openai_client: openai.OpenAI) -> None:
    question: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "Explain the rule of three in detail"}
    ]
    reasoning = openai_client.chat.completions.create(model="o4-mini", messages=question)
    assert reasoning.usage is not None and reasoning.usage.completion_tokens_details is not None
    visible = count_tokens(reasoning.choices[0].message.content or "")
    assert reasoning.usage.completion_tokens_details.reasoning_tokens == visible
    assert reasoning.usage.completion_tokens == 2 * visible

    short = openai_client.chat.completions.create(model=MODEL, messages=question, max_tokens=2)
    assert short.choices[0].finish_reason == "length"
    assert short.choices[0].message.content == "Fake rep"


def test_chat_stream_with_usage(openai_client: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "Explain stop losses in two sentences"}]
    expected = openai_client.chat.completions.create(model=MODEL, messages=messages)
    stream = openai_client.chat.completions.create(
        model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) > 2
    assert "".join(pieces) == expected.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.model_dump() == expected.usage.model_dump()  # type: ignore[union-attr]
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_stream_without_usage_and_early_exit(openai_client: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "one two three four five six"}]
    chunks = list(
        openai_client.chat.completions.create(model=MODEL, messages=messages, stream=True)
    )
    assert chunks[-1].choices and all(c.usage is None for c in chunks)

    with openai_client.chat.completions.create(model=MODEL, messages=messages, stream=True) as s:
        next(iter(s))  # leave the stream unfinished: the server must cope
    after = openai_client.chat.completions.create(model=MODEL, messages=messages)
    assert after.choices[0].message.content == "Fake reply to: one two three four five six"


def test_chat_tool_call_then_tool_result(openai_client: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = openai_client.chat.completions.create(model=MODEL, messages=messages, tools=[CHAT_TOOL])

    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "sample city", "units": "celsius"}

    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"})
    second = openai_client.chat.completions.create(
        model=MODEL, messages=messages, tools=[CHAT_TOOL]
    )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "Fake reply using the tool result: 18C and sunny"
    assert second.usage is not None and second.usage.prompt_tokens_details is not None
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached is not None and cached > 0


def test_chat_tool_choice_none_and_named(openai_client: openai.OpenAI) -> None:
    other: ChatCompletionFunctionToolParam = {
        "type": "function",
        "function": {"name": "get_time", "parameters": {}},
    }
    messages: list[Any] = [{"role": "user", "content": "hi"}]
    plain = openai_client.chat.completions.create(
        model=MODEL, messages=messages, tools=[CHAT_TOOL, other], tool_choice="none"
    )
    assert plain.choices[0].message.tool_calls is None
    named = openai_client.chat.completions.create(
        model=MODEL,
        messages=messages,
        tools=[CHAT_TOOL, other],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    (call,) = named.choices[0].message.tool_calls or []
    assert call.function.name == "get_time"  # type: ignore[union-attr]
    assert call.function.arguments == "{}"  # type: ignore[union-attr]


def test_chat_tool_call_streamed(openai_client: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    chunks = list(
        openai_client.chat.completions.create(
            model=MODEL, messages=messages, tools=[CHAT_TOOL], stream=True
        )
    )
    deltas = [d for c in chunks for d in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id and deltas[0].function and deltas[0].function.name == "get_weather"
    assert all(d.index == 0 for d in deltas)
    argument_pieces = [d.function.arguments for d in deltas[1:] if d.function]
    assert len(argument_pieces) > 1
    assert json.loads("".join(p or "" for p in argument_pieces))["city"] == "sample city"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    with openai_client.chat.completions.stream(
        model=MODEL, messages=messages, tools=[CHAT_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls or []
    assert json.loads(call.function.arguments)["units"] == "celsius"


def test_chat_parse(openai_client: openai.OpenAI) -> None:
    completion = openai_client.chat.completions.parse(
        model=MODEL,
        messages=[{"role": "user", "content": "Plan my morning"}],
        response_format=Plan,
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Plan)
    assert parsed.mood is Mood.happy
    assert parsed.steps == [Step(title="sample title", minutes=1)]

    json_mode = openai_client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "hi"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(json_mode.choices[0].message.content or "") == {"reply": "Fake reply to: hi"}


# -- responses -----------------------------------------------------------------


def test_responses_plain(fake_openai: FakeOpenAI, openai_client: openai.OpenAI) -> None:
    response = openai_client.responses.create(
        model=MODEL, instructions="Answer in one word.", input="Is the market open on Sunday?"
    )
    assert response.object == "response" and response.status == "completed"
    assert response.id.startswith("resp_")
    assert response.output_text == "Fake reply to: Is the market open on Sunday?"
    message = response.output[0]
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "output_text" and message.content[0].annotations == []
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens == count_tokens("Answer in one word.") + count_tokens(
        "Is the market open on Sunday?"
    )
    assert usage.input_tokens_details.cached_tokens == count_tokens("Answer in one word.")
    assert usage.output_tokens == count_tokens(response.output_text)
    assert usage.output_tokens_details.reasoning_tokens == 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens

    listed = openai_client.responses.create(
        model=MODEL,
        input=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "input_text", "text": "second question"}]},
        ],
    )
    assert listed.output_text == "Fake reply to: second question"
    assert listed.usage is not None and listed.usage.input_tokens_details.cached_tokens == 2


def test_responses_stream_events(openai_client: openai.OpenAI) -> None:
    expected = openai_client.responses.create(model=MODEL, input="Summarize the quarter please")
    events = list(
        openai_client.responses.create(
            model=MODEL, input="Summarize the quarter please", stream=True
        )
    )
    types = [event.type for event in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) > 2 and "".join(deltas) == expected.output_text
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == expected.output_text
    assert completed.response.usage == expected.usage
    assert events[0].response.id == completed.response.id  # type: ignore[union-attr]


def test_responses_stream_helper(openai_client: openai.OpenAI) -> None:
    with openai_client.responses.stream(model=MODEL, input="Tell me a story") as stream:
        texts = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(texts) == final.output_text == "Fake reply to: Tell me a story"
    assert final.usage is not None and final.usage.output_tokens > 0


def test_responses_function_call_then_output(openai_client: openai.OpenAI) -> None:
    first = openai_client.responses.create(
        model=MODEL, input="Weather in Paris?", tools=[RESPONSES_TOOL]
    )
    (call,) = first.output
    assert call.type == "function_call"
    assert call.name == "get_weather" and call.call_id.startswith("call_")
    assert json.loads(call.arguments) == {"city": "sample city", "units": "celsius"}

    second = openai_client.responses.create(
        model=MODEL,
        tools=[RESPONSES_TOOL],
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "18C"},
        ],
    )
    assert second.output_text == "Fake reply using the tool result: 18C"


def test_responses_function_call_streamed(openai_client: openai.OpenAI) -> None:
    with openai_client.responses.stream(
        model=MODEL, input="Weather?", tools=[RESPONSES_TOOL]
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    (call,) = final.output
    assert call.type == "function_call"
    assert len(deltas) > 1 and "".join(deltas) == call.arguments
    assert json.loads(call.arguments)["units"] == "celsius"


def test_responses_parse(openai_client: openai.OpenAI) -> None:
    response = openai_client.responses.parse(model=MODEL, input="Plan my day", text_format=Plan)
    parsed = response.output_parsed
    assert isinstance(parsed, Plan)
    assert parsed.name == "sample name" and parsed.budget == 1.0

    with openai_client.responses.stream(model=MODEL, input="Plan", text_format=Plan) as stream:
        assert stream.get_final_response().output_parsed == parsed


def test_responses_max_output_tokens(openai_client: openai.OpenAI) -> None:
    response = openai_client.responses.create(
        model=MODEL, input="A long question about things", max_output_tokens=3
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "Fake reply t"


def test_responses_refuse_max_tokens_as_openai_does(openai_client: openai.OpenAI) -> None:
    """The Responses API has ``max_output_tokens``; OpenAI answers ``max_tokens`` with a 400."""
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.responses.create(model=MODEL, input="Hi", extra_body={"max_tokens": 5})
    error = caught.value
    assert error.status_code == 400
    assert error.code == "unsupported_parameter" and error.param == "max_tokens"
    assert error.type == "invalid_request_error"
    assert isinstance(error.body, dict)
    assert error.body["message"].startswith("Unsupported parameter: 'max_tokens'")
    assert "max_output_tokens" in error.body["message"]


# -- embeddings ----------------------------------------------------------------


def test_embeddings_float_and_base64(openai_client: openai.OpenAI) -> None:
    floats = openai_client.embeddings.create(
        model="text-embedding-3-small",
        input=["momentum", "mean reversion"],
        dimensions=16,
        encoding_format="float",
    )
    assert [item.index for item in floats.data] == [0, 1]
    vector = floats.data[0].embedding
    assert len(vector) == 16
    assert abs(sum(v * v for v in vector) - 1.0) < 1e-9
    assert floats.usage.prompt_tokens == count_tokens("momentum") + count_tokens("mean reversion")

    decoded_by_sdk = openai_client.embeddings.create(  # the SDK asks for base64 by default
        model="text-embedding-3-small", input="momentum", dimensions=16
    )
    assert decoded_by_sdk.data[0].embedding == pytest.approx(vector, abs=1e-6)

    raw = openai_client.embeddings.create(
        model="text-embedding-3-small", input="momentum", dimensions=16, encoding_format="base64"
    )
    encoded = raw.data[0].embedding
    assert isinstance(encoded, str)
    assert list(struct.unpack("<16f", base64.b64decode(encoded))) == pytest.approx(vector, abs=1e-6)

    default_size = openai_client.embeddings.create(model="text-embedding-3-large", input="x")
    assert len(default_size.data[0].embedding) == 3072


# -- files ---------------------------------------------------------------------


def test_files_upload_and_read_back(openai_client: openai.OpenAI) -> None:
    content = b'{"a": 1}\n{"b": "\xc3\xa9t\xc3\xa9"}\n'
    uploaded = openai_client.files.create(file=("input.jsonl", content), purpose="batch")
    assert uploaded.id.startswith("file-")
    assert (uploaded.filename, uploaded.purpose, uploaded.bytes) == (
        "input.jsonl",
        "batch",
        len(content),
    )

    assert openai_client.files.retrieve(uploaded.id).status == "processed"
    assert openai_client.files.content(uploaded.id).read() == content
    assert [f.id for f in openai_client.files.list()] == [uploaded.id]
    assert openai_client.files.delete(uploaded.id).deleted
    with pytest.raises(openai.NotFoundError):
        openai_client.files.retrieve(uploaded.id)


# -- batches -------------------------------------------------------------------


def batch_file(
    client: openai.OpenAI,
    count: int,
    *,
    url: str = "/v1/responses",
    model: str = MODEL,
    extra: list[dict[str, Any]] | None = None,
) -> str:
    lines = [
        {
            "custom_id": f"r{i}",
            "method": "POST",
            "url": url,
            "body": {"model": model, "instructions": "Classify.", "input": f"review {i}"}
            if url == "/v1/responses"
            else {"model": model, "messages": [{"role": "user", "content": f"review {i}"}]},
        }
        for i in range(count)
    ]
    lines += extra or []
    payload = "\n".join(json.dumps(line) for line in lines).encode()
    return client.files.create(file=("batch.jsonl", payload), purpose="batch").id


def read_jsonl(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def test_batch_completed_with_a_failed_line(
    fake_openai: FakeOpenAI, openai_client: openai.OpenAI
) -> None:
    file_id = batch_file(openai_client, 3)
    batch = openai_client.batches.create(
        input_file_id=file_id,
        endpoint="/v1/responses",
        completion_window="24h",
        metadata={"purpose": "reviews"},
    )
    assert batch.status == "validating"
    assert batch.request_counts is not None and batch.request_counts.total == 3

    fake_openai.batches.advance(batch.id, "in_progress")
    assert openai_client.batches.retrieve(batch.id).status == "in_progress"
    fake_openai.batches.complete(batch.id, fail={"r1": (400, "Invalid 'input'.")})

    done = openai_client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.completed_at and done.in_progress_at
    assert done.metadata == {"purpose": "reviews"} and done.model == MODEL
    assert done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (2, 1)
    outputs = read_jsonl(openai_client, done.output_file_id)
    assert {line["custom_id"] for line in outputs} == {"r0", "r2"}
    line = next(line for line in outputs if line["custom_id"] == "r2")
    assert line["id"].startswith("batch_req_") and line["error"] is None
    assert line["response"]["status_code"] == 200
    assert line["response"]["request_id"].startswith("req_")
    body = openai.types.responses.Response.model_validate(line["response"]["body"])
    assert body.output_text == "Fake reply to: review 2"
    (error,) = read_jsonl(openai_client, done.error_file_id)
    assert error["custom_id"] == "r1" and error["error"] is None
    assert error["response"]["status_code"] == 400
    assert error["response"]["body"]["error"]["message"] == "Invalid 'input'."
    assert done.usage is not None and done.usage.input_tokens > 0


def test_batch_validation_failure(openai_client: openai.OpenAI) -> None:
    extra = [
        {"custom_id": "r0", "method": "POST", "url": "/v1/responses", "body": {"model": MODEL}},
        {"custom_id": "x1", "method": "POST", "url": "/v1/embeddings", "body": {"model": MODEL}},
        {"custom_id": "x2", "method": "POST", "url": "/v1/responses", "body": {"model": "o3"}},
    ]
    file_id = batch_file(openai_client, 2, extra=extra)
    batch = openai_client.batches.create(
        input_file_id=file_id, endpoint="/v1/responses", completion_window="24h"
    )
    assert batch.status == "failed" and batch.failed_at
    assert batch.errors is not None and batch.errors.data is not None
    found = {(e.code, e.line) for e in batch.errors.data}
    assert found == {("duplicate_custom_id", 3), ("invalid_url", 4), ("mismatched_model", 5)}

    with pytest.raises(openai.BadRequestError):
        openai_client.batches.create(
            input_file_id="file-missing", endpoint="/v1/responses", completion_window="24h"
        )


def test_batch_list_paging(openai_client: openai.OpenAI) -> None:
    file_id = batch_file(openai_client, 1)
    created = [
        openai_client.batches.create(
            input_file_id=file_id, endpoint="/v1/responses", completion_window="24h"
        ).id
        for _ in range(5)
    ]
    newest_first = created[::-1]

    first = openai_client.batches.list(limit=2)
    assert [b.id for b in first.data] == newest_first[:2]
    assert first.has_more is True
    second = openai_client.batches.list(limit=2, after=first.data[-1].id)
    assert [b.id for b in second.data] == newest_first[2:4]
    raw = openai_client.batches.with_raw_response.list(limit=2, after=newest_first[3])
    page = json.loads(raw.text)
    assert page["has_more"] is False
    assert page["first_id"] == page["last_id"] == newest_first[4]
    assert [b.id for b in openai_client.batches.list(limit=2)] == newest_first  # auto-paging


def test_batch_cancelled(fake_openai: FakeOpenAI, openai_client: openai.OpenAI) -> None:
    batch = openai_client.batches.create(
        input_file_id=batch_file(openai_client, 3),
        endpoint="/v1/responses",
        completion_window="24h",
    )
    assert openai_client.batches.cancel(batch.id).status == "cancelling"
    assert openai_client.batches.retrieve(batch.id).status == "cancelling"

    fake_openai.batches.cancel(batch.id, completed=1)
    cancelled = openai_client.batches.retrieve(batch.id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at and cancelled.cancelling_at
    assert [line["custom_id"] for line in read_jsonl(openai_client, cancelled.output_file_id)] == [
        "r0"
    ]
    errors = read_jsonl(openai_client, cancelled.error_file_id)
    assert [(e["custom_id"], e["error"]["code"]) for e in errors] == [
        ("r1", "batch_cancelled"),
        ("r2", "batch_cancelled"),
    ]
    with pytest.raises(openai.BadRequestError):
        openai_client.batches.cancel(batch.id)


def test_batch_expired_with_partial_results(
    fake_openai: FakeOpenAI, openai_client: openai.OpenAI
) -> None:
    batch = openai_client.batches.create(
        input_file_id=batch_file(openai_client, 5),
        endpoint="/v1/responses",
        completion_window="24h",
    )
    fake_openai.batches.advance(batch.id, "in_progress")
    fake_openai.batches.expire(batch.id, completed=2)

    expired = openai_client.batches.retrieve(batch.id)
    assert expired.status == "expired" and expired.expired_at
    assert expired.request_counts is not None
    assert (expired.request_counts.total, expired.request_counts.completed) == (5, 2)
    outputs = read_jsonl(openai_client, expired.output_file_id)
    assert [line["custom_id"] for line in outputs] == ["r0", "r1"]
    errors = read_jsonl(openai_client, expired.error_file_id)
    assert [e["custom_id"] for e in errors] == ["r2", "r3", "r4"]
    assert errors[0]["response"] is None
    assert errors[0]["error"]["code"] == "batch_expired" and errors[0]["error"]["message"]


def test_batch_failed(fake_openai: FakeOpenAI, openai_client: openai.OpenAI) -> None:
    batch = openai_client.batches.create(
        input_file_id=batch_file(openai_client, 2),
        endpoint="/v1/responses",
        completion_window="24h",
    )
    fake_openai.batches.fail(
        batch.id, errors=[{"code": "token_limit_exceeded", "message": "Enqueued token limit"}]
    )
    failed = openai_client.batches.retrieve(batch.id)
    assert failed.status == "failed" and failed.output_file_id is None
    assert failed.errors is not None and failed.errors.data is not None
    assert failed.errors.data[0].code == "token_limit_exceeded"
    with pytest.raises(ValueError, match="already ended"):
        fake_openai.batches.complete(batch.id)


def test_batch_line_with_max_tokens_is_an_error_line(
    fake_openai: FakeOpenAI, openai_client: openai.OpenAI
) -> None:
    line = {
        "custom_id": "bad",
        "method": "POST",
        "url": "/v1/responses",
        "body": {"model": MODEL, "input": "review", "max_tokens": 10},
    }
    batch = openai_client.batches.create(
        input_file_id=batch_file(openai_client, 1, extra=[line]),
        endpoint="/v1/responses",
        completion_window="24h",
    )
    done = fake_openai.batches.complete(batch.id)
    assert done["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    (error,) = read_jsonl(openai_client, done["error_file_id"])
    assert error["custom_id"] == "bad" and error["response"]["status_code"] == 400
    body = error["response"]["body"]["error"]
    assert body["param"] == "max_tokens" and body["code"] == "unsupported_parameter"
    assert body["type"] == "invalid_request_error"
    assert body["message"].startswith("Unsupported parameter: 'max_tokens'")


def test_forgotten_batch_is_a_404(fake_openai: FakeOpenAI, openai_client: openai.OpenAI) -> None:
    batch = openai_client.batches.create(
        input_file_id=batch_file(openai_client, 1),
        endpoint="/v1/responses",
        completion_window="24h",
    )
    fake_openai.batches.forget(batch.id)
    with pytest.raises(openai.NotFoundError, match=batch.id):
        openai_client.batches.retrieve(batch.id)
    with pytest.raises(openai.NotFoundError):
        openai_client.batches.cancel(batch.id)
    assert batch.id not in fake_openai.batches.ids()
    with pytest.raises(ApiError, match="No batch found"):
        fake_openai.batches.forget(batch.id)


def test_batch_auto_complete_chat_endpoint(
    fake_openai: FakeOpenAI, openai_client: openai.OpenAI
) -> None:
    fake_openai.batch_auto_complete = True
    file_id = batch_file(openai_client, 2, url="/v1/chat/completions")
    batch = openai_client.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    done = openai_client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.error_file_id is None
    lines = read_jsonl(openai_client, done.output_file_id)
    assert lines[1]["response"]["body"]["object"] == "chat.completion"
    assert lines[1]["response"]["body"]["choices"][0]["message"]["content"] == (
        "Fake reply to: review 1"
    )


def test_batch_of_ten_thousand_lines_is_fast() -> None:
    fake = FakeOpenAI(batch_auto_complete=True)
    with fake, fake.client() as client:
        file_id = batch_file(client, 10_000)
        started = time.perf_counter()
        batch = client.batches.create(
            input_file_id=file_id, endpoint="/v1/responses", completion_window="24h"
        )
        elapsed = time.perf_counter() - started
        done = client.batches.retrieve(batch.id)
        assert done.request_counts is not None and done.request_counts.completed == 10_000
    assert elapsed < 2.0


# -- scripted errors and replies, request log ----------------------------------


def test_scripted_rate_limit_and_server_error(
    fake_openai: FakeOpenAI, openai_client: openai.OpenAI
) -> None:
    messages: list[Any] = [{"role": "user", "content": "hi"}]
    fake_openai.fail_next(status=429, times=2, path="/v1/chat/completions")
    openai_client.embeddings.create(model="text-embedding-3-small", input="not affected")
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as caught:
            openai_client.chat.completions.create(model=MODEL, messages=messages)
        assert caught.value.code == "rate_limit_exceeded"
        assert caught.value.status_code == 429
    assert openai_client.chat.completions.create(model=MODEL, messages=messages).choices

    fake_openai.fail_next(status=500, message="boom")
    with pytest.raises(openai.InternalServerError) as server_error:
        openai_client.responses.create(model=MODEL, input="hi")
    assert server_error.value.body == {
        "message": "boom",
        "type": "server_error",
        "param": None,
        "code": None,
    }

    fake_openai.fail_next(status=400, path="/v1/batches/*", param="input_file_id")
    with pytest.raises(openai.BadRequestError) as bad:
        openai_client.batches.retrieve("batch_x")
    assert bad.value.param == "input_file_id"


def test_retrying_client_recovers(fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next(status=503, headers={"retry-after-ms": "1"})
    with fake_openai.client(max_retries=1) as client:
        reply = client.responses.create(model=MODEL, input="again")
    assert reply.output_text == "Fake reply to: again"
    assert [r.headers["x-stainless-retry-count"] for r in fake_openai.requests] == ["0", "1"]


def test_api_key_check() -> None:
    with FakeOpenAI(api_key="sk-right") as fake:
        with fake.client(api_key="sk-wrong") as wrong, pytest.raises(openai.AuthenticationError):
            wrong.models.list()
        with fake.client() as right:
            assert "gpt-4.1-mini" in [m.id for m in right.models.list()]


def test_reply_with(fake_openai: FakeOpenAI, openai_client: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "hi"}]
    fake_openai.reply_with("Scripted!", times=2)
    fake_openai.reply_with(tool_calls=[("lookup_price", {"symbol": "AAPL"})])
    assert openai_client.chat.completions.create(model=MODEL, messages=messages).choices[
        0
    ].message.content == ("Scripted!")
    assert openai_client.responses.create(model=MODEL, input="hi").output_text == "Scripted!"
    call = openai_client.responses.create(model=MODEL, input="hi").output[0]
    assert call.type == "function_call" and call.name == "lookup_price"
    assert json.loads(call.arguments) == {"symbol": "AAPL"}
    assert openai_client.responses.create(model=MODEL, input="hi").output_text == (
        "Fake reply to: hi"
    )


def test_request_log_and_reset(fake_openai: FakeOpenAI, openai_client: openai.OpenAI) -> None:
    openai_client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], temperature=0.2
    )
    openai_client.files.create(file=("a.jsonl", b"{}\n"), purpose="batch")

    chat, upload = fake_openai.requests
    assert (chat.method, chat.path) == ("POST", "/v1/chat/completions")
    assert chat.headers["authorization"] == "Bearer test"
    assert chat.body["temperature"] == 0.2
    assert upload.body["purpose"] == "batch"
    assert upload.body["file"]["filename"] == "a.jsonl" and upload.body["file"]["bytes"] == 3
    assert fake_openai.requests_to("/v1/files", "post") == [upload]

    fake_openai.fail_next(status=500)
    fake_openai.reset()
    assert fake_openai.requests == []
    assert [f.id for f in openai_client.files.list()] == []  # files gone, no scripted error


def test_unknown_route_is_a_404(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        openai_client.get("/nope", cast_to=object)


# -- async client --------------------------------------------------------------


def test_async_client(async_openai_client: openai.AsyncOpenAI) -> None:
    async def scenario() -> None:
        async with async_openai_client as client:
            chat = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "async hi"}]
            )
            assert chat.choices[0].message.content == "Fake reply to: async hi"

            stream = await client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "stream me please now"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
            assert chunks[-1].usage is not None

            async with client.responses.stream(model=MODEL, input="async story") as events:
                final = await events.get_final_response()
            assert final.output_text == "Fake reply to: async story"

            parsed = await client.responses.parse(model=MODEL, input="x", text_format=Plan)
            assert isinstance(parsed.output_parsed, Plan)

            embedding = await client.embeddings.create(
                model="text-embedding-3-small", input="a", dimensions=4
            )
            assert len(embedding.data[0].embedding) == 4

            uploaded = await client.files.create(file=("a.jsonl", b"{}\n"), purpose="batch")
            content = await client.files.content(uploaded.id)
            assert content.read() == b"{}\n"

    asyncio.run(scenario())
