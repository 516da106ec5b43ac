"""LiteLLM instrumentation: one LiteLLM call is exactly one span, named after its provider.

LiteLLM calls the ``openai`` SDK underneath for OpenAI models; that inner
call must not become a second span. Every call goes to the fake server.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import litellm
import litellm.exceptions
import pytest
from flask import Flask
from genai_prices import data_snapshot

import flask_llm_logs
from flask_llm_logs import trace
from flask_llm_logs.instrumentation import calls
from flask_llm_logs.instrumentation import instrument
from flask_llm_logs.instrumentation import is_instrumented
from flask_llm_logs.instrumentation.litellm import PROVIDER_NAMES
from flask_llm_logs.testing import FakeOpenAI
from flask_llm_logs.tracing.pricing import cost_of
from tests.helpers.tracing import MESSAGES
from tests.helpers.tracing import one_trace
from tests.helpers.tracing import spans
from tests.helpers.tracing import wait_until

MODEL = "gpt-4o-mini"
TEXT = "one two three four five six seven eight nine ten"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_price",
            "parameters": {"type": "object", "properties": {"symbol": {"type": "string"}}},
        },
    }
]


pytestmark = pytest.mark.usefixtures("reinstrumented")


@pytest.fixture
def route(fake_openai: FakeOpenAI) -> dict[str, Any]:
    """LiteLLM's arguments that route a call to the fake OpenAI server, without retries."""
    return {"api_base": fake_openai.base_url, "api_key": "test", "max_retries": 0}


def complete(route: dict[str, Any], **kwargs: Any) -> Any:
    return litellm.completion(model=f"openai/{MODEL}", messages=MESSAGES, **route, **kwargs)


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_the_inner_openai_call_is_not_a_second_span(
    app: Flask, fake_openai: FakeOpenAI, route: dict[str, Any]
) -> None:
    assert is_instrumented("litellm") and is_instrumented("openai")
    response = complete(route, temperature=0.2)
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 1

    row, [llm] = one_trace(app)  # exactly one span for one LiteLLM call
    assert row.name == f"auto:chat openai/{MODEL}"
    assert (llm.name, llm.kind, llm.operation, llm.status) == (
        f"chat openai/{MODEL}",
        "llm",
        "chat",
        "completed",
    )
    assert llm.provider == "openai"  # where LiteLLM routed it, not the fake's host
    assert llm.model == response.model == MODEL
    assert llm.input == {"messages": MESSAGES}
    assert llm.output == {"role": "assistant", "content": response.choices[0].message.content}
    assert (llm.input_tokens, llm.output_tokens) == (
        response.usage.prompt_tokens,
        response.usage.completion_tokens,
    )
    assert llm.cached_tokens == response.usage.prompt_tokens_details.cached_tokens
    assert llm.metadata == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": f"openai/{MODEL}",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.response.model": MODEL,
        "gen_ai.response.id": response.id,
        "gen_ai.response.finish_reasons": ["stop"],
    }
    assert "test" not in repr(tuple(llm))  # the API key


def test_one_span_per_call_inside_a_trace(
    app: Flask, fake_openai: FakeOpenAI, route: dict[str, Any]
) -> None:
    with trace("request"):
        complete(route)
        litellm.embedding(model="openai/text-embedding-3-small", input=["hello"], **route)
    row, children = one_trace(app)
    assert row.name == "request"
    assert [(c.operation, c.provider) for c in children if c.kind == "llm"] == [
        ("chat", "openai"),
        ("embeddings", "openai"),
    ]
    assert len(children) == 2  # one per LiteLLM call, none for the openai calls inside


def test_tool_calls_become_child_spans(
    app: Flask, fake_openai: FakeOpenAI, route: dict[str, Any]
) -> None:
    fake_openai.reply_with(tool_calls=[("lookup_price", {"symbol": "AAPL"})])
    response = complete(route, tools=TOOLS)
    [call] = response.choices[0].message.tool_calls
    _, [llm, tool] = one_trace(app)
    assert llm.input == {"messages": MESSAGES, "tools": TOOLS}
    assert llm.metadata["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert (tool.name, tool.kind, str(tool.parent_id)) == ("tool.lookup_price", "tool", str(llm.id))
    assert tool.input == {"symbol": "AAPL"}
    assert tool.metadata["gen_ai.tool.call.id"] == call.id


def test_embedding_span(app: Flask, route: dict[str, Any]) -> None:
    response = litellm.embedding(
        model="openai/text-embedding-3-small", input=["hello", "world"], **route
    )
    _, [llm] = one_trace(app)
    assert (llm.operation, llm.provider, llm.model) == (
        "embeddings",
        "openai",
        "text-embedding-3-small",
    )
    assert llm.input == {"input": ["hello", "world"]}
    assert llm.output == {"embeddings": 2, "dimensions": len(response.data[0]["embedding"])}
    assert llm.input_tokens == response.usage.prompt_tokens


def test_positional_arguments_are_read(app: Flask, route: dict[str, Any]) -> None:
    litellm.completion(f"openai/{MODEL}", MESSAGES, **route)
    _, [llm] = one_trace(app)
    assert (llm.name, llm.input) == (f"chat openai/{MODEL}", {"messages": MESSAGES})


def test_async_calls_are_one_span_each(
    app: Flask, fake_openai: FakeOpenAI, route: dict[str, Any]
) -> None:
    async def main() -> None:
        with trace("async"):
            await litellm.acompletion(model=f"openai/{MODEL}", messages=MESSAGES, **route)
            await litellm.aembedding(model="openai/text-embedding-3-small", input="x", **route)

    asyncio.run(main())
    _, children = one_trace(app)
    assert [(c.operation, c.provider) for c in children if c.kind == "llm"] == [
        ("chat", "openai"),
        ("embeddings", "openai"),
    ]
    assert len(children) == 2


def test_cost_is_priced_for_the_routed_provider(app: Flask, route: dict[str, Any]) -> None:
    response = complete(route)
    _, [llm] = one_trace(app)
    usage = response.usage
    expected = cost_of(MODEL, "openai", usage.prompt_tokens, usage.completion_tokens)
    assert expected and llm.cost == pytest.approx(expected)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(429, litellm.exceptions.RateLimitError), (500, litellm.exceptions.InternalServerError)],
)
def test_api_error_span(
    app: Flask,
    fake_openai: FakeOpenAI,
    route: dict[str, Any],
    status: int,
    error_class: type[Exception],
) -> None:
    fake_openai.fail_next(status, message="try again later")
    with pytest.raises(error_class) as raised:
        complete(route)
    assert raised.value.status_code == status  # type: ignore[attr-defined]
    row, [llm] = one_trace(app)
    assert row.status == llm.status == "error"
    assert llm.provider == "openai"
    assert llm.error.startswith(f"{error_class.__name__} (HTTP {status}): ")
    assert llm.metadata["http.response.status_code"] == status
    assert llm.input == {"messages": MESSAGES}


def test_stream_read_to_the_end(app: Flask, fake_openai: FakeOpenAI, route: dict[str, Any]) -> None:
    fake_openai.reply_with(TEXT)
    stream = complete(route, stream=True, stream_options={"include_usage": True})
    assert isinstance(stream, litellm.CustomStreamWrapper)
    assert spans(app) == []  # recorded when it ends
    chunks = list(stream)
    assert text_of(chunks) == TEXT
    usage = chunks[-1].usage
    _, [llm] = one_trace(app)
    assert llm.provider == "openai"
    assert llm.output == {"role": "assistant", "content": TEXT}
    assert (llm.input_tokens, llm.output_tokens) == (usage.prompt_tokens, usage.completion_tokens)
    assert 0 < llm.time_to_first_token_ms <= llm.duration_ms
    assert llm.metadata["llm_logs.stream"] == "exhausted"
    assert llm.metadata["gen_ai.response.finish_reasons"] == ["stop"]


def test_stream_closed_early_keeps_partial_output(
    app: Flask, fake_openai: FakeOpenAI, route: dict[str, Any]
) -> None:
    fake_openai.reply_with(TEXT)
    read = []
    with complete(route, stream=True) as stream:
        for chunk in stream:
            read.append(chunk)
            if text_of(read):
                break
    _, [llm] = one_trace(app)
    assert llm.metadata["llm_logs.stream"] == "closed"
    assert llm.output["content"] == text_of(read) != TEXT


def test_stream_abandoned_is_recorded_when_collected(
    app: Flask, fake_openai: FakeOpenAI, route: dict[str, Any]
) -> None:
    fake_openai.reply_with(TEXT)
    stream = complete(route, stream=True)
    next(stream)
    del stream

    def collected() -> bool:
        gc.collect()
        return len(spans(app)) > 0

    # LiteLLM's logging threads let go of the stream later, the later the
    # more work earlier tests left them (seen: over 5 s late in the whole suite).
    wait_until(collected, timeout=30.0)
    [llm] = spans(app)
    assert llm.metadata["llm_logs.stream"] == "abandoned"


def test_async_stream(app: Flask, fake_openai: FakeOpenAI, route: dict[str, Any]) -> None:
    fake_openai.reply_with(TEXT, times=2)

    async def main() -> tuple[str, str]:
        full = await litellm.acompletion(
            model=f"openai/{MODEL}", messages=MESSAGES, stream=True, **route
        )
        whole = text_of([chunk async for chunk in full])
        partial = await litellm.acompletion(
            model=f"openai/{MODEL}", messages=MESSAGES, stream=True, **route
        )
        read = []
        async for chunk in partial:
            read.append(chunk)
            if text_of(read):
                break
        await partial.aclose()
        return whole, text_of(read)

    whole, partial = asyncio.run(main())
    assert whole == TEXT
    by_ending = {s.metadata["llm_logs.stream"]: s for s in spans(app, kind="llm")}
    assert by_ending["exhausted"].output["content"] == TEXT
    assert by_ending["closed"].output["content"] == partial != TEXT


def test_stream_tool_calls(app: Flask, fake_openai: FakeOpenAI, route: dict[str, Any]) -> None:
    fake_openai.reply_with(tool_calls=[("lookup_price", {"symbol": "AAPL"})])
    list(complete(route, tools=TOOLS, stream=True))
    [tool] = spans(app, kind="tool")
    assert (tool.name, tool.input) == ("tool.lookup_price", {"symbol": "AAPL"})


def test_the_caller_gets_exactly_what_litellm_returns(
    app: Flask, route: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    flask_llm_logs.uninstrument()
    returned: list[Any] = []
    completion = litellm.completion

    def spy(*args: Any, **kwargs: Any) -> Any:
        returned.append(completion(*args, **kwargs))
        return returned[-1]

    monkeypatch.setattr(litellm, "completion", spy)
    instrument()
    assert complete(route) is returned[-1]
    stream = complete(route, stream=True)
    assert stream is returned[-1]
    assert isinstance(stream, litellm.CustomStreamWrapper)
    assert text_of(list(stream))
    flask_llm_logs.uninstrument()  # puts the spy back, for monkeypatch to undo
    assert len(spans(app, kind="llm")) == 2


def test_streams_read_as_unpatched(
    app: Flask, fake_openai: FakeOpenAI, route: dict[str, Any]
) -> None:
    fake_openai.reply_with(TEXT, times=2)

    def read() -> list[Any]:
        stream = complete(route, stream=True, stream_options={"include_usage": True})
        return [c.model_dump(exclude={"id", "created"}) for c in stream]

    patched = read()
    flask_llm_logs.uninstrument()
    assert read() == patched


def test_content_capture_off(app: Flask, fake_openai: FakeOpenAI, route: dict[str, Any]) -> None:
    app.config["LLM_LOGS_CAPTURE_CONTENT"] = False
    fake_openai.reply_with(tool_calls=[("lookup_price", {"symbol": "AAPL"})])
    complete(route, tools=TOOLS)
    [llm] = spans(app, kind="llm")
    [tool] = spans(app, kind="tool")
    assert llm.input is llm.output is tool.input is None
    assert llm.input_tokens


def test_redaction_applies(make_app: Callable[..., Flask], route: dict[str, Any]) -> None:
    app = make_app(LLM_LOGS_REDACT=lambda value: str(value).replace("AAPL", "[ticker]"))
    with app.app_context():
        complete(route)
        _, [llm] = one_trace(app)
    assert "AAPL" not in str(llm.input) and "[ticker]" in str(llm.input)


@pytest.mark.recorder_errors("LlmCall.start and LlmCall.end are replaced by functions that raise")
def test_recorder_failures_never_reach_the_host(
    app: Flask,
    fake_openai: FakeOpenAI,
    route: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("recorder bug")

    monkeypatch.setattr(calls.LlmCall, "end", broken)
    assert complete(route).choices[0].message.content
    assert text_of(list(complete(route, stream=True)))
    fake_openai.fail_next(429)
    with pytest.raises(litellm.exceptions.RateLimitError):
        complete(route)
    monkeypatch.setattr(calls.LlmCall, "start", broken)
    assert complete(route).choices[0].message.content


def test_uninstrument_restores_litellm(app: Flask, route: dict[str, Any]) -> None:
    patched = litellm.completion
    flask_llm_logs.uninstrument()
    assert not is_instrumented("litellm")
    assert litellm.completion is not patched
    complete(route)
    assert spans(app) == []


def test_provider_names_are_litellm_names_priced_by_genai_prices() -> None:
    known = {provider.id for provider in data_snapshot.get_snapshot().providers}
    ours = {"google-vertex", "ollama", "vllm"}  # named as the other integrations name them
    for litellm_name, name in PROVIDER_NAMES.items():
        assert litellm_name in litellm.provider_list, litellm_name
        assert name in known | ours, name


def test_init_app_never_lets_litellm_fetch_its_price_map() -> None:
    """The app's first import of LiteLLM after ``instrument()`` uses the price map LiteLLM
    ships, and is patched."""
    script = (
        "import os, sys\n"
        "from flask_llm_logs.instrumentation import instrument\n"
        "instrument(['litellm'])\n"
        "assert 'litellm' not in sys.modules\n"
        "import litellm\n"
        "assert litellm.completion.__wrapped__\n"
        "print(os.environ['LITELLM_LOCAL_MODEL_COST_MAP'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_a_call_routed_to_anthropic_is_one_span_named_anthropic(
    app: Flask, fake_openai: FakeOpenAI
) -> None:
    """LiteLLM talks to Anthropic's Messages API itself; its provider names the span.

    The overloaded answer is scripted, so this holds whether or not the fake
    server serves Anthropic's API.
    """
    fake_openai.fail_next(529, path="/v1/messages", message="Overloaded")
    with pytest.raises(litellm.exceptions.InternalServerError) as raised:
        litellm.completion(
            model="anthropic/claude-sonnet-4-20250514",
            messages=MESSAGES,
            api_base=fake_openai.url,
            api_key="test",
            max_retries=0,
        )
    assert [r.path for r in fake_openai.requests] == ["/v1/messages"]
    _, [llm] = one_trace(app)
    assert (llm.provider, llm.status) == ("anthropic", "error")
    assert llm.metadata["http.response.status_code"] == raised.value.status_code


def test_routed_to_the_anthropic_fake_is_one_span_with_its_cache_tokens(
    app: Flask, fake_openai: FakeOpenAI
) -> None:
    """LiteLLM speaks Anthropic's Messages API itself (not through the anthropic SDK):
    one span, named ``anthropic``, with reads and writes of the prompt cache."""
    system = [
        {"type": "text", "text": "You are terse. " * 300, "cache_control": {"type": "ephemeral"}}
    ]
    messages = [{"role": "system", "content": system}, *MESSAGES]
    route = {"api_base": fake_openai.url, "api_key": "test", "max_retries": 0}
    model = "anthropic/claude-sonnet-4-20250514"
    with trace("cached"):
        first = litellm.completion(model=model, messages=messages, max_tokens=100, **route)
        second = litellm.completion(model=model, messages=messages, max_tokens=100, **route)
    assert [r.path for r in fake_openai.requests] == ["/v1/messages"] * 2
    _, [write, read] = one_trace(app)
    assert (write.provider, write.status, write.operation) == ("anthropic", "completed", "chat")
    assert write.output == {"role": "assistant", "content": first.choices[0].message.content}
    assert write.input_tokens == first.usage.prompt_tokens  # cache reads and writes included
    assert write.cache_write_tokens and not write.cached_tokens
    assert read.cached_tokens == write.cache_write_tokens and not read.cache_write_tokens
    assert read.input_tokens == second.usage.prompt_tokens
