"""anthropic auto-instrumentation against the fake Messages API, stored through the real writer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from anthropic.resources.beta.messages.messages import Messages as BetaMessages
from anthropic.resources.messages.messages import AsyncMessages
from anthropic.resources.messages.messages import Messages
from anthropic.types import MessageParam
from anthropic.types import TextBlockParam
from anthropic.types import ToolParam
from flask import Flask

import flask_llm_logs
from flask_llm_logs import trace
from flask_llm_logs.instrumentation import instrument
from flask_llm_logs.instrumentation import is_instrumented
from flask_llm_logs.testing import FakeOpenAI
from flask_llm_logs.tracing.pricing import cost_of
from tests.helpers.anthropic_messages import BETA_MESSAGES
from tests.helpers.anthropic_messages import MESSAGES
from tests.helpers.anthropic_messages import text_of
from tests.helpers.instrumentation import Verdict
from tests.helpers.tracing import check_abandoned_streams
from tests.helpers.tracing import failed_call_span
from tests.helpers.tracing import finalise_dropped_streams
from tests.helpers.tracing import leave_early
from tests.helpers.tracing import one_trace
from tests.helpers.tracing import spans
from tests.helpers.tracing import traces
from tests.helpers.tracing import wait_until

MODEL = "claude-sonnet-4-5"
TEXT = "one two three four five six seven eight nine ten"
TOOLS: list[ToolParam] = [
    {
        "name": "lookup_price",
        "description": "The price of a stock",
        "input_schema": {"type": "object", "properties": {"symbol": {"type": "string"}}},
    }
]
SECRET = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123"


pytestmark = pytest.mark.usefixtures("reinstrumented")


@pytest.fixture
def client(fake_openai: FakeOpenAI) -> Iterator[anthropic.Anthropic]:
    client = fake_openai.anthropic_client()
    yield client
    client.close()


def create(client: anthropic.Anthropic, **kwargs: Any) -> Any:
    return client.messages.create(model=MODEL, max_tokens=200, messages=MESSAGES, **kwargs)


def by_start(rows: list[Any]) -> list[Any]:
    return sorted(rows, key=lambda s: s.started_at)


def stream_text(events: list[Any]) -> str:
    return "".join(
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )


def test_message_span(app: Flask, fake_openai: FakeOpenAI) -> None:
    client = fake_openai.anthropic_client(api_key=SECRET)
    messages: list[MessageParam] = list(MESSAGES)
    message = client.messages.create(
        model=MODEL,
        max_tokens=200,
        system="You are terse.",
        messages=messages,
        stop_sequences=["END"],
        service_tier="auto",
        extra_headers={"X-Api-Key": SECRET},
    )
    messages.append({"role": "assistant", "content": "changed after the call"})

    row, [llm] = one_trace(app)
    assert row.name == f"auto:messages {MODEL}"
    assert (llm.name, llm.kind, llm.operation, llm.status) == (
        f"messages {MODEL}",
        "llm",
        "messages",
        "completed",
    )
    assert llm.model == message.model
    assert llm.provider == "127.0.0.1"
    assert llm.input == {"system": "You are terse.", "messages": MESSAGES}
    assert llm.output == {"role": "assistant", "content": text_of(message)}
    assert llm.input_tokens == message.usage.input_tokens
    assert llm.output_tokens == message.usage.output_tokens
    assert llm.cached_tokens == llm.cache_write_tokens == 0
    assert llm.duration_ms > 0
    assert llm.metadata == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "127.0.0.1",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.max_tokens": 200,
        "gen_ai.request.stop_sequences": ["END"],
        "anthropic.request.service_tier": "auto",
        "gen_ai.response.model": message.model,
        "gen_ai.response.id": message.id,
        "gen_ai.response.finish_reasons": ["stop"],
    }
    stored = repr([tuple(row), tuple(llm)])
    assert SECRET not in stored


def test_tool_use_blocks_become_child_spans(
    app: Flask, fake_openai: FakeOpenAI, client: anthropic.Anthropic
) -> None:
    fake_openai.reply_with(tool_calls=[("lookup_price", {"symbol": "AAPL"}), ("lookup_price", {})])
    message = create(client, tools=TOOLS)
    first, second = [b for b in message.content if b.type == "tool_use"]
    _, children = one_trace(app)
    [llm] = [c for c in children if c.kind == "llm"]
    tools = [c for c in children if c.kind == "tool"]
    assert llm.input == {"messages": MESSAGES, "tools": TOOLS}
    assert llm.metadata["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert llm.output["tool_calls"] == [
        {"id": first.id, "name": "lookup_price", "arguments": {"symbol": "AAPL"}},
        {"id": second.id, "name": "lookup_price", "arguments": {}},
    ]
    assert {t.name for t in tools} == {"tool.lookup_price"}
    assert all(t.parent_id == llm.id for t in tools)
    by_id = {t.metadata["gen_ai.tool.call.id"]: t for t in tools}
    assert by_id[first.id].input == {"symbol": "AAPL"}
    assert by_id[second.id].input == {}


def test_thinking_is_shown_as_thinking(app: Flask, client: anthropic.Anthropic) -> None:
    message = create(client, thinking={"type": "enabled", "budget_tokens": 1024})
    [thinking, text] = message.content
    [llm] = spans(app)
    assert llm.output == {
        "role": "assistant",
        "content": text.text,
        "thinking": thinking.thinking,
    }
    assert llm.reasoning_tokens == message.usage.output_tokens_details.thinking_tokens > 0
    assert llm.metadata["anthropic.request.thinking.budget_tokens"] == 1024


def test_cache_reads_and_writes_are_added_to_input_tokens_and_priced(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    app = make_app(LLM_LOGS_PRICING_PROVIDER="anthropic")
    system: list[TextBlockParam] = [
        {"type": "text", "text": "Long rules. " * 100, "cache_control": {"type": "ephemeral"}}
    ]
    with app.app_context():
        client = fake_openai.anthropic_client()
        written = create(client, system=system)
        read = create(client, system=system)
        first, second = by_start(spans(app))
    assert written.usage.cache_creation_input_tokens > 0
    assert read.usage.cache_read_input_tokens == written.usage.cache_creation_input_tokens
    assert (first.cache_write_tokens, first.cached_tokens) == (
        written.usage.cache_creation_input_tokens,
        0,
    )
    assert (second.cache_write_tokens, second.cached_tokens) == (
        0,
        read.usage.cache_read_input_tokens,
    )
    assert (
        first.input_tokens
        == second.input_tokens
        == (written.usage.input_tokens + written.usage.cache_creation_input_tokens)
    )
    expected = cost_of(MODEL, "anthropic", first.input_tokens, first.output_tokens, 0, 0)
    assert expected is not None
    writing = cost_of(
        MODEL, "anthropic", first.input_tokens, first.output_tokens, 0, first.cache_write_tokens
    )
    reading = cost_of(
        MODEL, "anthropic", second.input_tokens, second.output_tokens, second.cached_tokens, 0
    )
    assert writing is not None and reading is not None
    assert first.cost == pytest.approx(writing) and writing > expected  # writes cost more
    assert second.cost == pytest.approx(reading) and reading < expected  # reads cost less


def test_parse_stores_structured_output(app: Flask, client: anthropic.Anthropic) -> None:
    parsed = client.messages.parse(
        model=MODEL, max_tokens=200, messages=MESSAGES, output_format=Verdict
    )
    schema = {"type": "json_schema", "schema": Verdict.model_json_schema()}
    created = create(client, output_config={"format": schema})
    first, second = by_start(spans(app))
    assert parsed.parsed_output is not None
    assert first.output["content"] == parsed.parsed_output.model_dump()
    assert second.output["content"] == Verdict.model_validate_json(text_of(created)).model_dump()


def test_beta_messages_are_recorded(app: Flask, client: anthropic.Anthropic) -> None:
    message = client.beta.messages.create(model=MODEL, max_tokens=100, messages=BETA_MESSAGES)
    with client.beta.messages.stream(model=MODEL, max_tokens=100, messages=BETA_MESSAGES) as stream:
        text = "".join(stream.text_stream)
    parsed = client.beta.messages.parse(
        model=MODEL, max_tokens=100, messages=BETA_MESSAGES, output_format=Verdict
    )
    rows = by_start(spans(app))
    assert parsed.parsed_output is not None
    assert [r.output["content"] for r in rows] == [
        text_of(message),
        text,
        parsed.parsed_output.model_dump(),
    ]
    assert rows[1].metadata["llm_logs.stream"] == "exhausted"


def test_with_raw_response_is_recorded_once(app: Flask, client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=50, messages=MESSAGES)
    assert raw.headers["content-type"].startswith("application/json")
    message = raw.parse()
    assert raw.parse() is message
    raw_stream = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=50, messages=MESSAGES, stream=True
    )
    stream = raw_stream.parse()
    assert type(stream) is anthropic.Stream and raw_stream.parse() is stream
    streamed = stream_text(list(stream))
    with client.messages.with_streaming_response.create(
        model=MODEL, max_tokens=50, messages=MESSAGES
    ) as response:
        assert response.parse().content  # the caller's to read: untraced
    whole, from_stream = by_start(spans(app))
    assert whole.output["content"] == text_of(message)
    assert from_stream.output["content"] == streamed
    assert from_stream.metadata["llm_logs.stream"] == "exhausted"


def test_stream_read_to_the_end(app: Flask, fake_openai: FakeOpenAI) -> None:
    fake_openai.reply_with(TEXT)
    stream = create(fake_openai.anthropic_client(), stream=True)
    assert type(stream) is anthropic.Stream
    assert spans(app) == []  # recorded when it ends, not before
    events = list(stream)
    assert stream_text(events) == TEXT
    final = events[-2]  # message_delta
    row, [llm] = one_trace(app)
    assert row.name == f"auto:messages {MODEL}"
    assert llm.output == {"role": "assistant", "content": TEXT}
    assert llm.output_tokens == final.usage.output_tokens
    assert llm.input_tokens == events[0].message.usage.input_tokens
    assert 0 < llm.time_to_first_token_ms <= llm.duration_ms
    assert llm.metadata["llm_logs.stream"] == "exhausted"
    assert llm.metadata["gen_ai.response.finish_reasons"] == ["stop"]
    assert llm.metadata["gen_ai.response.id"] == events[0].message.id


def test_streamed_tool_use_and_thinking(
    app: Flask, fake_openai: FakeOpenAI, client: anthropic.Anthropic
) -> None:
    fake_openai.reply_with(tool_calls=[("lookup_price", {"symbol": "AAPL"})])
    events = list(
        create(
            client, tools=TOOLS, stream=True, thinking={"type": "enabled", "budget_tokens": 1024}
        )
    )
    [tool_use] = [
        e.content_block
        for e in events
        if e.type == "content_block_start" and e.content_block.type == "tool_use"
    ]
    llm, tool_span = spans(app)
    assert llm.output["tool_calls"] == [
        {"id": tool_use.id, "name": "lookup_price", "arguments": {"symbol": "AAPL"}}
    ]
    assert llm.output["thinking"].startswith("Thinking about: ")
    assert llm.reasoning_tokens is not None
    assert (tool_span.name, tool_span.parent_id, tool_span.input) == (
        "tool.lookup_price",
        llm.id,
        {"symbol": "AAPL"},
    )


@pytest.mark.parametrize("ending", ["close", "with"])
def test_stream_left_early_keeps_partial_output(
    app: Flask, fake_openai: FakeOpenAI, ending: str
) -> None:
    fake_openai.reply_with(TEXT)
    stream = create(fake_openai.anthropic_client(), stream=True)
    read = leave_early(stream, ending, stream_text)
    [llm] = spans(app)
    assert llm.status == "completed"
    assert llm.metadata["llm_logs.stream"] == "closed"
    assert llm.output["content"] == stream_text(read)
    assert TEXT.startswith(llm.output["content"]) and llm.output["content"] != TEXT


def test_stream_abandoned_is_recorded_when_collected(app: Flask, fake_openai: FakeOpenAI) -> None:
    fake_openai.reply_with(TEXT, times=2)
    client = fake_openai.anthropic_client()
    stream = create(client, stream=True)
    read: list[Any] = []
    for event in stream:
        read.append(event)
        if stream_text(read):
            break
    never_read = create(client, stream=True)
    del stream, never_read, event
    check_abandoned_streams(app, TEXT)


def test_stream_helper(app: Flask, fake_openai: FakeOpenAI, client: anthropic.Anthropic) -> None:
    fake_openai.reply_with(TEXT, times=3)
    with client.messages.stream(model=MODEL, max_tokens=200, messages=MESSAGES) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    with client.messages.stream(model=MODEL, max_tokens=200, messages=MESSAGES) as stream:
        whole = stream.get_final_message()
    with client.messages.stream(model=MODEL, max_tokens=200, messages=MESSAGES) as stream:
        for text in stream.text_stream:
            if text:
                break
    first, second, third = by_start(spans(app))
    assert "".join(pieces) == TEXT == text_of(final) == text_of(whole)
    assert first.output["content"] == second.output["content"] == TEXT
    assert first.output_tokens == final.usage.output_tokens
    assert first.metadata["gen_ai.response.id"] == final.id
    assert first.time_to_first_token_ms > 0
    assert [s.metadata["llm_logs.stream"] for s in (first, second, third)] == [
        "exhausted",
        "exhausted",
        "closed",
    ]
    assert TEXT.startswith(third.output["content"]) and third.output["content"] != TEXT


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, anthropic.BadRequestError),
        (429, anthropic.RateLimitError),
        (529, anthropic.OverloadedError),
    ],
)
def test_api_error_span(
    app: Flask,
    fake_openai: FakeOpenAI,
    client: anthropic.Anthropic,
    status: int,
    error_class: type[anthropic.APIStatusError],
) -> None:
    fake_openai.fail_next(status, message="try again later")
    with pytest.raises(error_class) as raised, trace("request"):
        create(client)
    assert raised.value.status_code == status
    llm = failed_call_span(app, status, error_class, {"messages": MESSAGES})
    assert llm.error == f"{error_class.__name__} (HTTP {status}): try again later"


def test_streams_that_fail_to_start(
    app: Flask, fake_openai: FakeOpenAI, client: anthropic.Anthropic
) -> None:
    fake_openai.fail_next(529)
    with pytest.raises(anthropic.OverloadedError):
        create(client, stream=True)
    fake_openai.fail_next(429)
    with (
        pytest.raises(anthropic.RateLimitError),
        client.messages.stream(model=MODEL, max_tokens=10, messages=MESSAGES),
    ):
        pass
    rows = by_start(spans(app))
    assert [(r.status, r.metadata["http.response.status_code"]) for r in rows] == [
        ("error", 529),
        ("error", 429),
    ]


def test_async_calls(app: Flask, fake_openai: FakeOpenAI) -> None:
    fake_openai.reply_with(TEXT, times=4)

    async def main() -> None:
        async with fake_openai.async_anthropic_client() as client, trace("async"):
            kwargs: dict[str, Any] = {"model": MODEL, "max_tokens": 200, "messages": MESSAGES}
            await client.messages.create(**kwargs)
            stream = await client.messages.create(**kwargs, stream=True)
            assert type(stream) is anthropic.AsyncStream
            assert stream_text([e async for e in stream]) == TEXT
            stream = await client.messages.create(**kwargs, stream=True)
            async for event in stream:
                if event.type == "content_block_delta":
                    break
            await stream.close()
            async with client.messages.stream(**kwargs) as helper:
                final = await helper.get_final_message()
            assert text_of(final) == TEXT
            await client.messages.parse(**kwargs, output_format=Verdict)
            raw = await client.beta.messages.with_raw_response.create(**kwargs)
            assert (await raw.parse()).content
            fake_openai.fail_next(529)
            with pytest.raises(anthropic.OverloadedError):
                await client.messages.create(**kwargs)

    asyncio.run(main())
    row, children = one_trace(app)
    assert row.status == "completed"
    assert [c.operation for c in children] == ["messages"] * 7
    assert [c.metadata.get("llm_logs.stream") for c in children] == [
        None,
        "exhausted",
        "closed",
        "exhausted",
        None,
        None,
        None,
    ]
    assert children[1].output["content"] == children[3].output["content"] == TEXT
    assert TEXT.startswith(children[2].output["content"]) and children[2].output["content"] != TEXT
    assert children[4].output["content"].keys() == {"verdict", "confidence"}
    assert children[-1].status == "error"
    assert children[-1].metadata["http.response.status_code"] == 529
    assert all(c.input_tokens for c in children[:-1])


def test_async_stream_abandoned_is_recorded(app: Flask, fake_openai: FakeOpenAI) -> None:
    fake_openai.reply_with(TEXT)

    async def main() -> None:
        async with fake_openai.async_anthropic_client() as client:
            stream = await client.messages.create(
                model=MODEL, max_tokens=200, messages=MESSAGES, stream=True
            )
            async for event in stream:
                if event.type == "content_block_delta":
                    break
            del stream, event
            await finalise_dropped_streams()

    asyncio.run(main())
    wait_until(lambda: len(spans(app)) == 1)
    [llm] = spans(app)
    assert llm.metadata["llm_logs.stream"] in ("closed", "abandoned")
    assert TEXT.startswith(llm.output["content"]) and llm.output["content"] != TEXT


def test_capture_content_off_keeps_no_content(
    app: Flask, fake_openai: FakeOpenAI, client: anthropic.Anthropic
) -> None:
    app.config["LLM_LOGS_CAPTURE_CONTENT"] = False
    fake_openai.reply_with(tool_calls=[("lookup_price", {"symbol": "AAPL"})])
    create(client, tools=TOOLS, system="secret rules")
    list(create(client, stream=True))
    llm, tool_span, streamed = spans(app)
    assert llm.input is llm.output is tool_span.input is streamed.input is streamed.output is None
    assert tool_span.name == "tool.lookup_price"
    assert llm.input_tokens and streamed.output_tokens


def test_redaction_applies(make_app: Callable[..., Flask], fake_openai: FakeOpenAI) -> None:
    def redact(value: Any) -> Any:
        return str(value).replace("AAPL", "[ticker]")

    app = make_app(LLM_LOGS_REDACT=redact)
    with app.app_context():
        create(fake_openai.anthropic_client())
        [llm] = spans(app)
    assert "AAPL" not in llm.input and "[ticker]" in llm.input
    assert "AAPL" not in llm.output and "[ticker]" in llm.output


def test_nested_inside_a_trace(app: Flask, client: anthropic.Anthropic) -> None:
    with trace("checkout"):
        create(client)
        with (
            trace("pricing") as step,
            client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream,
        ):
            stream.until_done()
    [row] = traces(app)
    assert row.name == "checkout"
    llm_spans = by_start(spans(app, trace_id=row.id, kind="llm"))
    assert [c.parent_id for c in llm_spans] == [None, step.id]
    assert row.input_tokens == sum(c.input_tokens for c in llm_spans)


def test_instrumented_sdk_returns_what_it_returns_unpatched(
    app: Flask, fake_openai: FakeOpenAI, client: anthropic.Anthropic
) -> None:
    def results() -> list[Any]:
        fake_openai.reply_with(TEXT, times=3)
        message = create(client, tools=TOOLS)
        events = list(create(client, stream=True))
        with client.messages.stream(model=MODEL, max_tokens=200, messages=MESSAGES) as stream:
            final = stream.get_final_message()
        parsed = client.messages.parse(
            model=MODEL, max_tokens=200, messages=MESSAGES, output_format=Verdict
        )
        found = [message, *events, final, parsed]
        return [(type(r), r.model_dump(exclude={"id"})) for r in found]

    patched = results()
    flask_llm_logs.uninstrument()
    unpatched = results()

    assert len(patched) == len(unpatched)
    for (patched_type, patched_dump), (plain_type, plain_dump) in zip(
        patched, unpatched, strict=True
    ):
        assert patched_type is plain_type
        assert _drop_ids(patched_dump) == _drop_ids(plain_dump)


def _drop_ids(value: Any) -> Any:
    """The fake numbers its ids: two runs differ only there."""
    if isinstance(value, dict):
        return {k: _drop_ids(v) for k, v in value.items() if k not in ("id", "signature")}
    if isinstance(value, list):
        return [_drop_ids(v) for v in value]
    return value


def test_uninstrument_restores_the_sdk(app: Flask, client: anthropic.Anthropic) -> None:
    patched = [Messages.create, Messages.stream, AsyncMessages.create, BetaMessages.parse]
    assert is_instrumented("anthropic")
    flask_llm_logs.uninstrument()
    assert not is_instrumented("anthropic")
    originals = [Messages.create, Messages.stream, AsyncMessages.create, BetaMessages.parse]
    # functools.wraps sets __wrapped__, which the methods' declared types do not carry.
    unwrapped = [p.__wrapped__ for p in patched]  # type: ignore[attr-defined]
    assert all(u is o for o, u in zip(originals, unwrapped, strict=True))
    create(client)
    assert spans(app) == []
    instrument(["anthropic"])
    create(client)
    assert len(spans(app)) == 1


@pytest.mark.recorder_errors("LlmCall.end and the stream accumulator raise")
def test_recorder_failures_never_reach_the_host(
    app: Flask,
    fake_openai: FakeOpenAI,
    client: anthropic.Anthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flask_llm_logs.instrumentation import anthropic_extract
    from flask_llm_logs.instrumentation import calls

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("recorder bug")

    monkeypatch.setattr(anthropic_extract.MessagesAccumulator, "add", broken)
    fake_openai.reply_with(TEXT, times=2)
    assert stream_text(list(create(client, stream=True))) == TEXT
    with client.messages.stream(model=MODEL, max_tokens=200, messages=MESSAGES) as stream:
        assert stream.get_final_text() == TEXT
    monkeypatch.setattr(calls.LlmCall, "end", broken)
    assert create(client).content
    fake_openai.fail_next(529)
    with pytest.raises(anthropic.OverloadedError):
        create(client)
