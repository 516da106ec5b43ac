"""Every stored trace and span exported over OTLP/HTTP with the GenAI conventions' names.

The SDKs call the fake servers; the spans go through the real writer and the
real OTLP exporter to a fake collector that decodes the protobuf.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import flask_llm_logs
from flask_llm_logs import trace
from flask_llm_logs.config import ConfigurationError
from flask_llm_logs.models import Span
from flask_llm_logs.state import get_state
from flask_llm_logs.testing import FakeOpenAI
from flask_llm_logs.testing.otlp import FakeCollector
from flask_llm_logs.tracing import apm
from tests.helpers.otel import by_name
from tests.helpers.otel import exported
from tests.helpers.tracing import MESSAGES
from tests.helpers.tracing import one_trace
from tests.helpers.tracing import spans
from tests.helpers.tracing import traces
from tests.helpers.writer import stored

pytestmark = pytest.mark.usefixtures("reinstrumented")

TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "lookup_price",
            "parameters": {"type": "object", "properties": {"symbol": {"type": "string"}}},
        },
    }
]


def test_chat_call_is_a_client_span_named_by_the_conventions(
    export_app: Flask, fake_openai: FakeOpenAI, collector: FakeCollector
) -> None:
    fake_openai.client().chat.completions.create(
        model="gpt-4.1-mini", messages=MESSAGES, temperature=0.2, max_tokens=200
    )
    [span] = exported(collector)
    row, [llm] = one_trace(export_app)
    assert (span.name, span.kind, span.scope) == ("chat gpt-4.1-mini", "CLIENT", "flask_llm_logs")
    # An LLM call outside any trace is its own trace: a root span, our trace id.
    assert (span.trace_id, span.parent_id) == (row.id.hex, "")
    attributes = span.attributes
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == llm.provider
    assert attributes["gen_ai.request.model"] == "gpt-4.1-mini"
    assert attributes["gen_ai.response.model"] == llm.model
    assert attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["gen_ai.request.max_tokens"] == 200
    assert attributes["gen_ai.usage.input_tokens"] == llm.input_tokens
    assert attributes["gen_ai.usage.output_tokens"] == llm.output_tokens
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == llm.cached_tokens
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert attributes["gen_ai.response.id"] == llm.metadata["gen_ai.response.id"]
    assert json.loads(attributes["gen_ai.input.messages"]) == MESSAGES
    [message] = json.loads(attributes["gen_ai.output.messages"])
    assert message == llm.output
    assert attributes.get("llm_logs.cost") == llm.cost
    assert attributes["llm_logs.trace.id"] == str(row.id)
    assert attributes["llm_logs.span.id"] == str(llm.id)
    assert span.status == "UNSET"
    assert span.end_ns - span.start_ns >= llm.duration_ms * 1e6 * 0.99


def test_trace_tools_and_attributes_keep_their_tree(
    export_app: Flask, fake_openai: FakeOpenAI, collector: FakeCollector
) -> None:
    with trace("pipeline", metadata={"ticket": 42}, user_id="u-1", session_id="s-1", tags=["beta"]):
        fake_openai.client().chat.completions.create(
            model="gpt-4.1-mini", messages=MESSAGES, tools=TOOLS
        )
    named = by_name(exported(collector))
    row, _ = one_trace(export_app)
    root, llm = named["pipeline"], named["chat gpt-4.1-mini"]
    tool = named["execute_tool lookup_price"]
    assert {s.trace_id for s in named.values()} == {row.id.hex}
    assert root.parent_id == "" and llm.parent_id == root.span_id
    assert tool.parent_id == llm.span_id
    assert (root.kind, llm.kind, tool.kind) == ("INTERNAL", "CLIENT", "INTERNAL")
    assert root.attributes["user.id"] == "u-1"
    assert root.attributes["session.id"] == "s-1"
    assert root.attributes["llm_logs.tags"] == ["beta"]
    assert root.attributes["llm_logs.metadata.ticket"] == 42
    assert llm.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert json.loads(llm.attributes["gen_ai.tool.definitions"]) == TOOLS
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "lookup_price"
    assert tool.attributes["gen_ai.tool.call.id"].startswith("call_")
    assert "gen_ai.tool.call.arguments" in tool.attributes
    assert root.start_ns <= llm.start_ns <= llm.end_ns <= root.end_ns


def test_responses_embeddings_and_streams(
    export_app: Flask, fake_openai: FakeOpenAI, collector: FakeCollector
) -> None:
    client = fake_openai.client()
    client.responses.create(model="gpt-4.1-mini", input="hi", instructions="Be terse.")
    client.embeddings.create(model="text-embedding-3-small", input="hello")
    stream = client.chat.completions.create(
        model="gpt-4.1-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    received = exported(collector)
    [responses] = [s for s in received if "gen_ai.system_instructions" in s.attributes]
    [embeddings] = [s for s in received if s.attributes["gen_ai.operation.name"] == "embeddings"]
    assert responses.attributes["gen_ai.operation.name"] == "chat"
    assert responses.attributes["gen_ai.system_instructions"] == '"Be terse."'
    assert responses.attributes["gen_ai.input.messages"] == '"hi"'
    assert embeddings.name == "embeddings text-embedding-3-small"
    assert embeddings.attributes["gen_ai.usage.input_tokens"] > 0
    [streamed] = [s for s in received if "gen_ai.response.time_to_first_chunk" in s.attributes]
    assert streamed.attributes["gen_ai.response.time_to_first_chunk"] >= 0
    assert streamed.attributes["gen_ai.usage.output_tokens"] > 0


def test_api_error_is_an_error_span(
    export_app: Flask, fake_openai: FakeOpenAI, collector: FakeCollector
) -> None:
    fake_openai.fail_next(429, message="slow down")
    with pytest.raises(Exception, match="slow down"):
        fake_openai.client(max_retries=0).chat.completions.create(
            model="gpt-4.1-mini", messages=MESSAGES
        )
    [span] = exported(collector)
    assert span.status == "ERROR" and "slow down" in span.status_message
    assert span.attributes["error.type"] == "RateLimitError"
    assert span.attributes["http.response.status_code"] == 429
    assert "gen_ai.output.messages" not in span.attributes


def test_anthropic_and_google_calls(
    export_app: Flask, fake_openai: FakeOpenAI, collector: FakeCollector
) -> None:
    fake_openai.anthropic_client().messages.create(
        model="claude-sonnet-4-5",
        max_tokens=100,
        messages=[{"role": "user", "content": "What is the price of AAPL?"}],
    )
    gemini = fake_openai.gemini_client()  # kept: a collected client closes its connection
    gemini.models.generate_content(
        model="gemini-2.5-flash", contents="What is the weather in Paris?"
    )
    received = exported(collector)
    stored = {s.provider: s for s in spans(export_app)}
    assert {s.attributes["gen_ai.provider.name"] for s in received} == set(stored)
    for span in received:
        row = stored[span.attributes["gen_ai.provider.name"]]
        assert span.kind == "CLIENT"
        assert span.name == row.name
        assert span.attributes["gen_ai.operation.name"] == row.metadata["gen_ai.operation.name"]
        assert span.attributes["gen_ai.response.model"] == row.model
        assert span.attributes["gen_ai.usage.input_tokens"] == row.input_tokens
        assert span.attributes["gen_ai.usage.output_tokens"] == row.output_tokens
        assert "gen_ai.input.messages" in span.attributes


def test_content_is_exported_only_when_captured_and_after_redaction(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI, collector: FakeCollector
) -> None:
    def redact(value: Any) -> Any:
        return json.loads(json.dumps(value).replace("AAPL", "[ticker]"))

    app = make_app(LLM_LOGS_OTLP_ENDPOINT=collector.endpoint, LLM_LOGS_REDACT=redact)
    with app.app_context():
        client = fake_openai.client()
        client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
        app.config["LLM_LOGS_CAPTURE_CONTENT"] = False
        client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
        first, second = sorted(exported(collector), key=lambda s: s.start_ns)
    assert "[ticker]" in first.attributes["gen_ai.input.messages"]
    assert "AAPL" not in json.dumps(first.attributes)
    assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(second.attributes)


def test_headers_go_to_the_collector(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI, collector: FakeCollector
) -> None:
    app = make_app(
        LLM_LOGS_OTLP_ENDPOINT=collector.endpoint + "/",
        LLM_LOGS_OTLP_HEADERS="x-team=llm,x-token=abc%3D",
    )
    with app.app_context():
        fake_openai.client().embeddings.create(model="text-embedding-3-small", input="x")
        assert exported(collector)
    assert collector.headers[0]["x-team"] == "llm"
    assert collector.headers[0]["x-token"] == "abc="


def test_inside_a_host_span_the_trace_joins_the_host_trace(
    export_app: Flask, fake_openai: FakeOpenAI, collector: FakeCollector
) -> None:
    host = TracerProvider()  # the app's own OpenTelemetry, never ours
    tracer = host.get_tracer("host")
    client = fake_openai.client()
    with tracer.start_as_current_span("GET /ask") as request_span:
        client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
        with trace("pipeline"):
            client.embeddings.create(model="text-embedding-3-small", input="x")
    context = request_span.get_span_context()
    host_trace, host_span = format(context.trace_id, "032x"), format(context.span_id, "016x")
    named = by_name(exported(collector))
    assert {s.trace_id for s in named.values()} == {host_trace}
    assert named["chat gpt-4.1-mini"].parent_id == host_span
    assert named["pipeline"].parent_id == host_span
    assert named["embeddings text-embedding-3-small"].parent_id == named["pipeline"].span_id
    rows = traces(export_app)
    assert {(r.apm_trace_id, r.apm_span_id) for r in rows} == {(host_trace, host_span)}


def test_without_a_host_span_no_apm_trace(
    export_app: Flask, fake_openai: FakeOpenAI, collector: FakeCollector
) -> None:
    fake_openai.client().embeddings.create(model="text-embedding-3-small", input="x")
    [span] = exported(collector)
    [row] = traces(export_app)
    assert (row.apm_trace_id, row.apm_span_id, span.parent_id) == (None, None, "")


def test_a_dead_collector_delays_nothing_and_gets_the_spans_when_back(
    export_app: Flask, fake_openai: FakeOpenAI, collector: FakeCollector
) -> None:
    collector.stop()
    client = fake_openai.client()
    started = time.monotonic()
    client.embeddings.create(model="text-embedding-3-small", input="x")
    # The database write does not wait for the collector.
    assert get_state().writer.flush(timeout=5)
    assert time.monotonic() - started < 2
    assert len(stored(export_app, Span)) == 1
    collector.start()
    assert [s.name for s in exported(collector)] == ["embeddings text-embedding-3-small"]
    counts = flask_llm_logs.stats()
    assert (counts["exported"], counts["export_dropped"]) == (1, 0)


def test_a_full_export_queue_drops_and_counts(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI, collector: FakeCollector
) -> None:
    collector.stop()
    app = make_app(LLM_LOGS_OTLP_ENDPOINT=collector.endpoint, LLM_LOGS_MAX_QUEUE=2)
    with app.app_context():
        client = fake_openai.client()
        for _ in range(4):
            client.embeddings.create(model="text-embedding-3-small", input="x")
            assert get_state().writer.flush(timeout=5)
        assert len(stored(app, Span)) == 4  # every one stored
        counts = flask_llm_logs.stats()
    assert counts["export_dropped"] >= 1
    collector.start()  # what waits is sent at once when the app shuts down


def test_store_traces_off_exports_without_writing(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI, collector: FakeCollector
) -> None:
    app = make_app(LLM_LOGS_OTLP_ENDPOINT=collector.endpoint, LLM_LOGS_STORE_TRACES=False)
    with app.app_context():
        with trace("pipeline"):
            fake_openai.client().embeddings.create(model="text-embedding-3-small", input="x")
        assert {s.name for s in exported(collector)} == {
            "pipeline",
            "embeddings text-embedding-3-small",
        }
        assert traces(app) == [] and spans(app) == []
        assert flask_llm_logs.stats()["written_spans"] == 0


def test_the_apps_own_tracer_provider(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    app = make_app(LLM_LOGS_OTEL_TRACER_PROVIDER=provider)
    with app.app_context():
        with trace("pipeline"):
            fake_openai.client().embeddings.create(model="text-embedding-3-small", input="x")
        assert flask_llm_logs.flush(timeout=10)
        counts = flask_llm_logs.stats()
    finished = {span.name: span for span in memory.get_finished_spans()}
    assert set(finished) == {"pipeline", "embeddings text-embedding-3-small"}
    child = finished["embeddings text-embedding-3-small"]
    assert child.parent is not None
    assert child.parent.span_id == finished["pipeline"].context.span_id
    assert counts["exported"] == 2


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"LLM_LOGS_OTLP_ENDPOINT": "collector:4318"}, "LLM_LOGS_OTLP_ENDPOINT"),
        ({"LLM_LOGS_OTLP_HEADERS": "novalue"}, "LLM_LOGS_OTLP_HEADERS"),
        ({"LLM_LOGS_OTEL_TRACER_PROVIDER": object()}, "LLM_LOGS_OTEL_TRACER_PROVIDER"),
        (
            {
                "LLM_LOGS_OTEL_TRACER_PROVIDER": TracerProvider(),
                "LLM_LOGS_OTLP_ENDPOINT": "http://c:4318",
            },
            "LLM_LOGS_OTEL_TRACER_PROVIDER",
        ),
        ({"LLM_LOGS_STORE_TRACES": False}, "LLM_LOGS_STORE_TRACES"),
        ({"LLM_LOGS_APM_TRACE_URL": "https://tempo/trace/"}, "LLM_LOGS_APM_TRACE_URL"),
    ],
)
def test_bad_settings_name_their_key(
    make_app: Callable[..., Flask], config: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make_app(**config)
    assert raised.value.key == key


def test_litellm_call(export_app: Flask, fake_openai: FakeOpenAI, collector: FakeCollector) -> None:
    import litellm

    litellm.completion(
        model="openai/gpt-4o-mini",
        messages=MESSAGES,
        api_base=fake_openai.base_url,
        api_key="test",
        max_retries=0,
    )
    [span] = exported(collector)
    [row] = spans(export_app)
    assert (span.name, span.kind) == (row.name, "CLIENT")
    assert span.attributes["gen_ai.provider.name"] == row.provider
    assert span.attributes["gen_ai.usage.input_tokens"] == row.input_tokens


def _host_span_ids() -> tuple[tuple[str | None, str | None], tuple[str, str]]:
    """What ``apm.current_span`` reads inside a host span, and that span's ids."""
    with TracerProvider().get_tracer("host").start_as_current_span("GET /ask") as host:
        read = apm.current_span()
    context = host.get_span_context()
    return read, (format(context.trace_id, "032x"), format(context.span_id, "016x"))


def test_the_host_span_is_found_in_a_context_holding_other_values() -> None:
    """An empty context is told in one call; one holding baggage is asked in full."""
    token = otel_context.attach(baggage.set_baggage("team", "llm"))
    try:
        assert apm.current_span() == (None, None)
        read, expected = _host_span_ids()
    finally:
        otel_context.detach(token)
    assert read == expected


def test_an_opentelemetry_without_its_context_variable_is_asked_through_its_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class OtherRuntime:
        """A runtime context of another kind (no ``_current_context`` variable)."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def get_current(self) -> Any:
            return self.inner.get_current()

        def attach(self, context: Any) -> Any:
            return self.inner.attach(context)

        def detach(self, token: Any) -> None:
            self.inner.detach(token)

    runtime = OtherRuntime(otel_context._RUNTIME_CONTEXT)
    monkeypatch.setattr(otel_context, "_RUNTIME_CONTEXT", runtime)
    monkeypatch.setattr(apm, "_read_context", None)
    assert apm.current_span() == (None, None)
    assert apm._read_context is otel_context.get_current
    read, expected = _host_span_ids()
    assert read == expected
