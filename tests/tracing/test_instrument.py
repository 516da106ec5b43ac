"""openai auto-instrumentation against the fake server, stored through the real writer."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Callable
from typing import Any
from typing import cast

import openai
import pytest
from flask import Flask
from openai.resources.chat.completions import AsyncCompletions
from openai.resources.chat.completions import Completions
from openai.resources.embeddings import Embeddings
from openai.resources.responses import Responses
from openai.types.chat import ChatCompletionMessageParam
from openai.types.chat import ChatCompletionToolParam
from openai.types.responses import FunctionToolParam
from openai.types.responses import ResponseFunctionToolCall
from openai.types.shared_params import Reasoning
from openai.types.shared_params import ResponseFormatJSONSchema

import flask_llm_logs
from flask_llm_logs import trace
from flask_llm_logs.config import ConfigurationError
from flask_llm_logs.instrumentation import calls
from flask_llm_logs.instrumentation import check_sdks
from flask_llm_logs.instrumentation import instrument
from flask_llm_logs.instrumentation import is_instrumented
from flask_llm_logs.testing import FakeOpenAI
from flask_llm_logs.tracing.pricing import cost_of
from tests.helpers.instrumentation import Verdict
from tests.helpers.tracing import MESSAGES
from tests.helpers.tracing import failed_call_span
from tests.helpers.tracing import one_trace
from tests.helpers.tracing import spans
from tests.helpers.tracing import traces

TOOLS: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "lookup_price",
            "parameters": {"type": "object", "properties": {"symbol": {"type": "string"}}},
        },
    }
]
SECRET = "sk-live-abcdefghijklmnopqrstuvwxyz0123"


pytestmark = pytest.mark.usefixtures("reinstrumented")


def test_chat_completion_span(app: Flask, fake_openai: FakeOpenAI) -> None:
    client = fake_openai.client(api_key=SECRET)
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "You are terse."},
        *MESSAGES,
    ]
    completion = client.chat.completions.create(
        model="gpt-4.1-mini",
        messages=messages,
        temperature=0.2,
        max_tokens=200,
        top_p=0.9,
        extra_headers={"Authorization": f"Bearer {SECRET}", "X-Trace": "1"},
    )
    messages.append({"role": "assistant", "content": "changed after the call"})
    messages[0]["content"] = "mutated"

    row, [llm] = one_trace(app)
    assert row.name == "auto:chat gpt-4.1-mini"
    assert row.status == "completed"
    assert (row.input_tokens, row.output_tokens) == (llm.input_tokens, llm.output_tokens)
    assert (llm.name, llm.kind, llm.operation, llm.status) == (
        "chat gpt-4.1-mini",
        "llm",
        "chat",
        "completed",
    )
    assert llm.model == completion.model
    assert llm.provider == "127.0.0.1"
    assert llm.input == {"messages": [{"role": "system", "content": "You are terse."}, *MESSAGES]}
    assert llm.output == {
        "role": "assistant",
        "content": completion.choices[0].message.content,
    }
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert llm.input_tokens == usage.prompt_tokens
    assert llm.output_tokens == usage.completion_tokens
    cached = usage.prompt_tokens_details.cached_tokens
    assert cached is not None and cached > 0
    assert llm.cached_tokens == cached
    assert llm.duration_ms > 0
    assert llm.time_to_first_token_ms is None
    assert llm.metadata == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "127.0.0.1",
        "gen_ai.request.model": "gpt-4.1-mini",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 200,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.response.model": completion.model,
        "gen_ai.response.id": completion.id,
        "gen_ai.response.finish_reasons": ["stop"],
    }
    stored = repr([tuple(row), tuple(llm)])
    assert SECRET not in stored
    assert "Authorization" not in stored


def test_tool_calls_become_child_spans(
    app: Flask, fake_openai: FakeOpenAI, openai_client: openai.OpenAI
) -> None:
    fake_openai.reply_with(tool_calls=[("lookup_price", {"symbol": "AAPL"}), ("lookup_price", "x")])
    completion = openai_client.chat.completions.create(
        model="gpt-4.1-mini", messages=MESSAGES, tools=TOOLS
    )
    calls_made = completion.choices[0].message.tool_calls
    assert calls_made is not None
    _, children = one_trace(app)
    [llm] = [c for c in children if c.kind == "llm"]
    tools = sorted((c for c in children if c.kind == "tool"), key=lambda c: str(c.input))
    assert llm.metadata["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert llm.input == {"messages": MESSAGES, "tools": TOOLS}
    assert llm.output["tool_calls"] == [
        {"id": calls_made[0].id, "name": "lookup_price", "arguments": {"symbol": "AAPL"}},
        {"id": calls_made[1].id, "name": "lookup_price", "arguments": "x"},
    ]
    assert [t.name for t in tools] == ["tool.lookup_price", "tool.lookup_price"]
    assert all(t.parent_id == llm.id and t.status == "completed" for t in tools)
    by_input = {str(t.input): t for t in tools}
    assert by_input["{'symbol': 'AAPL'}"].metadata["gen_ai.tool.call.id"] == calls_made[0].id
    assert by_input["x"].metadata["gen_ai.tool.call.id"] == calls_made[1].id


def test_responses_span_with_instructions_and_function_call(
    app: Flask, fake_openai: FakeOpenAI, openai_client: openai.OpenAI
) -> None:
    response = openai_client.responses.create(
        model="gpt-4.1-mini", input="Summarise AAPL", instructions="Be brief.", max_output_tokens=50
    )
    fake_openai.reply_with(tool_calls=[("lookup_price", {"symbol": "MSFT"})])
    with_tool = openai_client.responses.create(
        model="gpt-4.1-mini",
        input=[{"role": "user", "content": "price?"}],
        tools=[
            {
                "type": "function",
                "name": "lookup_price",
                "parameters": {"type": "object"},
                "strict": None,
            }
        ],
    )

    first, second = traces(app)
    [plain] = spans(app, trace_id=first.id)
    assert (plain.name, plain.operation) == ("responses gpt-4.1-mini", "responses")
    assert plain.input == {"input": "Summarise AAPL", "instructions": "Be brief."}
    assert plain.output == {"role": "assistant", "content": response.output_text}
    assert response.usage is not None
    assert plain.input_tokens == response.usage.input_tokens
    assert plain.output_tokens == response.usage.output_tokens
    assert plain.metadata["gen_ai.request.max_tokens"] == 50
    assert plain.metadata["gen_ai.response.id"] == response.id
    assert plain.metadata["gen_ai.response.finish_reasons"] == ["stop"]

    llm, tool_span = spans(app, trace_id=second.id)
    assert llm.input["tools"][0]["name"] == "lookup_price"
    call = with_tool.output[0]
    assert isinstance(call, ResponseFunctionToolCall)
    assert llm.output["tool_calls"] == [
        {"id": call.call_id, "name": "lookup_price", "arguments": {"symbol": "MSFT"}}
    ]
    assert (tool_span.name, tool_span.kind, tool_span.parent_id) == (
        "tool.lookup_price",
        "tool",
        llm.id,
    )
    assert tool_span.input == {"symbol": "MSFT"}
    assert tool_span.metadata["gen_ai.tool.call.id"] == call.call_id


def test_parse_stores_structured_output_as_json(app: Flask, openai_client: openai.OpenAI) -> None:
    chat = openai_client.chat.completions.parse(
        model="gpt-4.1-mini", messages=MESSAGES, response_format=Verdict
    )
    response = openai_client.responses.parse(
        model="gpt-4.1-mini", input="Judge AAPL", text_format=Verdict
    )
    schema: ResponseFormatJSONSchema = {
        "type": "json_schema",
        "json_schema": {"name": "verdict", "schema": Verdict.model_json_schema()},
    }
    created = openai_client.chat.completions.create(
        model="gpt-4.1-mini", messages=MESSAGES, response_format=schema
    )
    rows = sorted(spans(app, kind="llm"), key=lambda s: s.started_at)
    assert [r.operation for r in rows] == ["chat", "responses", "chat"]
    parsed = chat.choices[0].message.parsed
    assert parsed is not None and response.output_parsed is not None
    assert rows[0].output["content"] == parsed.model_dump()
    assert rows[1].output["content"] == response.output_parsed.model_dump()
    assert isinstance(rows[2].output["content"], dict)
    assert rows[2].output["content"].keys() == {"verdict", "confidence"}
    content = created.choices[0].message.content
    assert content is not None and content.startswith("{")


def test_a_format_the_host_changes_after_the_call_is_read_as_it_was(
    app: Flask, openai_client: openai.OpenAI
) -> None:
    """The request is read when the call ends, on the writer, but not a parameter the
    host owns and may reuse: its JSON format and reasoning effort are read at once."""
    schema: dict[str, Any] = {
        "type": "json_schema",
        "json_schema": {"name": "verdict", "schema": Verdict.model_json_schema()},
    }
    reasoning: dict[str, Any] = {"effort": "low"}
    openai_client.chat.completions.create(
        model="gpt-4.1-mini",
        messages=MESSAGES,
        response_format=cast(ResponseFormatJSONSchema, schema),
    )
    openai_client.responses.create(
        model="gpt-4.1-mini",
        input="Judge AAPL",
        reasoning=cast(Reasoning, reasoning),
    )
    schema["type"] = "text"  # the host reuses its objects for the next calls
    reasoning["effort"] = "high"
    chat, response = sorted(spans(app, kind="llm"), key=lambda s: s.started_at)
    assert isinstance(chat.output["content"], dict)
    assert response.metadata["openai.request.reasoning_effort"] == "low"


def test_embeddings_span(app: Flask, openai_client: openai.OpenAI) -> None:
    result = openai_client.embeddings.create(
        model="text-embedding-3-small", input=["a", "bb"], dimensions=64
    )
    _, [llm] = one_trace(app)
    assert (llm.name, llm.operation) == ("embeddings text-embedding-3-small", "embeddings")
    assert llm.input == {"input": ["a", "bb"]}
    assert llm.output == {"embeddings": 2, "dimensions": len(result.data[0].embedding)}
    assert llm.input_tokens == result.usage.prompt_tokens
    assert llm.metadata["gen_ai.embeddings.dimension.count"] == 64


def test_with_raw_response_is_recorded_once(app: Flask, openai_client: openai.OpenAI) -> None:
    raw = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4.1-mini", messages=MESSAGES
    )
    assert raw.headers["content-type"].startswith("application/json")
    completion = raw.parse()
    assert raw.parse() is completion
    raw_response = openai_client.responses.with_raw_response.create(
        model="gpt-4.1-mini", input="hello"
    )
    rows = sorted(spans(app, kind="llm"), key=lambda s: s.started_at)
    assert len(rows) == 2
    assert rows[0].output["content"] == completion.choices[0].message.content
    assert rows[1].output["content"] == raw_response.parse().output_text


def test_streaming_response_passes_through_untraced(
    app: Flask, openai_client: openai.OpenAI
) -> None:
    with openai_client.chat.completions.with_streaming_response.create(
        model="gpt-4.1-mini", messages=MESSAGES
    ) as response:
        assert response.parse().choices
    assert spans(app) == []


def test_raw_response_streams_are_recorded(app: Flask, fake_openai: FakeOpenAI) -> None:
    async def read_async() -> str:
        async with fake_openai.async_client() as client:
            raw = await client.responses.with_raw_response.create(
                model="gpt-4.1-mini", input="hello", stream=True
            )
            events = [event async for event in raw.parse()]
        return "".join(e.delta for e in events if e.type == "response.output_text.delta")

    raw = fake_openai.client().chat.completions.with_raw_response.create(
        model="gpt-4.1-mini", messages=MESSAGES, stream=True
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    stream = raw.parse()
    assert type(stream) is openai.Stream and raw.parse() is stream
    chat_text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    responses_text = asyncio.run(read_async())

    chat, responses = sorted(spans(app, kind="llm"), key=lambda s: s.started_at)
    assert (chat.operation, chat.output["content"]) == ("chat", chat_text)
    assert (responses.operation, responses.output["content"]) == ("responses", responses_text)
    assert chat.metadata["llm_logs.stream"] == responses.metadata["llm_logs.stream"] == "exhausted"


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(429, openai.RateLimitError), (500, openai.InternalServerError)],
)
def test_api_error_span(
    app: Flask,
    fake_openai: FakeOpenAI,
    openai_client: openai.OpenAI,
    status: int,
    error_class: type[openai.APIStatusError],
) -> None:
    fake_openai.fail_next(status, message="try again later")
    with pytest.raises(error_class) as raised, trace("request"):
        openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    assert raised.value.status_code == status
    llm = failed_call_span(app, status, error_class, {"messages": MESSAGES})
    assert "try again later" in llm.error


def test_error_outside_a_trace_marks_the_auto_trace(
    app: Flask, fake_openai: FakeOpenAI, openai_client: openai.OpenAI
) -> None:
    fake_openai.fail_next(500)
    with pytest.raises(openai.InternalServerError):
        openai_client.embeddings.create(model="text-embedding-3-small", input="x")
    row, [llm] = one_trace(app)
    assert row.name == "auto:embeddings text-embedding-3-small"
    assert row.status == llm.status == "error"
    assert row.error == llm.error


def test_async_calls(app: Flask, fake_openai: FakeOpenAI) -> None:
    async def main() -> None:
        async with fake_openai.async_client() as client, trace("async"):
            await client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
            await client.chat.completions.parse(
                model="gpt-4.1-mini", messages=MESSAGES, response_format=Verdict
            )
            await client.responses.create(model="gpt-4.1-mini", input="hi")
            await client.responses.parse(model="gpt-4.1-mini", input="hi", text_format=Verdict)
            await client.embeddings.create(model="text-embedding-3-small", input="hi")
            raw = await client.chat.completions.with_raw_response.create(
                model="gpt-4.1-mini", messages=MESSAGES
            )
            assert raw.parse().choices
            fake_openai.fail_next(429)
            with pytest.raises(openai.RateLimitError):
                await client.responses.create(model="gpt-4.1-mini", input="hi")

    asyncio.run(main())
    row, children = one_trace(app)
    assert row.status == "completed"
    assert [c.operation for c in children] == [
        "chat",
        "chat",
        "responses",
        "responses",
        "embeddings",
        "chat",
        "responses",
    ]
    assert [c.status for c in children][-1] == "error"
    assert children[1].output["content"].keys() == {"verdict", "confidence"}
    assert all(c.input_tokens for c in children[:-1])


def test_patching_is_idempotent(
    make_app: Callable[..., Flask], openai_client: openai.OpenAI
) -> None:
    first = make_app()
    second = make_app()
    instrument()
    patched = Completions.create
    instrument()
    assert Completions.create is patched
    with second.app_context():
        openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    assert len(spans(first)) == 1


def test_uninstrument_restores_the_sdk(app: Flask, openai_client: openai.OpenAI) -> None:
    patched = [Completions.create, AsyncCompletions.parse, Responses.create, Embeddings.create]
    flask_llm_logs.uninstrument()
    assert not is_instrumented()
    originals = [Completions.create, AsyncCompletions.parse, Responses.create, Embeddings.create]
    # functools.wraps sets __wrapped__, which typeshed does not declare.
    unwrapped = [p.__wrapped__ for p in patched]  # type: ignore[attr-defined]
    assert all(p is o for o, p in zip(originals, unwrapped, strict=True))
    openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    assert spans(app) == []
    flask_llm_logs.uninstrument()  # twice is fine
    instrument()
    assert Completions.create is not originals[0]
    openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    assert len(spans(app)) == 1


def test_auto_instrument_off(make_app: Callable[..., Flask]) -> None:
    flask_llm_logs.uninstrument()
    make_app(LLM_LOGS_AUTO_INSTRUMENT=False)
    assert not is_instrumented()
    make_app()
    assert is_instrumented()


def test_cost_is_priced_by_the_writer(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    app = make_app(LLM_LOGS_PRICING_PROVIDER="openai")
    with app.app_context():
        client = fake_openai.client()
        client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
        row, [llm] = one_trace(app)
    expected = cost_of(llm.model, "openai", llm.input_tokens, llm.output_tokens, llm.cached_tokens)
    assert expected
    assert llm.cost == pytest.approx(expected)
    assert row.cost == pytest.approx(expected)


def test_reasoning_tokens_and_no_cost_for_an_unknown_price(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    app = make_app(LLM_LOGS_PRICING_PROVIDER="openai")
    question: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "Explain the rule of three in detail"}
    ]
    with app.app_context(), trace("reasoning"):
        client = fake_openai.client()
        chat = client.chat.completions.create(model="o4-mini", messages=question)
        response = client.responses.create(model="o4-mini", input="Explain the rule of three")
        client.chat.completions.create(model="no-such-model-2099", messages=question)
    row, children = one_trace(app)
    by_operation = {(c.operation, c.model): c for c in children}
    chat_span = by_operation["chat", chat.model]
    response_span = by_operation["responses", response.model]
    assert chat.usage is not None and chat.usage.completion_tokens_details is not None
    assert response.usage is not None
    chat_reasoning = chat.usage.completion_tokens_details.reasoning_tokens
    assert chat_reasoning is not None and chat_reasoning > 0
    assert chat_span.reasoning_tokens == chat_reasoning
    assert response_span.reasoning_tokens == response.usage.output_tokens_details.reasoning_tokens
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    assert row.reasoning_tokens == chat_span.reasoning_tokens + response_span.reasoning_tokens
    assert chat_span.cost is not None
    [unknown] = [c for c in children if c.model == "no-such-model-2099"]
    assert unknown.input_tokens and unknown.cost is None  # never a guess


def test_provider_is_openai_or_the_base_url_host() -> None:
    default = openai.OpenAI(api_key="test")
    custom = openai.OpenAI(api_key="test", base_url="https://llm.example.com:8443/v1")
    assert calls.provider_of(default.chat.completions) == "openai"
    assert calls.provider_of(custom.responses) == "llm.example.com"
    default.close()
    custom.close()


@pytest.mark.recorder_errors("LlmCall.start and LlmCall.end are replaced by functions that raise")
def test_recorder_failures_never_reach_the_host(
    app: Flask,
    fake_openai: FakeOpenAI,
    openai_client: openai.OpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("recorder bug")

    monkeypatch.setattr(calls.LlmCall, "end", broken)
    completion = openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    assert completion.choices[0].message.content
    fake_openai.fail_next(429)
    with pytest.raises(openai.RateLimitError):
        openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    stream = openai_client.chat.completions.create(
        model="gpt-4.1-mini", messages=MESSAGES, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    monkeypatch.setattr(calls.LlmCall, "start", broken)
    assert openai_client.embeddings.create(model="text-embedding-3-small", input="x").data


def test_capture_content_off_keeps_no_tool_arguments(
    app: Flask, fake_openai: FakeOpenAI, openai_client: openai.OpenAI
) -> None:
    app.config["LLM_LOGS_CAPTURE_CONTENT"] = False
    fake_openai.reply_with(tool_calls=[("lookup_price", {"symbol": "AAPL"})])
    openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES, tools=TOOLS)
    [llm] = spans(app, kind="llm")
    [tool_span] = spans(app, kind="tool")
    assert llm.input is llm.output is tool_span.input is None
    assert tool_span.name == "tool.lookup_price"
    assert tool_span.metadata["gen_ai.tool.call.id"]


def test_an_app_without_auto_instrument_records_no_llm_calls(
    make_app: Callable[..., Flask], openai_client: openai.OpenAI
) -> None:
    make_app()  # another app patched the SDK for the whole process
    quiet = make_app(LLM_LOGS_AUTO_INSTRUMENT=False)
    with quiet.app_context():
        openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
        with trace("own_steps"):
            openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
        [row] = traces(quiet)
        assert row.name == "own_steps"
        assert spans(quiet) == []


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_chat_with_n_choices_stores_every_choice(
    app: Flask, openai_client: openai.OpenAI, stream: bool
) -> None:
    completion = openai_client.chat.completions.create(
        model="gpt-4.1-mini", messages=MESSAGES, n=3, stream=stream
    )
    if stream:
        for _ in completion:
            pass
    _, [llm] = one_trace(app)
    assert isinstance(llm.output, list) and len(llm.output) == 3
    assert all(m["role"] == "assistant" and m["content"] for m in llm.output)
    assert llm.metadata["gen_ai.request.choice.count"] == 3
    assert llm.metadata["gen_ai.response.finish_reasons"] == ["stop"] * 3


def test_stop_sequences_are_stored_as_a_list(app: Flask, openai_client: openai.OpenAI) -> None:
    openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES, stop="END")
    openai_client.chat.completions.create(
        model="gpt-4.1-mini", messages=MESSAGES, stop=["END", "STOP"]
    )
    assert flask_llm_logs.flush(timeout=10)
    stored = sorted(s.metadata["gen_ai.request.stop_sequences"] for s in spans(app, kind="llm"))
    assert stored == [["END"], ["END", "STOP"]]


def test_responses_finish_reasons_use_the_conventions_values(
    app: Flask, fake_openai: FakeOpenAI, openai_client: openai.OpenAI
) -> None:
    cut = openai_client.responses.create(
        model="gpt-4.1-mini", input="Count from one to ten in words", max_output_tokens=2
    )
    assert cut.status == "incomplete"
    fake_openai.reply_with(tool_calls=[("lookup_price", {"symbol": "MSFT"})])
    lookup_price: FunctionToolParam = {
        "type": "function",
        "name": "lookup_price",
        "parameters": {"type": "object"},
        "strict": None,
    }
    openai_client.responses.create(model="gpt-4.1-mini", input="price?", tools=[lookup_price])
    openai_client.responses.create(model="gpt-4.1-mini", input="hello")
    reasons = [
        s.metadata["gen_ai.response.finish_reasons"]
        for t in traces(app)
        for s in spans(app, trace_id=t.id, kind="llm")
    ]
    assert reasons == [["length"], ["tool_calls"], ["stop"]]


def test_responses_cache_writes_are_read_from_the_usage(
    app: Flask, openai_client: openai.OpenAI
) -> None:
    """The Responses API reports cache writes apart (``input_tokens_details``)."""
    openai_client.responses.create(model="gpt-4.1-mini", input="hello")
    [span] = [s for t in traces(app) for s in spans(app, trace_id=t.id, kind="llm")]
    assert span.cache_write_tokens == 0  # reported: zero, not unknown
    [trace] = traces(app)
    assert trace.cache_write_tokens == 0


def test_an_sdk_whose_namespace_is_missing_is_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``google.genai`` without any ``google`` package: find_spec raises, it is not "None"."""
    find_spec = importlib.util.find_spec

    def without_google(name: str, package: str | None = None) -> Any:
        if name.split(".")[0] == "google":
            raise ModuleNotFoundError(f"No module named {name!r}")
        return find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", without_google)
    assert "google" not in check_sdks(None)
    with pytest.raises(ConfigurationError, match=r"flask-llm-logs\[google\]"):
        check_sdks(["google"])


def test_a_response_is_read_on_the_writers_thread(
    app: Flask, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the response, its tool calls included, is off the host's LLM call."""
    readers: list[str] = []
    outcome_of = calls.LlmCall.outcome_of

    def spy(self: calls.LlmCall, result: Any) -> Any:
        readers.append(threading.current_thread().name)
        return outcome_of(self, result)

    monkeypatch.setattr(calls.LlmCall, "outcome_of", spy)
    fake_openai.reply_with(tool_calls=[("lookup_price", {"symbol": "AAPL"})])
    client = fake_openai.client()
    completion = client.chat.completions.create(
        model="gpt-4.1-mini", messages=MESSAGES, tools=TOOLS
    )
    assert completion.choices[0].message.tool_calls
    [llm] = spans(app, kind="llm")
    [tool_span] = spans(app, kind="tool")
    assert readers and all(name.startswith("flask-llm-logs-writer") for name in readers)
    assert llm.output["tool_calls"][0]["arguments"] == {"symbol": "AAPL"}
    assert llm.input_tokens and llm.metadata["gen_ai.response.model"]
    assert (tool_span.parent_id, tool_span.input) == (llm.id, {"symbol": "AAPL"})


@pytest.mark.recorder_errors("the host breaks the response before the writer reads it")
def test_a_response_the_host_breaks_leaves_the_span_without_its_outcome(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    # The writer reads at its flush interval at the earliest, or on flush().
    app = make_app(LLM_LOGS_WRITER_FLUSH_INTERVAL=60)
    with app.app_context():
        completion = fake_openai.client().chat.completions.create(
            model="gpt-4.1-mini", messages=MESSAGES
        )
        del completion.__dict__["usage"]  # reading it now raises AttributeError
        [llm] = spans(app, kind="llm")
    assert (llm.status, llm.output, llm.input_tokens) == ("completed", None, None)
    assert llm.input == {"messages": MESSAGES}
