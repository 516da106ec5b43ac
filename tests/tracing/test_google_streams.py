"""Streams of google-genai's generate_content_stream, however they end."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

pytest.importorskip("google.genai")

from google.genai import errors
from google.genai import types

from flask_llm_logs.instrumentation import instrument
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.tracing import spans
from tests.helpers.tracing import wait_until

MODEL = "gemini-2.5-flash"
TEXT = "Paris is rainy today, with a light wind from the west and some sun later on."


@pytest.fixture(autouse=True)
def instrumented() -> Iterator[None]:
    yield
    instrument()


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    fake_openai.reply_with(TEXT, times=3)
    return fake_openai


@pytest.fixture
def client(fake: FakeOpenAI) -> Any:
    return fake.gemini_client()


def text_of(chunks: list[Any]) -> str:
    return "".join(chunk.text or "" for chunk in chunks)


def the_llm_span(app: Flask) -> Any:
    [llm] = spans(app, kind="llm")
    return llm


def test_stream_read_to_the_end(app: Flask, client: Any) -> None:
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Weather?"))
    assert len(chunks) > 2 and text_of(chunks) == TEXT
    llm = the_llm_span(app)
    last = chunks[-1]
    assert llm.status == "completed"
    assert llm.metadata["llm_logs.stream"] == "exhausted"
    assert llm.output == {"role": "assistant", "content": TEXT}
    assert llm.model == last.model_version
    assert llm.metadata["gen_ai.response.id"] == last.response_id
    assert llm.metadata["gen_ai.response.finish_reasons"] == ["stop"]
    usage = last.usage_metadata
    assert llm.input_tokens == usage.prompt_token_count
    assert llm.output_tokens == usage.candidates_token_count + usage.thoughts_token_count
    assert llm.reasoning_tokens == usage.thoughts_token_count
    assert 0 < llm.time_to_first_token_ms <= llm.duration_ms


def test_stream_left_early_keeps_partial_output(app: Flask, client: Any) -> None:
    stream = client.models.generate_content_stream(model=MODEL, contents="Weather?")
    read = []
    for chunk in stream:
        read.append(chunk)
        break
    stream.close()
    llm = the_llm_span(app)
    assert llm.status == "completed"
    assert llm.metadata["llm_logs.stream"] == "abandoned"
    assert llm.output["content"] == text_of(read)
    assert TEXT.startswith(llm.output["content"]) and llm.output["content"] != TEXT
    assert llm.input_tokens  # the prompt's count comes with every chunk


def test_stream_abandoned_is_recorded_when_collected(app: Flask, client: Any) -> None:
    stream = client.models.generate_content_stream(model=MODEL, contents="Weather?")
    next(stream)
    never_read = client.models.generate_content_stream(model=MODEL, contents="Weather?")
    del stream, never_read
    gc.collect()
    wait_until(lambda: len(spans(app)) == 2)
    outputs = sorted(str(s.output["content"]) for s in spans(app))
    assert outputs[0] == "None"  # never read
    assert TEXT.startswith(outputs[1]) and outputs[1] != TEXT
    assert {s.metadata["llm_logs.stream"] for s in spans(app)} == {"abandoned"}


def test_stream_function_calls_and_thoughts(app: Flask, fake_openai: FakeOpenAI) -> None:
    client = fake_openai.gemini_client()
    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name="get_weather",
                parameters_json_schema={
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            )
        ]
    )
    config = types.GenerateContentConfig(
        tools=[tool],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        thinking_config=types.ThinkingConfig(include_thoughts=True),
    )
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Hi", config=config))
    [call] = [c for chunk in chunks for c in chunk.function_calls or ()]
    llm = the_llm_span(app)
    [tool_span] = spans(app, kind="tool")
    assert llm.output["thinking"] == "Thinking about: Hi"
    assert llm.output["tool_calls"] == [{"id": None, "name": "get_weather", "arguments": call.args}]
    assert llm.metadata["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert (tool_span.name, tool_span.parent_id) == ("tool.get_weather", llm.id)


def test_stream_that_fails_to_start(app: Flask, fake_openai: FakeOpenAI) -> None:
    client = fake_openai.gemini_client()
    fake_openai.fail_next(503, message="overloaded")
    stream = client.models.generate_content_stream(model=MODEL, contents="Hi")
    with pytest.raises(errors.ServerError):
        next(iter(stream))
    llm = the_llm_span(app)
    assert llm.status == "error"
    assert llm.error == "ServerError (HTTP 503): overloaded"
    assert llm.metadata["llm_logs.stream"] == "failed"
    assert llm.metadata["http.response.status_code"] == 503


def test_async_streams(app: Flask, client: Any) -> None:
    async def main() -> None:
        models = client.aio.models
        whole = [c async for c in await models.generate_content_stream(model=MODEL, contents="a")]
        assert text_of(whole) == TEXT
        stream = await models.generate_content_stream(model=MODEL, contents="b")
        async for _ in stream:
            break
        await stream.aclose()
        dropped = await models.generate_content_stream(model=MODEL, contents="c")
        del dropped

    asyncio.run(main())
    gc.collect()
    wait_until(lambda: len(spans(app)) == 3)
    by_input = {s.input["contents"]: s for s in spans(app)}
    assert by_input["a"].metadata["llm_logs.stream"] == "exhausted"
    assert by_input["a"].output["content"] == TEXT
    assert by_input["b"].metadata["llm_logs.stream"] == "closed"
    closed_early = by_input["b"].output["content"]
    assert TEXT.startswith(closed_early) and closed_early != TEXT
    assert by_input["c"].metadata["llm_logs.stream"] == "abandoned"
    assert by_input["c"].output["content"] is None
