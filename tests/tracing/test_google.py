"""google-genai calls recorded as spans, against the fake Gemini API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

genai = pytest.importorskip("google.genai")

from google.genai import errors  # noqa: E402
from google.genai import types  # noqa: E402

from flask_llm_logs import trace  # noqa: E402
from flask_llm_logs.instrumentation import calls  # noqa: E402
from flask_llm_logs.instrumentation import instrument  # noqa: E402
from flask_llm_logs.instrumentation import is_instrumented  # noqa: E402
from flask_llm_logs.instrumentation import uninstrument  # noqa: E402
from flask_llm_logs.testing import FakeOpenAI  # noqa: E402
from flask_llm_logs.tracing.pricing import cost_of  # noqa: E402
from tests.helpers.google import usage_of  # noqa: E402
from tests.helpers.tracing import one_trace  # noqa: E402
from tests.helpers.tracing import spans  # noqa: E402

MODEL = "gemini-2.5-flash"
SECRET = "AIzaSy-live-abcdefghijklmnopqrstuvwxyz0123"
WEATHER = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            description="The weather in a city.",
            parameters_json_schema={
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        )
    ]
)
NO_AFC = types.AutomaticFunctionCallingConfig(disable=True)


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"rainy in {city}"


@pytest.fixture(autouse=True)
def instrumented() -> Iterator[None]:
    """Tests that uninstrument leave the SDK patched again for the next test."""
    yield
    instrument()


@pytest.fixture
def client(fake_openai: FakeOpenAI) -> Any:
    return fake_openai.gemini_client()


def test_generate_content_span(app: Flask, fake_openai: FakeOpenAI) -> None:
    client = fake_openai.gemini_client(api_key=SECRET)
    contents: list[Any] = ["What is the weather like in Paris today?"]
    response = client.models.generate_content(
        model=MODEL,
        contents=contents,
        config=types.GenerateContentConfig(
            system_instruction="You are terse.",
            temperature=0.2,
            max_output_tokens=200,
            stop_sequences=["END"],
        ),
    )
    contents.append("changed after the call")

    row, [llm] = one_trace(app)
    assert row.name == f"auto:generate_content {MODEL}"
    assert row.status == llm.status == "completed"
    assert (llm.name, llm.kind, llm.operation) == (
        f"generate_content {MODEL}",
        "llm",
        "generate_content",
    )
    assert (llm.model, llm.provider) == (response.model_version, "google")
    assert llm.input == {
        "contents": ["What is the weather like in Paris today?"],
        "system_instruction": "You are terse.",
    }
    assert llm.output == {"role": "assistant", "content": response.text}
    usage = usage_of(response)
    assert usage.thoughts_token_count and usage.cached_content_token_count
    assert usage.candidates_token_count is not None
    assert llm.input_tokens == usage.prompt_token_count
    assert llm.cached_tokens == usage.cached_content_token_count
    assert llm.output_tokens == usage.candidates_token_count + usage.thoughts_token_count
    assert llm.reasoning_tokens == usage.thoughts_token_count
    assert llm.input_tokens + llm.output_tokens == usage.total_token_count
    expected = cost_of(MODEL, "google", llm.input_tokens, llm.output_tokens, llm.cached_tokens)
    assert expected and llm.cost == pytest.approx(expected)
    assert llm.metadata == {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": "google",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 200,
        "gen_ai.request.stop_sequences": ["END"],
        "gen_ai.response.model": response.model_version,
        "gen_ai.response.id": response.response_id,
        "gen_ai.response.finish_reasons": ["stop"],
    }
    assert SECRET not in repr([tuple(row), tuple(llm)])


def test_sdk_objects_in_the_input_are_stored_without_their_unset_fields(
    app: Flask, client: Any
) -> None:
    contents = [types.Content(role="user", parts=[types.Part.from_text(text="Hi")])]
    client.models.generate_content(model=MODEL, contents=contents)
    [llm] = spans(app)
    assert llm.input == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}


def test_vertex_ai_client_is_provider_google_vertex(app: Flask, fake_openai: FakeOpenAI) -> None:
    client = fake_openai.gemini_client(vertexai=True)
    client.models.generate_content(model=MODEL, contents="Hello")
    client.models.embed_content(model="text-embedding-004", contents=["a b c d", "e"])
    embedded, generated = sorted(spans(app), key=lambda s: s.operation)
    assert fake_openai.requests[0].path.startswith("/v1beta1/publishers/google/models/")
    assert generated.provider == embedded.provider == "google-vertex"
    assert generated.cost is not None
    assert embedded.input_tokens == 2  # from each embedding's statistics
    assert embedded.output == {"embeddings": 2, "dimensions": 768}


def test_embed_content_span(app: Flask, client: Any) -> None:
    client.models.embed_content(
        model="gemini-embedding-001",
        contents=["What is the meaning of life?"],
        config={"output_dimensionality": 8},
    )
    row, [llm] = one_trace(app)
    assert row.name == "auto:embeddings gemini-embedding-001"
    assert (llm.operation, llm.model, llm.provider) == (
        "embeddings",
        "gemini-embedding-001",
        "google",
    )
    assert llm.input == {"input": ["What is the meaning of life?"]}
    assert llm.output == {"embeddings": 1, "dimensions": 8}
    assert llm.input_tokens == 7
    assert llm.metadata["gen_ai.embeddings.dimension.count"] == 8
    assert llm.cost is not None


def test_function_calls_become_tool_spans(app: Flask, client: Any) -> None:
    response = client.models.generate_content(
        model=MODEL,
        contents="Weather in Paris?",
        config=types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AFC),
    )
    [call] = response.function_calls
    _, children = one_trace(app)
    [llm] = [c for c in children if c.kind == "llm"]
    [tool] = [c for c in children if c.kind == "tool"]
    assert llm.metadata["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert llm.input["tools"][0]["function_declarations"][0]["name"] == "get_weather"
    assert llm.output["tool_calls"] == [
        {"id": None, "name": "get_weather", "arguments": dict(call.args)}
    ]
    assert (tool.name, tool.parent_id, tool.input) == ("tool.get_weather", llm.id, call.args)


def test_automatic_function_calling_is_one_span_with_its_tool_calls(
    app: Flask, fake_openai: FakeOpenAI, client: Any
) -> None:
    response = client.models.generate_content(
        model=MODEL, contents="Weather in Paris?", config={"tools": [get_weather]}
    )
    assert response.text.startswith("Fake reply using the tool result")
    assert len(fake_openai.requests) == 2
    _, children = one_trace(app)
    [llm] = [c for c in children if c.kind == "llm"]
    [tool] = [c for c in children if c.kind == "tool"]
    assert llm.input["tools"] == [{"function": "get_weather"}]
    assert llm.output["content"] == response.text
    assert tool.name == "tool.get_weather"
    assert llm.metadata["gen_ai.response.finish_reasons"] == ["stop"]


def test_chats_are_recorded_through_models(app: Flask, client: Any) -> None:
    with trace("conversation"):
        chat = client.chats.create(model=MODEL, config={"system_instruction": "Be nice."})
        first = chat.send_message("Hello")
        streamed = "".join(chunk.text for chunk in chat.send_message_stream("And then?"))
    row, [turn1, turn2] = one_trace(app)
    assert row.name == "conversation"
    assert turn1.output["content"] == first.text
    assert turn2.output["content"] == streamed
    assert turn2.input["system_instruction"] == "Be nice."
    history = turn2.input["contents"]
    assert [c["role"] for c in history] == ["user", "model", "user"]
    assert history[1]["parts"] == [{"text": first.text}]


@pytest.mark.parametrize(
    ("status", "error_class"), [(429, errors.ClientError), (500, errors.ServerError)]
)
def test_api_error_span(
    app: Flask,
    fake_openai: FakeOpenAI,
    client: Any,
    status: int,
    error_class: type[errors.APIError],
) -> None:
    fake_openai.fail_next(status, message="try again later")
    with pytest.raises(error_class) as raised, trace("request"):
        client.models.generate_content(model=MODEL, contents="Hi")
    assert raised.value.code == status
    row, [llm] = one_trace(app)
    assert (llm.status, row.status) == ("error", "error")
    assert llm.error == f"{error_class.__name__} (HTTP {status}): try again later"
    assert llm.metadata["http.response.status_code"] == status
    assert llm.metadata["error.type"] == error_class.__name__
    assert llm.input == {"contents": "Hi"}
    assert llm.output is None


def test_async_calls(app: Flask, fake_openai: FakeOpenAI) -> None:
    client = fake_openai.gemini_client()

    async def main() -> None:
        with trace("async"):
            await client.aio.models.generate_content(model=MODEL, contents="Hi")
            await client.aio.models.embed_content(model="gemini-embedding-001", contents="Hi")
            chat = client.aio.chats.create(model=MODEL)
            await chat.send_message("Hello")
            fake_openai.fail_next(429)
            with pytest.raises(errors.ClientError):
                await client.aio.models.generate_content(model=MODEL, contents="Hi")

    asyncio.run(main())
    row, children = one_trace(app)
    assert row.name == "async"
    assert [c.operation for c in children] == [
        "generate_content",
        "embeddings",
        "generate_content",
        "generate_content",
    ]
    assert [c.status for c in children] == ["completed"] * 3 + ["error"]
    assert children[-1].metadata["http.response.status_code"] == 429
    assert all(c.input_tokens for c in children[:-1])


def test_capture_content_off_keeps_no_content(app: Flask, client: Any) -> None:
    app.config["LLM_LOGS_CAPTURE_CONTENT"] = False
    client.models.generate_content(
        model=MODEL,
        contents="Weather in Paris?",
        config=types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AFC),
    )
    [llm] = spans(app, kind="llm")
    [tool] = spans(app, kind="tool")
    assert llm.input is llm.output is tool.input is None
    assert llm.input_tokens and tool.name == "tool.get_weather"


def test_redaction_applies(make_app: Callable[..., Flask], fake_openai: FakeOpenAI) -> None:
    def redact(value: Any) -> Any:
        return str(value).replace("4111-1111", "[card]")

    app = make_app(LLM_LOGS_REDACT=redact)
    fake_openai.reply_with("Your card 4111-1111 is fine.")
    client = fake_openai.gemini_client()  # kept: a client closes its connections when dropped
    with app.app_context():
        client.models.generate_content(model=MODEL, contents="Is card 4111-1111 valid?")
        [llm] = spans(app)
    assert "4111" not in str(llm.input) + str(llm.output)
    assert "[card]" in llm.input and "[card]" in llm.output


def test_the_caller_gets_what_the_sdk_returns_unpatched(app: Flask, client: Any) -> None:
    def call_everything() -> list[Any]:
        config = {"response_mime_type": "application/json"}
        return [
            client.models.generate_content(model=MODEL, contents="Hi", config=config),
            *client.models.generate_content_stream(model=MODEL, contents="Hi"),
            client.models.embed_content(model="gemini-embedding-001", contents="Hi"),
        ]

    def comparable(results: list[Any]) -> list[Any]:
        return [
            (type(r), r.model_dump(exclude={"response_id", "sdk_http_response"})) for r in results
        ]

    patched = call_everything()
    assert spans(app)
    uninstrument()
    assert not is_instrumented("google")
    unpatched = call_everything()
    assert comparable(patched) == comparable(unpatched)
    unpatched_stream = client.models.generate_content_stream(model=MODEL, contents="Hi")
    instrument()
    patched_stream = client.models.generate_content_stream(model=MODEL, contents="Hi")
    assert type(unpatched_stream) is type(patched_stream)


def test_uninstrument_restores_the_sdk(app: Flask, client: Any) -> None:
    uninstrument()
    client.models.generate_content(model=MODEL, contents="Hi")
    assert spans(app) == []
    instrument(["google"])
    instrument(["google"])  # idempotent
    client.models.generate_content(model=MODEL, contents="Hi")
    assert len(spans(app)) == 1


@pytest.mark.recorder_errors("LlmCall.start and LlmCall.end are replaced by functions that raise")
def test_recorder_failures_never_reach_the_host(
    app: Flask, fake_openai: FakeOpenAI, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("recorder bug")

    monkeypatch.setattr(calls.LlmCall, "end", broken)
    assert client.models.generate_content(model=MODEL, contents="Hi").text
    stream = client.models.generate_content_stream(model=MODEL, contents="Hi there")
    assert "".join(chunk.text for chunk in stream) == "Fake reply to: Hi there"
    fake_openai.fail_next(429)
    with pytest.raises(errors.ClientError):
        client.models.generate_content(model=MODEL, contents="Hi")
    monkeypatch.setattr(calls.LlmCall, "start", broken)
    assert client.models.embed_content(model="gemini-embedding-001", contents="x").embeddings
