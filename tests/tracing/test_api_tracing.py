"""trace, span and tool: records through the real writer into SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from flask import Flask

from flask_llm_logs import span
from flask_llm_logs import tool
from flask_llm_logs import trace
from flask_llm_logs.tracing import api
from flask_llm_logs.tracing.context import link_prompt_version
from tests.helpers.tracing import MESSAGES
from tests.helpers.tracing import one_trace
from tests.helpers.tracing import spans
from tests.helpers.tracing import traces


class Boom(Exception):
    pass


def test_trace_runs_then_completes(app: Flask) -> None:
    with trace("strategy_analysis", metadata={"strategy_id": 42}) as step:
        [running] = traces(app)
        assert running.status == "running"
        assert running.completed_at is None
    row, children = one_trace(app)
    assert row.id == step.id
    assert row.name == "strategy_analysis"
    assert row.status == "completed"
    assert row.error is None
    assert row.metadata == {"strategy_id": 42}
    assert row.completed_at >= row.started_at
    assert row.duration_ms >= 0
    assert children == []


def test_nested_traces_and_spans_form_one_tree(app: Flask, openai_client: openai.OpenAI) -> None:
    with trace("full_pipeline"):
        openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
        with trace("risk_assessment", metadata={"step": 2}) as nested:
            with span("retrieve_docs", input={"q": "risks"}) as retrieve:
                retrieve.output = ["doc-1", "doc-2"]
                retrieve.metadata["hits"] = 2
            openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)

    row, children = one_trace(app)
    assert row.name == "full_pipeline"
    assert row.spans_count == 4
    by_id = {child.id: child for child in children}
    names = {child.name: child for child in children}
    assert set(names) == {"chat gpt-4.1-mini", "risk_assessment", "retrieve_docs"}
    risk = names["risk_assessment"]
    assert risk.id == nested.id
    assert (risk.kind, risk.parent_id, risk.metadata) == ("custom", None, {"step": 2})
    retrieve_row = names["retrieve_docs"]
    assert retrieve_row.parent_id == risk.id
    assert retrieve_row.input == {"q": "risks"}
    assert retrieve_row.output == ["doc-1", "doc-2"]
    assert retrieve_row.metadata == {"hits": 2}
    llm_parents = sorted(str(c.parent_id) for c in children if c.kind == "llm")
    assert llm_parents == sorted(["None", str(risk.id)])
    assert all(c.parent_id is None or c.parent_id in by_id for c in children)


def test_exception_marks_trace_and_span_as_error_and_propagates(app: Flask) -> None:
    error = Boom("the market is closed")
    with pytest.raises(Boom) as raised, trace("failing"), span("step"):
        raise error
    assert raised.value is error
    row, [child] = one_trace(app)
    assert row.status == child.status == "error"
    assert row.error == child.error == "Boom: the market is closed"
    assert row.completed_at is not None


def test_decorators_sync_and_async(app: Flask) -> None:
    @trace("nightly_report", metadata={"kind": "report"})
    def nightly_report(day: str) -> str:
        with span("collect"):
            return f"report for {day}"

    @trace("async_report")
    async def async_report() -> int:
        async with trace("inner"):
            await asyncio.sleep(0)
        return 7

    assert nightly_report("monday") == "report for monday"
    assert nightly_report.__name__ == "nightly_report"
    assert asyncio.run(async_report()) == 7

    rows = {row.name: row for row in traces(app)}
    assert set(rows) == {"nightly_report", "async_report"}
    assert rows["nightly_report"].metadata == {"kind": "report"}
    [collect] = spans(app, trace_id=rows["nightly_report"].id)
    assert collect.name == "collect"
    [inner] = spans(app, trace_id=rows["async_report"].id)
    assert (inner.name, inner.kind) == ("inner", "custom")


def test_async_with_and_error_in_async_decorator(app: Flask) -> None:
    @trace("async_fails")
    async def fails() -> None:
        raise Boom("async")

    async def main() -> None:
        async with trace("pipeline") as step:
            step.metadata["user"] = "u1"
            await asyncio.sleep(0)
        with pytest.raises(Boom):
            await fails()

    asyncio.run(main())
    rows = {row.name: row for row in traces(app)}
    assert rows["pipeline"].status == "completed"
    assert rows["pipeline"].metadata == {"user": "u1"}
    assert (rows["async_fails"].status, rows["async_fails"].error) == ("error", "Boom: async")


def test_span_outside_a_trace_gets_an_automatic_trace(app: Flask) -> None:
    with span("retrieve_docs", input={"q": "x"}) as step:
        step.output = {"docs": 3}
    row, [child] = one_trace(app)
    assert row.name == "auto:retrieve_docs"
    assert row.status == "completed"
    assert (child.name, child.id, child.parent_id) == ("retrieve_docs", step.id, None)
    assert child.output == {"docs": 3}


def test_tool_records_arguments_result_and_errors(app: Flask) -> None:
    @tool("lookup_price")
    def lookup_price(symbol: str, currency: str = "USD") -> float:
        if symbol == "NOPE":
            raise KeyError(symbol)
        return 189.5

    @tool("async_lookup")
    async def async_lookup(symbol: str) -> dict[str, Any]:
        return {"symbol": symbol, "price": 1.0}

    with trace("agent"):
        assert lookup_price("AAPL", currency="EUR") == 189.5
        with pytest.raises(KeyError):
            lookup_price("NOPE")
        assert asyncio.run(async_lookup("MSFT")) == {"symbol": "MSFT", "price": 1.0}

    _, children = one_trace(app)
    ok, failed, done_async = children
    assert (ok.name, ok.kind, ok.status) == ("lookup_price", "tool", "completed")
    assert ok.input == {"symbol": "AAPL", "currency": "EUR"}
    assert ok.output == 189.5
    assert ok.metadata["gen_ai.tool.name"] == "lookup_price"
    assert (failed.status, failed.error) == ("error", "KeyError: 'NOPE'")
    assert failed.input == {"symbol": "NOPE"}
    assert done_async.output == {"symbol": "MSFT", "price": 1.0}


def test_step_content_is_snapshotted_when_the_step_ends(app: Flask) -> None:
    query = {"q": "first"}
    with span("search", input=query) as step:
        query["q"] = "changed"  # before the end: stored as it is then
        step.output = results = ["a"]
    query["q"] = "after"  # after the end: not stored
    results.append("b")
    _, [child] = one_trace(app)
    assert child.input == {"q": "changed"}
    assert child.output == ["a"]


def test_link_prompt_version_inside_a_trace(app: Flask, openai_client: openai.OpenAI) -> None:
    with trace("memo"):
        link_prompt_version(17)
        openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
        openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    row, (first, second) = one_trace(app)
    assert row.prompt_version_id == 17
    assert first.metadata["prompt_version_id"] == 17
    assert "prompt_version_id" not in second.metadata


def test_link_prompt_version_outside_a_trace(app: Flask, openai_client: openai.OpenAI) -> None:
    link_prompt_version(5)
    openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    first, second = traces(app)
    assert first.prompt_version_id == 5
    assert second.prompt_version_id is None
    [span_row] = spans(app, trace_id=first.id)
    assert span_row.metadata["prompt_version_id"] == 5


def test_disabled_at_runtime_writes_nothing(app: Flask, openai_client: openai.OpenAI) -> None:
    app.config["LLM_LOGS_ENABLED"] = False
    with trace("off"):
        with span("step") as step:
            step.output = 1
        openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    assert traces(app) == []
    assert spans(app) == []
    app.config["LLM_LOGS_ENABLED"] = True
    openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    assert len(traces(app)) == 1


def test_capture_content_off_keeps_no_content(app: Flask, openai_client: openai.OpenAI) -> None:
    app.config["LLM_LOGS_CAPTURE_CONTENT"] = False
    openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    with trace("quiet"), span("step", input={"secret": "x"}) as step:
        step.output = "y"
    [llm] = spans(app, kind="llm")
    [custom] = spans(app, kind="custom")
    assert llm.input is llm.output is custom.input is custom.output is None
    assert llm.input_tokens is not None  # metadata and usage are still kept
    assert llm.metadata["gen_ai.request.model"] == "gpt-4.1-mini"


@pytest.mark.recorder_errors("new_id and end_trace are replaced by functions that raise")
@pytest.mark.parametrize("target", ["new_id", "end_trace"])
def test_recorder_failure_never_reaches_the_host(
    app: Flask, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("recorder bug")

    monkeypatch.setattr(api, target, broken)

    @trace("decorated")
    def work() -> str:
        return "result"

    assert work() == "result"
    with pytest.raises(Boom), trace("t"), span("s"):
        raise Boom("host error")


def test_steps_in_an_app_without_the_extension_run_unrecorded() -> None:
    host = Flask("host_without_extension")
    with host.app_context(), trace("elsewhere") as step, span("inside") as inner:
        inner.output = "kept by the app only"
    assert step.id is not None
    assert inner.trace_id == step.id


def test_link_prompt_version_before_the_trace_begins(
    app: Flask, openai_client: openai.OpenAI
) -> None:
    link_prompt_version(9)  # Prompt.build() first, then the traced work
    with trace("memo"):
        openai_client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    row, [llm] = one_trace(app)
    assert row.prompt_version_id == llm.metadata["prompt_version_id"] == 9


def test_span_takes_input_and_metadata_positionally(app: Flask) -> None:
    with span("step", {"q": 1}, {"source": "cache"}):
        pass
    _, [child] = one_trace(app)
    assert (child.input, child.metadata) == ({"q": 1}, {"source": "cache"})


def test_a_decorator_without_a_name_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match=r'write @trace\("name"\)'):

        @trace  # type: ignore[arg-type]
        def report() -> None: ...
