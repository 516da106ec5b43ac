"""Spans of opentelemetry-instrumentation-openai-v2 (the GenAI conventions) recorded as ours.

openai-v2 wraps the same SDK methods as ours: its fixture is torn down
before ours patches the SDK again, so its ``uninstrument()`` finds its own
wrapper outermost and takes it off (see ``sdk_left_as_found``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask import Flask
from opentelemetry.sdk.trace import TracerProvider

from flask_llm_logs.instrumentation import instrument
from flask_llm_logs.instrumentation import uninstrument
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.otel import instrumented
from tests.helpers.tracing import MESSAGES
from tests.helpers.tracing import flush
from tests.helpers.tracing import spans
from tests.helpers.tracing import traces


@pytest.fixture
def openai_v2(
    provider: TracerProvider,
    monkeypatch: pytest.MonkeyPatch,
    reinstrumented: None,
    sdk_left_as_found: None,
) -> Iterator[None]:
    """openai-v2 on the SDK, taken off before ``reinstrumented`` patches ours again."""
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    instrumentor = instrumented(OpenAIInstrumentor(), provider)  # type: ignore[no-untyped-call]
    yield
    instrumentor.uninstrument()


@pytest.mark.usefixtures("only_theirs", "openai_v2")
def test_openai_v2_chat_span(app: Flask, fake_openai: FakeOpenAI) -> None:
    fake_openai.client().chat.completions.create(
        model="gpt-4.1-mini", messages=MESSAGES, temperature=0.2
    )
    [row] = traces(app)
    [llm] = spans(app)
    assert (row.name, llm.name, llm.kind, llm.operation) == (
        "chat gpt-4.1-mini",
        "chat gpt-4.1-mini",
        "llm",
        "chat",
    )
    assert (llm.model, llm.provider) == ("gpt-4.1-mini", "openai")
    assert (llm.input_tokens, llm.output_tokens) == (row.input_tokens, row.output_tokens)
    assert llm.input_tokens > 0 and llm.cost is not None  # priced by us
    assert llm.metadata["gen_ai.request.temperature"] == 0.2
    assert llm.input[0]["parts"][0]["content"] == MESSAGES[0]["content"]
    assert row.apm_trace_id is not None


@pytest.mark.usefixtures("only_theirs", "openai_v2")
def test_openai_v2_error(app: Flask, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next(429)
    with pytest.raises(Exception):  # noqa: B017 - the SDK's RateLimitError
        fake_openai.client(max_retries=0).chat.completions.create(
            model="gpt-4.1-mini", messages=MESSAGES
        )
    [row] = traces(app)
    [llm] = spans(app)
    assert row.status == llm.status == "error"
    assert "429" in llm.error and "RateLimitError" in llm.metadata["error.type"]


@pytest.mark.usefixtures("openai_v2")
def test_a_call_recorded_by_both_is_stored_once(app: Flask, fake_openai: FakeOpenAI) -> None:
    """openai-v2 patched after us wraps our wrapper: our call joins its span's trace."""
    fake_openai.client().chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    [row] = traces(app)
    stored = spans(app)
    llm_spans = [s for s in stored if s.kind == "llm"]
    assert len(llm_spans) == 1
    assert row.input_tokens == llm_spans[0].input_tokens
    [theirs] = [s for s in stored if s.kind == "custom"]
    assert llm_spans[0].parent_id == theirs.id


@pytest.mark.usefixtures("only_theirs", "openai_v2")
def test_a_stream_openai_v2_wrapped_before_us_is_recorded(
    app: Flask, fake_openai: FakeOpenAI
) -> None:
    """openai-v2 patched first hands us its wrapper: we watch the SDK's stream inside it."""
    instrument(["openai"])
    try:
        stream = fake_openai.client().chat.completions.create(
            model="gpt-4.1-mini", messages=MESSAGES, stream=True
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    finally:
        uninstrument()
    flush()
    assert text
    assert [s for s in spans(app) if s.kind == "llm" and text in json.dumps(s.output)]
