"""Spans of other instrumentations, from the real packages, recorded as our traces.

Each test gives the instrumentation a ``TracerProvider`` of its own with our
processor, so nothing is left instrumented globally but the patched SDK
classes, which each test undoes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from opentelemetry.sdk.trace import TracerProvider
from pydantic import SecretStr

from flask_llm_logs.otel import LlmLogsSpanProcessor
from flask_llm_logs.otel import ingest
from flask_llm_logs.testing import FakeOpenAI
from flask_llm_logs.tracing import apm
from tests.helpers.otel import instrumented
from tests.helpers.tracing import MESSAGES
from tests.helpers.tracing import spans
from tests.helpers.tracing import traces

pytestmark = pytest.mark.usefixtures("reinstrumented")


@pytest.fixture
def openinference(provider: TracerProvider) -> Iterator[None]:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    instrumentor = instrumented(OpenAIInstrumentor(), provider)
    yield
    instrumentor.uninstrument()


@pytest.mark.usefixtures("only_theirs", "openinference")
def test_openinference_openai_span(app: Flask, fake_openai: FakeOpenAI) -> None:
    fake_openai.client().chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    [llm] = spans(app)
    assert (llm.kind, llm.operation, llm.model, llm.provider) == (
        "llm",
        "chat",
        "gpt-4.1-mini",
        "openai",
    )
    assert llm.input_tokens > 0 and llm.output_tokens > 0
    assert llm.input["messages"] == MESSAGES
    assert llm.metadata["otel.kind"] == "llm"


def test_content_is_left_out_when_capture_is_off(
    app: Flask, fake_openai: FakeOpenAI, only_theirs: None, openinference: None
) -> None:
    app.config["LLM_LOGS_CAPTURE_CONTENT"] = False
    fake_openai.client().chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    [llm] = spans(app)
    assert llm.input is None and llm.output is None


def test_non_llm_spans_are_ignored_unless_between_llm_spans(
    app: Flask, provider: TracerProvider
) -> None:
    tracer = provider.get_tracer("openinference.instrumentation.test")
    llm: dict[str, str | int] = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4.1-mini",
        "llm.provider": "openai",
        "llm.token_count.prompt": 10,
        "llm.token_count.completion": 5,
    }
    # An HTTP server's span (not kept), an agent, a step between two LLM spans
    # (kept, a custom step) and a leaf under the agent with nothing below (not kept).
    with (
        tracer.start_as_current_span("GET /ask"),
        tracer.start_as_current_span("agent", attributes={"openinference.span.kind": "AGENT"}),
    ):
        with (
            tracer.start_as_current_span("helper"),
            tracer.start_as_current_span("llm", attributes=llm),
        ):
            pass
        with tracer.start_as_current_span("leaf"):
            pass
    with tracer.start_as_current_span("unrelated"):
        pass
    [row] = traces(app)
    by_name = {s.name: s for s in spans(app)}
    assert set(by_name) == {"agent", "helper", "llm"}
    assert row.name == "agent" and row.input_tokens == 10
    assert by_name["agent"].parent_id is None
    assert by_name["helper"].parent_id == by_name["agent"].id
    assert by_name["llm"].parent_id == by_name["helper"].id
    assert row.apm_span_id is not None  # the HTTP span it ran in


def test_spans_are_read_on_the_writers_thread(
    app: Flask, provider: TracerProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread that ends a span is the host's (its LLM call's): it only notes the span."""
    readers: list[str] = []
    record = ingest._record

    def noting_the_thread(*args: Any) -> Any:
        readers.append(threading.current_thread().name)
        return record(*args)

    monkeypatch.setattr(ingest, "_record", noting_the_thread)
    tracer = provider.get_tracer("openinference.instrumentation.test")
    with tracer.start_as_current_span("agent", attributes={"openinference.span.kind": "AGENT"}):
        tracer.start_span("llm", attributes={"openinference.span.kind": "LLM"}).end()
    assert {s.name for s in spans(app)} == {"agent", "llm"}
    assert len(readers) == 2
    assert all(name.startswith("flask-llm-logs-writer") for name in readers)


@pytest.mark.recorder_errors("spans that are not spans are given to the processor")
def test_a_broken_span_never_raises_into_the_pipeline(app: Flask) -> None:
    processor = LlmLogsSpanProcessor(app)
    not_a_span: Any = object()
    processor.on_start(not_a_span)
    processor.on_end(not_a_span)
    apm.ingest = None


@pytest.mark.usefixtures("only_theirs")
def test_langchain_chain_with_a_tool(
    app: Flask, fake_openai: FakeOpenAI, provider: TracerProvider
) -> None:
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import chain
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from openinference.instrumentation.langchain import LangChainInstrumentor

    @tool
    def lookup_price(symbol: str) -> str:
        """Look up a stock price."""
        return "42"

    model = ChatOpenAI(
        model="gpt-4.1-mini", base_url=fake_openai.base_url, api_key=SecretStr("k"), max_retries=0
    )
    ask = ChatPromptTemplate.from_messages([("user", "{question}")]) | model.bind_tools(
        [lookup_price]
    )

    @chain
    def agent(question: str) -> list[str]:
        message: Any = ask.invoke({"question": question})
        return [str(lookup_price.invoke(call).content) for call in message.tool_calls]

    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        assert agent.invoke("What is the price of AAPL?") == ["42"]
    finally:
        instrumentor.uninstrument()
    [row] = traces(app)
    by_name = {s.name: s for s in spans(app)}
    assert row.name == "agent"
    assert by_name["ChatOpenAI"].kind == "llm"
    assert by_name["ChatOpenAI"].model == "gpt-4.1-mini"
    assert by_name["ChatOpenAI"].input_tokens == row.input_tokens > 0
    assert by_name["lookup_price"].kind == "tool"
    assert by_name["lookup_price"].parent_id == by_name["agent"].id
    assert by_name["RunnableSequence"].parent_id == by_name["agent"].id
    assert by_name["ChatOpenAI"].parent_id == by_name["RunnableSequence"].id
    assert by_name["agent"].parent_id is None
    # The UI shows the chain's tree: each span indented under its parent.
    html = app.test_client().get(f"/llm_logs/traces/{row.id}").get_data(as_text=True)
    names = ("agent", "RunnableSequence", "ChatOpenAI")
    order = [html.index(f'class="span-name">{name}<') for name in names]
    assert order == sorted(order)
    assert '<li class="d2">' in html


def test_processor_has_our_name() -> None:
    assert os.path.basename(__file__) == "test_ingest.py"
    assert LlmLogsSpanProcessor.__module__ == "flask_llm_logs.otel.ingest"


def test_openllmetry_attributes(app: Flask, provider: TracerProvider) -> None:
    """OpenLLMetry's names: traceloop.span.kind, llm.request.type, gen_ai.prompt.N.*."""
    tracer = provider.get_tracer("opentelemetry.instrumentation.langchain")
    with tracer.start_as_current_span(
        "workflow.task", attributes={"traceloop.span.kind": "workflow"}
    ):
        tracer.start_span(
            "openai.chat",
            attributes={
                "llm.request.type": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4.1-mini",
                "gen_ai.usage.prompt_tokens": 7,
                "gen_ai.usage.completion_tokens": 3,
                "gen_ai.prompt.0.role": "user",
                "gen_ai.prompt.0.content": "hi",
            },
        ).end()
    [row] = traces(app)
    by_name = {s.name: s for s in spans(app)}
    llm = by_name["openai.chat"]
    assert (llm.kind, llm.operation, llm.model, llm.provider) == (
        "llm",
        "chat",
        "gpt-4.1-mini",
        "openai",
    )
    assert (llm.input_tokens, llm.output_tokens) == (7, 3)
    assert llm.input == {"0.role": "user", "0.content": "hi"}
    assert by_name["workflow.task"].metadata["otel.kind"] == "workflow"
    assert llm.parent_id == by_name["workflow.task"].id and row.name == "workflow.task"


def test_our_export_through_the_same_provider_is_not_taken_back_in(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    """An app giving us the provider that also feeds the processor: no loop, no double."""
    provider = TracerProvider()
    app = make_app(LLM_LOGS_OTEL_TRACER_PROVIDER=provider)
    provider.add_span_processor(LlmLogsSpanProcessor(app))
    try:
        with app.app_context():
            fake_openai.client().embeddings.create(model="text-embedding-3-small", input="x")
            assert len(spans(app)) == 1 and len(traces(app)) == 1
    finally:
        apm.ingest = None
