"""The fake Gemini API: through the real ``google-genai`` SDK, and on the wire."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

pytest.importorskip("google.genai")

from google.genai import errors
from google.genai import types

from flask_llm_logs.testing import FakeOpenAI
from flask_llm_logs.testing import count_tokens
from tests.helpers.google import text_of
from tests.helpers.google import usage_of

MODEL = "gemini-2.0-flash"


def post(fake: FakeOpenAI, path: str, body: Any) -> tuple[int, str, bytes]:
    """A raw POST, to see the bytes the SDK parses."""
    request = urllib.request.Request(
        fake.url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_generate_content_as_the_gemini_api_answers(fake_openai: FakeOpenAI) -> None:
    body: dict[str, Any] = {
        "contents": [{"role": "user", "parts": [{"text": "What is the weather like in Boston?"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
    }
    status, content_type, raw = post(fake_openai, f"/v1beta/models/{MODEL}:generateContent", body)
    assert (status, content_type) == (200, "application/json; charset=UTF-8")
    reply = json.loads(raw)
    assert reply.keys() == {"candidates", "usageMetadata", "modelVersion", "responseId"}
    [candidate] = reply["candidates"]
    text = "Fake reply to: What is the weather like in Boston?"
    assert candidate == {
        "content": {"parts": [{"text": text}], "role": "model"},
        "finishReason": "STOP",
    }
    prompt = count_tokens("Be brief.") + count_tokens(body["contents"][0]["parts"][0]["text"])
    assert reply["usageMetadata"] == {
        "promptTokenCount": prompt,
        "candidatesTokenCount": count_tokens(text),
        "totalTokenCount": prompt + count_tokens(text),
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": count_tokens(text)}],
        "cachedContentTokenCount": count_tokens("Be brief."),
    }
    assert reply["modelVersion"] == MODEL


def test_stream_is_server_sent_events_with_usage_at_the_end(fake_openai: FakeOpenAI) -> None:
    body = {"contents": [{"parts": [{"text": "Tell me a long story about the sea"}]}]}
    path = f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
    status, content_type, raw = post(fake_openai, path, body)
    assert (status, content_type) == (200, "text/event-stream")
    events = raw.decode().split("\r\n\r\n")
    assert events[-1] == ""
    chunks = [json.loads(event.removeprefix("data: ")) for event in events[:-1]]
    assert len(chunks) > 2
    assert "finishReason" not in json.dumps(chunks[:-1])
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "candidatesTokenCount" in chunks[-1]["usageMetadata"]
    assert all(c["responseId"] == chunks[0]["responseId"] for c in chunks)
    text = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
    assert text == "Fake reply to: Tell me a long story about the sea"
    # without alt=sse: one JSON array of the same chunks
    status, _, raw = post(fake_openai, path.removesuffix("?alt=sse"), body)
    assert [c["candidates"] for c in json.loads(raw)] == [c["candidates"] for c in chunks]


def test_embed_content_and_batch_embed_contents(fake_openai: FakeOpenAI) -> None:
    content = {"parts": [{"text": "hello world"}]}
    _, _, raw = post(
        fake_openai,
        "/v1beta/models/gemini-embedding-001:embedContent",
        {"content": content, "outputDimensionality": 4},
    )
    single = json.loads(raw)
    assert len(single["embedding"]["values"]) == 4
    _, _, raw = post(
        fake_openai,
        "/v1beta/models/gemini-embedding-001:batchEmbedContents",
        {"requests": [{"model": "models/gemini-embedding-001", "content": content}] * 2},
    )
    batch = json.loads(raw)
    assert [len(e["values"]) for e in batch["embeddings"]] == [3072, 3072]
    assert batch["usageMetadata"]["promptTokenCount"] == 2 * count_tokens("hello world")


@pytest.mark.parametrize(
    ("status", "name", "error_class"),
    [
        (400, "INVALID_ARGUMENT", errors.ClientError),
        (429, "RESOURCE_EXHAUSTED", errors.ClientError),
        (503, "UNAVAILABLE", errors.ServerError),
    ],
)
def test_scripted_errors_have_googles_shape(
    fake_openai: FakeOpenAI, status: int, name: str, error_class: type[errors.APIError]
) -> None:
    client = fake_openai.gemini_client()
    fake_openai.fail_next(status, message="scripted")
    with pytest.raises(error_class) as raised:
        client.models.generate_content(model=MODEL, contents="Hi")
    assert (raised.value.code, raised.value.status, raised.value.message) == (
        status,
        name,
        "scripted",
    )
    assert client.models.generate_content(model=MODEL, contents="Hi").text  # used once


def test_malformed_requests_are_refused_as_google_does(fake_openai: FakeOpenAI) -> None:
    status, _, raw = post(fake_openai, f"/v1beta/models/{MODEL}:generateContent", {})
    assert status == 400
    assert json.loads(raw)["error"]["status"] == "INVALID_ARGUMENT"
    status, _, raw = post(fake_openai, f"/v1beta/models/{MODEL}:countEverything", {})
    assert status == 404


def test_the_api_key_is_checked_from_googles_header() -> None:
    with FakeOpenAI(api_key="right") as fake:
        right, wrong = fake.gemini_client(), fake.gemini_client(api_key="wrong")
        assert right.models.generate_content(model=MODEL, contents="Hi").text
        with pytest.raises(errors.ClientError) as raised:
            wrong.models.generate_content(model=MODEL, contents="Hi")
        assert raised.value.code == 401


def test_sdk_features_against_the_fake(fake_openai: FakeOpenAI) -> None:
    client = fake_openai.gemini_client()
    fake_openai.reply_with("scripted reply")
    assert client.models.generate_content(model=MODEL, contents="Hi").text == "scripted reply"

    json_reply = client.models.generate_content(
        model=MODEL,
        contents="Rate it",
        config={
            "response_mime_type": "application/json",
            "response_json_schema": {
                "type": "object",
                "properties": {"score": {"type": "integer"}},
                "required": ["score"],
            },
        },
    )
    assert json.loads(text_of(json_reply)) == {"score": 1}

    cut = client.models.generate_content(
        model=MODEL, contents="Hi " * 40, config={"max_output_tokens": 2}
    )
    assert cut.candidates
    assert cut.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS

    none = client.models.generate_content(
        model="gemini-2.5-flash", contents="Hi", config={"thinking_config": {"thinking_budget": 0}}
    )
    assert usage_of(none).thoughts_token_count is None

    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"rainy in {city}"

    answered = client.models.generate_content(
        model=MODEL, contents="Weather?", config={"tools": [get_weather]}
    )
    assert answered.automatic_function_calling_history
    [call, result] = answered.automatic_function_calling_history[1:]
    assert call.parts and result.parts
    function_call = call.parts[0].function_call
    function_response = result.parts[0].function_response
    assert function_call and function_response
    assert function_call.args == {"city": "sample city"}
    assert function_response.response == {"result": "rainy in sample city"}
    assert text_of(answered).startswith("Fake reply using the tool result: ")


def test_async_client_and_vertex_ai(fake_openai: FakeOpenAI) -> None:
    async def main() -> str:
        client = fake_openai.gemini_client()
        stream = await client.aio.models.generate_content_stream(model=MODEL, contents="Hi")
        return "".join([text_of(chunk) async for chunk in stream])

    assert asyncio.run(main()) == "Fake reply to: Hi"
    vertex = fake_openai.gemini_client(vertexai=True)
    assert vertex.models.generate_content(model=MODEL, contents="Hi").text == "Fake reply to: Hi"
    embedded = vertex.models.embed_content(model="text-embedding-004", contents="a b c d e f g h")
    assert embedded.embeddings
    statistics = embedded.embeddings[0].statistics
    assert statistics and statistics.token_count == 3
    assert [r.path for r in fake_openai.requests] == [
        f"/v1/models/{MODEL}:streamGenerateContent",
        f"/v1beta1/publishers/google/models/{MODEL}:generateContent",
        "/v1beta1/publishers/google/models/text-embedding-004:predict",
    ]
