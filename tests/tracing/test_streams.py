"""Streams are recorded however they end, and behave exactly as unpatched."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import openai
import pytest
from flask import Flask
from openai.types.responses import ResponseCompletedEvent

import flask_llm_logs
from flask_llm_logs import trace
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.instrumentation import Verdict
from tests.helpers.tracing import MESSAGES
from tests.helpers.tracing import check_abandoned_streams
from tests.helpers.tracing import finalise_dropped_streams
from tests.helpers.tracing import leave_early
from tests.helpers.tracing import one_trace
from tests.helpers.tracing import spans
from tests.helpers.tracing import wait_until

TEXT = "one two three four five six seven eight nine ten"
MODEL = "gpt-4.1-mini"


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    fake_openai.reply_with(TEXT, times=3)
    return fake_openai


pytestmark = pytest.mark.usefixtures("reinstrumented")


def chat_stream(client: openai.OpenAI, **kwargs: Any) -> Any:
    return client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, **kwargs)


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def the_llm_span(app: Flask) -> Any:
    [llm] = spans(app, kind="llm")
    return llm


def test_chat_stream_read_to_the_end(app: Flask, fake: FakeOpenAI) -> None:
    client = fake.client()
    stream = chat_stream(client, stream_options={"include_usage": True})
    assert type(stream) is openai.Stream
    assert spans(app) == []  # recorded when it ends, not before
    chunks = list(stream)
    assert text_of(chunks) == TEXT
    assert stream.response.is_closed
    usage = chunks[-1].usage

    row, [llm] = one_trace(app)
    assert row.name == f"auto:chat {MODEL}"
    assert llm.output == {"role": "assistant", "content": TEXT}
    assert (llm.input_tokens, llm.output_tokens) == (usage.prompt_tokens, usage.completion_tokens)
    assert llm.cached_tokens == usage.prompt_tokens_details.cached_tokens
    assert 0 < llm.time_to_first_token_ms <= llm.duration_ms
    assert llm.metadata["llm_logs.stream"] == "exhausted"
    assert llm.metadata["gen_ai.response.finish_reasons"] == ["stop"]
    assert llm.metadata["gen_ai.response.id"] == chunks[0].id


def test_chat_stream_behaves_as_unpatched(app: Flask, fake: FakeOpenAI) -> None:
    client = fake.client()

    def read(stream: Any) -> list[Any]:
        return [(type(c), c.model_dump(exclude={"id", "created"})) for c in stream]

    patched = read(chat_stream(client, stream_options={"include_usage": True}))
    flask_llm_logs.uninstrument()
    unpatched = read(chat_stream(client, stream_options={"include_usage": True}))
    assert patched == unpatched
    stream = chat_stream(client)
    assert next(stream).choices[0].delta.role == "assistant"  # __next__ works too
    stream.close()


@pytest.mark.parametrize("ending", ["close", "with"])
def test_chat_stream_left_early_keeps_partial_output(
    app: Flask, fake: FakeOpenAI, ending: str
) -> None:
    client = fake.client()
    read = leave_early(chat_stream(client), ending, text_of)
    llm = the_llm_span(app)
    assert llm.status == "completed"
    assert llm.metadata["llm_logs.stream"] == "closed"
    assert llm.output["content"] == text_of(read)
    assert TEXT.startswith(llm.output["content"]) and llm.output["content"] != TEXT


def test_chat_stream_abandoned_is_recorded_when_collected(app: Flask, fake: FakeOpenAI) -> None:
    client = fake.client()
    stream = chat_stream(client)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    never_read = chat_stream(client)
    del stream, never_read, chunk
    check_abandoned_streams(app, TEXT)


def test_chat_stream_helper(app: Flask, fake: FakeOpenAI) -> None:
    client = fake.client()
    with client.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == TEXT == final.choices[0].message.content
    with client.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
        for event in stream:
            if event.type == "content.delta" and event.delta:
                break
    first, second = sorted(spans(app), key=lambda s: s.started_at)
    assert first.output["content"] == TEXT
    assert first.metadata["llm_logs.stream"] == "exhausted"
    assert second.metadata["llm_logs.stream"] == "closed"
    assert TEXT.startswith(second.output["content"]) and second.output["content"] != TEXT


def test_chat_stream_helper_parses_structured_output(app: Flask, fake_openai: FakeOpenAI) -> None:
    client = fake_openai.client()
    with client.chat.completions.stream(
        model=MODEL, messages=MESSAGES, response_format=Verdict
    ) as stream:
        parsed = stream.get_final_completion().choices[0].message.parsed
    assert isinstance(parsed, Verdict)
    assert the_llm_span(app).output["content"] == parsed.model_dump()


def test_chat_stream_tool_calls(app: Flask, fake_openai: FakeOpenAI) -> None:
    fake_openai.reply_with(tool_calls=[("lookup_price", {"symbol": "AAPL"}), ("news", {"q": "x"})])
    client = fake_openai.client()
    with trace("agent"):
        chunks = list(chat_stream(client))
    ids = [
        call.id
        for c in chunks
        if c.choices
        for call in c.choices[0].delta.tool_calls or ()
        if call.id
    ]
    _, children = one_trace(app)
    [llm] = [c for c in children if c.kind == "llm"]
    tools = [c for c in children if c.kind == "tool"]
    assert llm.output["tool_calls"] == [
        {"id": ids[0], "name": "lookup_price", "arguments": {"symbol": "AAPL"}},
        {"id": ids[1], "name": "news", "arguments": {"q": "x"}},
    ]
    assert sorted(t.name for t in tools) == ["tool.lookup_price", "tool.news"]
    assert {t.metadata["gen_ai.tool.call.id"] for t in tools} == set(ids)
    assert all(t.parent_id == llm.id for t in tools)


def test_responses_stream(app: Flask, fake: FakeOpenAI) -> None:
    client = fake.client()
    stream = client.responses.create(model=MODEL, input="Summarise", stream=True)
    assert isinstance(stream, openai.Stream)
    events = list(stream)
    assert isinstance(events[-1], ResponseCompletedEvent)
    final = events[-1].response
    assert final.usage is not None
    llm = the_llm_span(app)
    assert (llm.operation, llm.output["content"]) == ("responses", TEXT)
    assert (llm.input_tokens, llm.output_tokens) == (
        final.usage.input_tokens,
        final.usage.output_tokens,
    )
    assert llm.cached_tokens == final.usage.input_tokens_details.cached_tokens
    assert 0 < llm.time_to_first_token_ms <= llm.duration_ms
    assert llm.metadata["gen_ai.response.id"] == final.id


def test_responses_stream_closed_early(app: Flask, fake: FakeOpenAI) -> None:
    client = fake.client()
    stream = client.responses.create(model=MODEL, input="Summarise", stream=True)
    text = ""
    for event in stream:
        if event.type == "response.output_text.delta":
            text += event.delta
            break
    stream.close()
    llm = the_llm_span(app)
    assert llm.output["content"] == text
    assert llm.metadata["gen_ai.response.model"]
    assert llm.input_tokens is None  # usage only comes with response.completed


def test_responses_stream_helper_and_function_calls(app: Flask, fake_openai: FakeOpenAI) -> None:
    fake_openai.reply_with(TEXT)
    fake_openai.reply_with(tool_calls=[("lookup_price", {"symbol": "AAPL"})])
    client = fake_openai.client()
    with client.responses.stream(model=MODEL, input="Summarise") as stream:
        final = stream.get_final_response()
    assert final.output_text == TEXT
    with client.responses.stream(model=MODEL, input="price?") as stream:
        for _ in stream:
            pass
    first, second = sorted(spans(app, kind="llm"), key=lambda s: s.started_at)
    assert first.output["content"] == TEXT
    assert first.metadata["llm_logs.stream"] == "exhausted"
    call = second.output["tool_calls"][0]
    assert (call["name"], call["arguments"]) == ("lookup_price", {"symbol": "AAPL"})
    [tool_span] = spans(app, kind="tool")
    assert (tool_span.parent_id, tool_span.input) == (second.id, {"symbol": "AAPL"})


def test_stream_that_fails_to_start(app: Flask, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next(500)
    with pytest.raises(openai.InternalServerError):
        chat_stream(fake_openai.client())
    llm = the_llm_span(app)
    assert (llm.status, llm.metadata["http.response.status_code"]) == ("error", 500)


def test_async_streams(app: Flask, fake: FakeOpenAI) -> None:
    fake.reply_with(TEXT, times=3)

    async def main() -> None:
        async with fake.async_client() as client:
            stream = await client.chat.completions.create(
                model=MODEL,
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
            assert type(stream) is openai.AsyncStream
            assert text_of([c async for c in stream]) == TEXT

            stream = await client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    break
            await stream.close()

            async with client.chat.completions.stream(model=MODEL, messages=MESSAGES) as helper:
                final = await helper.get_final_completion()
            assert final.choices[0].message.content == TEXT

            async with client.responses.stream(model=MODEL, input="hi") as helper:
                async for event in helper:
                    if event.type == "response.output_text.delta" and event.delta:
                        break

            responses = await client.responses.create(model=MODEL, input="hi", stream=True)
            events = [e async for e in responses]
            assert events[-1].type == "response.completed"

    asyncio.run(main())
    rows = sorted(spans(app, kind="llm"), key=lambda s: s.started_at)
    assert [r.metadata["llm_logs.stream"] for r in rows] == [
        "exhausted",
        "closed",
        "exhausted",
        "closed",
        "exhausted",
    ]
    assert rows[0].output["content"] == rows[2].output["content"] == TEXT
    assert rows[0].input_tokens and rows[4].input_tokens
    assert TEXT.startswith(rows[1].output["content"]) and rows[1].output["content"] != TEXT
    assert rows[3].operation == "responses" and TEXT.startswith(rows[3].output["content"])


@pytest.mark.recorder_errors("the stream accumulator's add and result raise")
def test_a_failing_recorder_leaves_the_stream_untouched(
    app: Flask, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_llm_logs.instrumentation import streams

    def broken(self: Any, item: Any) -> bool:
        raise RuntimeError("recorder bug")

    monkeypatch.setattr(streams.ChatAccumulator, "add", broken)
    monkeypatch.setattr(streams.ChatAccumulator, "result", broken)
    chunks = list(chat_stream(fake.client()))
    assert text_of(chunks) == TEXT
    llm = the_llm_span(app)  # still recorded, without what could not be read
    assert (llm.status, llm.output) == ("completed", None)


def test_async_stream_abandoned_is_recorded(app: Flask, fake: FakeOpenAI) -> None:
    async def main() -> None:
        async with fake.async_client() as client:
            stream = await client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    break
            del stream, chunk
            await finalise_dropped_streams()

    asyncio.run(main())
    wait_until(lambda: len(spans(app)) == 1)
    llm = the_llm_span(app)
    # Closed by the event loop's finaliser of the SDK's generator, or found
    # by the garbage collector first: either way recorded, with what was read.
    assert llm.metadata["llm_logs.stream"] in ("closed", "abandoned")
    assert TEXT.startswith(llm.output["content"]) and llm.output["content"] != TEXT


@pytest.mark.parametrize("kept", [2, 32])
def test_chunks_are_read_a_run_at_a_time(
    app: Flask, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, kept: int
) -> None:
    """A stream keeps its chunks and reads them ``KEPT_ITEMS`` at a time on the
    host's thread, the rest on the writer's: the span is the same either way."""
    from flask_llm_logs.instrumentation import streams

    readers: set[str] = set()
    add = streams.ChatAccumulator.add

    def spy(self: Any, chunk: Any) -> bool:
        readers.add(threading.current_thread().name)
        return add(self, chunk)

    monkeypatch.setattr(streams, "KEPT_ITEMS", kept)
    monkeypatch.setattr(streams.ChatAccumulator, "add", spy)
    chunks = list(chat_stream(fake.client(), stream_options={"include_usage": True}))
    assert text_of(chunks) == TEXT
    llm = the_llm_span(app)
    assert llm.output["content"] == TEXT and llm.input_tokens
    assert llm.time_to_first_token_ms is not None
    assert 0 < llm.time_to_first_token_ms <= llm.duration_ms
    on_host = threading.current_thread().name in readers
    assert on_host is (kept < len(chunks))
    assert any(name.startswith("flask-llm-logs-writer") for name in readers) is (
        len(chunks) % kept != 0 or kept > len(chunks)
    )
