"""Enqueue, flush, poll against the fake server on both databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydantic
import pytest
import sqlalchemy as sa
from flask import Flask

from flask_llm_logs import Batch
from flask_llm_logs import flush as flush_traces
from flask_llm_logs import uninstrument
from flask_llm_logs.batches import flush
from flask_llm_logs.batches import poll
from flask_llm_logs.batches import retry_failed
from flask_llm_logs.batches import retry_request
from flask_llm_logs.batches.adapters import OpenAIResponsesAdapter
from flask_llm_logs.batches.claims import CLAIM_KEY
from flask_llm_logs.instrumentation import instrument
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.state import get_state
from flask_llm_logs.testing import FakeOpenAI
from flask_llm_logs.tracing.pricing import cost_of
from tests.helpers.batches import RecordingHandler
from tests.helpers.batches import batches
from tests.helpers.batches import enqueue
from tests.helpers.batches import handled_rows
from tests.helpers.batches import requests_by_custom_id


class Verdict(pydantic.BaseModel):
    label: str
    confidence: float


def test_flush_submits_a_jsonl_batch_with_the_claim_in_metadata(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    enqueued = enqueue(3, instructions="Summarize.", temperature=0.5)
    result = flush("summary")

    assert result.submitted == 3 and len(result.batches) == 1
    [record] = batches()
    assert record.status == "validating" and record.provider_batch_id
    assert record.input_file_id and record.submitted_at is not None
    provider = fake_openai.batches.get(record.provider_batch_id)
    assert provider["endpoint"] == "/v1/responses"
    assert provider["completion_window"] == "24h"
    assert provider["metadata"][CLAIM_KEY] == record.claim_token
    lines = fake_openai.batches.lines(record.provider_batch_id)
    assert [line["custom_id"] for line in lines] == [r.custom_id for r in enqueued]
    assert lines[0]["url"] == "/v1/responses" and lines[0]["method"] == "POST"
    assert lines[0]["body"] == enqueued[0].payload
    assert {r.status for r in requests_by_custom_id().values()} == {"submitted"}
    # Nothing is pending: a second flush submits nothing.
    assert flush("summary").submitted == 0
    assert len(fake_openai.batches.ids()) == 1


def test_flush_groups_by_model_and_purpose(batch_app: Flask, fake_openai: FakeOpenAI) -> None:
    enqueue(2, model="gpt-4.1-mini")
    enqueue(2, model="gpt-4.1-nano")
    enqueue(1, purpose="other")
    flush("summary")
    assert sorted(b.model for b in batches()) == ["gpt-4.1-mini", "gpt-4.1-nano"]
    flush()
    assert sorted(b.purpose for b in batches()) == ["other", "summary", "summary"]


def test_flush_splits_at_the_request_and_size_limits(
    batch_app: Flask, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(OpenAIResponsesAdapter, "max_requests", 4)
    enqueue(10)
    flush("summary")
    assert [b.request_count for b in batches()] == [4, 4, 2]

    monkeypatch.setattr(OpenAIResponsesAdapter, "max_requests", 50_000)
    one_line = len(
        OpenAIResponsesAdapter().encode(
            "req_" + "0" * 32, {"model": "gpt-4.1-mini", "input": "text 0"}
        )
    )
    monkeypatch.setattr(OpenAIResponsesAdapter, "max_bytes", one_line * 3 + 1)
    enqueue(7)
    flush("summary")
    assert [b.request_count for b in batches()][3:] == [3, 3, 1]


def test_poll_records_traces_stores_results_and_runs_handlers(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    enqueue(3, instructions="Summarize.")
    assert len(flush("summary").batches) == 1
    provider_id = batches()[0].provider_batch_id
    assert provider_id is not None

    assert poll().delivered.succeeded == 0  # still running: nothing delivered
    assert handler.calls == []
    fake_openai.batches.complete(provider_id, shuffle=True)
    result = poll()
    assert result.delivered.succeeded == 3 and result.reconciled == 1

    [record] = batches()
    assert record.status == "completed" and record.reconciled_at is not None
    session = get_state().session
    for request in requests_by_custom_id().values():
        assert request.status == "succeeded" and request.error is None
        assert request.result_content == f"Fake reply to: {request.payload['input']}"
        assert request.input_tokens and request.output_tokens is not None
        trace = session.get(Trace, request.trace_id)
        assert trace is not None
        assert trace.metadata_ == {**request.routing, "execution_mode": "batch"}
        assert trace.name == "summary" and trace.status == "completed"
        assert trace.input_tokens == request.input_tokens
        [span] = session.scalars(sa.select(Span).where(Span.trace_id == trace.id)).all()
        assert span.kind == "llm" and (span.model or "").startswith("gpt-4.1-mini")
        assert span.metadata_["batch_custom_id"] == request.custom_id
        assert span.output_tokens == request.output_tokens
        full = cost_of(
            "gpt-4.1-mini",
            "openai",
            request.input_tokens,
            request.output_tokens,
            request.cached_tokens,
        )
        assert full is not None
        assert request.cost == pytest.approx(full / 2)
        assert trace.cost == pytest.approx(full / 2)
    session.rollback()
    assert len(handler.calls) == 3 and len(handled_rows(batch_app)) == 3
    message = handler.calls[0][1]
    assert message.content.startswith("Fake reply to: text")
    assert message.model.startswith("gpt-4.1-mini")
    assert message.response.output_text == message.content
    assert message.input_tokens and message.cached_tokens is not None

    # Reconciled batches are not polled again; handlers never run twice.
    assert poll().checked == 0
    assert len(handled_rows(batch_app)) == 3


def test_schema_results_are_delivered_as_dicts(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    enqueue(2, schema=Verdict)
    flush("summary")
    fake_openai.batches.complete_all()
    poll()
    for _, message in handler.calls:
        assert isinstance(message.content, dict)
        Verdict.model_validate(message.content)
    for request in requests_by_custom_id().values():
        assert isinstance(request.result_content, dict)


def test_routing_links_the_prompt_version(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    Batch.enqueue(
        purpose="summary", model="gpt-4.1-mini", input="x", routing={"prompt_version_id": 7}
    )
    flush("summary")
    fake_openai.batches.complete_all()
    poll()
    [request] = requests_by_custom_id().values()
    trace = get_state().session.get(Trace, request.trace_id)
    assert trace is not None and trace.prompt_version_id == 7


def test_failed_lines_call_on_failure_and_the_rest_succeed(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    enqueued = enqueue(3)
    flush("summary")
    [provider_id] = fake_openai.batches.ids()
    bad = enqueued[1].custom_id
    fake_openai.batches.complete(provider_id, fail={bad: (400, "Invalid 'input'.")})
    poll()
    rows = requests_by_custom_id()
    assert rows[bad].status == "failed" and "Invalid 'input'." in (rows[bad].error or "")
    assert [c for c, _ in handler.failures] == [bad]
    assert sorted(r.status for r in rows.values()) == ["failed", "succeeded", "succeeded"]
    assert batches()[0].reconciled_at is not None


def test_handler_failure_rolls_back_its_writes_then_retry_succeeds(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    enqueued = enqueue(3)
    refused = enqueued[0].custom_id
    handler.fail_for = {refused}
    flush("summary")
    fake_openai.batches.complete_all()
    poll()

    rows = requests_by_custom_id()
    assert rows[refused].status == "failed"
    assert "handler refused" in (rows[refused].error or "")
    assert rows[refused].result is not None and rows[refused].trace_id is not None
    assert (rows[refused].result_content or "").startswith("Fake reply to:")
    # Only the failing handler's own row was rolled back.
    assert sorted(r.request_id for r in handled_rows(batch_app)) == sorted(
        r.id for r in rows.values() if r.custom_id != refused
    )
    responses_calls = len(fake_openai.requests_to("/v1/responses"))

    handler.fail_for = set()
    retried = retry_request(rows[refused].id)
    assert retried.status == "succeeded" and retried.error is None
    assert len(handled_rows(batch_app)) == 3
    assert len(fake_openai.requests_to("/v1/responses")) == responses_calls  # no LLM call
    # The trace was recorded once, not again on retry.
    assert requests_by_custom_id()[refused].trace_id == rows[refused].trace_id
    with pytest.raises(ValueError, match="not 'failed'"):
        retry_request(rows[refused].id)
    with pytest.raises(LookupError):
        retry_request(999_999)


def test_retry_failed_by_purpose(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    enqueued = enqueue(4)
    handler.fail_for = {r.custom_id for r in enqueued[:3]}
    flush("summary")
    fake_openai.batches.complete_all()
    poll()
    handler.fail_for = {enqueued[0].custom_id}
    result = retry_failed(purpose="summary")
    assert (result.succeeded, result.failed) == (2, 1)
    assert retry_failed(purpose="other").succeeded == 0


def test_requests_without_a_handler_fail_and_can_be_retried(
    batch_app: Flask, fake_openai: FakeOpenAI
) -> None:
    enqueue(1, purpose="later")
    flush()
    fake_openai.batches.complete_all()
    poll()
    [request] = requests_by_custom_id().values()
    assert request.status == "failed" and "no batch handler" in (request.error or "")
    handler = RecordingHandler()
    batch_app.extensions["llm_logs"].batch_handlers["later"] = handler
    assert retry_request(request.custom_id).status == "succeeded"


def test_expired_batch_delivers_finished_results_and_fails_the_rest(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    enqueued = enqueue(5)
    flush("summary")
    [provider_id] = fake_openai.batches.ids()
    fake_openai.batches.expire(provider_id, completed=2)
    poll()
    rows = requests_by_custom_id()
    statuses = [rows[r.custom_id].status for r in enqueued]
    assert statuses == ["succeeded"] * 2 + ["failed"] * 3
    assert all("batch_expired" in (rows[r.custom_id].error or "") for r in enqueued[2:])
    assert sorted(c for c, _ in handler.failures) == sorted(r.custom_id for r in enqueued[2:])
    assert len(handler.calls) == 2
    [record] = batches()
    assert record.status == "expired" and record.reconciled_at is not None


@pytest.mark.parametrize("ending", ["fail", "cancel"])
def test_failed_and_cancelled_batches_call_on_failure(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler, ending: str
) -> None:
    enqueue(3)
    flush("summary")
    [provider_id] = fake_openai.batches.ids()
    if ending == "fail":
        fake_openai.batches.fail(
            provider_id, errors=[{"code": "token_limit_exceeded", "message": "Too many tokens."}]
        )
    else:
        fake_openai.batches.cancel(provider_id)
    poll()
    rows = requests_by_custom_id().values()
    assert {r.status for r in rows} == {"failed"}
    assert len(handler.failures) == 3 and handler.calls == []
    expected = "token_limit_exceeded" if ending == "fail" else "batch_cancelled"
    assert all(expected in (r.error or "") for r in rows)
    assert batches()[0].status == ("failed" if ending == "fail" else "cancelled")


def test_submission_failure_releases_the_claim_and_records_the_error(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    enqueue(2)
    fake_openai.fail_next(status=500, path="/v1/batches", message="upstream broke")
    result = flush("summary")
    assert result.submit_failures == 1 and result.submitted == 0
    [record] = batches()
    assert record.status == "failed" and "upstream broke" in (record.error or "")
    assert record.provider_batch_id is None
    assert {r.status for r in requests_by_custom_id().values()} == {"pending"}
    assert {r.batch_id for r in requests_by_custom_id().values()} == {None}
    # The next flush submits them.
    assert flush("summary").submitted == 2


@pytest.mark.parametrize("instrumented", [True, False], ids=["instrumented", "plain"])
@pytest.mark.parametrize("how", ["disabled", "unbatchable"])
def test_fallback_sends_synchronously_and_delivers(
    make_batch_app: Callable[..., Flask], fake_openai: FakeOpenAI, how: str, instrumented: bool
) -> None:
    app = make_batch_app(LLM_LOGS_BATCH_ENABLED=how != "disabled")
    handler = RecordingHandler()
    model = "gpt-4o-realtime-preview" if how == "unbatchable" else "gpt-4.1-mini"
    if not instrumented:
        uninstrument()
    try:
        with app.app_context():
            app.extensions["llm_logs"].batch_handlers["summary"] = handler
            enqueue(3, model=model, schema=Verdict)
            result = flush("summary")
            assert flush_traces(10)
    finally:
        instrument()
    with app.app_context():
        assert result.fallback.succeeded == 3, [r.error for r in requests_by_custom_id().values()]
        assert result.batches == []
        assert fake_openai.batches.ids() == []
        assert len(fake_openai.requests_to("/v1/responses")) == 3
        rows = requests_by_custom_id().values()
        assert {r.status for r in rows} == {"fell_back"}
        assert all(isinstance(r.result_content, dict) for r in rows)
        assert all(r.cost is not None for r in rows)
        session = get_state().session
        # One trace per request, with one llm span, whoever recorded it.
        traces = session.scalars(sa.select(Trace)).all()
        # A row without a trace leaves its list one short.
        assert sorted(t.id for t in traces) == sorted(r.trace_id for r in rows if r.trace_id)
        for trace in traces:
            assert trace.metadata_["execution_mode"] == "sync"
            assert trace.metadata_["n"] in (0, 1, 2)
            spans = session.scalars(sa.select(Span).where(Span.trace_id == trace.id)).all()
            assert [span.kind for span in spans] == ["llm"]
        session.rollback()
        assert len(handled_rows(app)) == 3
        assert all(isinstance(m.content, dict) for _, m in handler.calls)


def test_batches_switched_off_at_runtime_fall_back_at_the_next_flush(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    enqueue(2)
    batch_app.config["LLM_LOGS_BATCH_ENABLED"] = False
    result = flush("summary")
    assert (result.fallback.succeeded, result.batches) == (2, [])
    assert fake_openai.batches.ids() == []
    assert {r.status for r in requests_by_custom_id().values()} == {"fell_back"}
    assert len(handler.calls) == 2

    batch_app.config["LLM_LOGS_BATCH_ENABLED"] = True
    enqueue(1)
    assert flush("summary").submitted == 1


def test_fallback_call_error_fails_the_request(
    make_batch_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    app = make_batch_app(LLM_LOGS_BATCH_ENABLED=False)
    handler = RecordingHandler()
    with app.app_context():
        app.extensions["llm_logs"].batch_handlers["summary"] = handler
        enqueue(1)
        fake_openai.fail_next(status=400, path="/v1/responses", message="Invalid 'input'.")
        flush("summary")
        [request] = requests_by_custom_id().values()
        assert request.status == "failed" and "Invalid 'input'." in (request.error or "")
        assert len(handler.failures) == 1


def test_handler_runs_in_the_delivering_transaction(
    batch_app: Flask, fake_openai: FakeOpenAI
) -> None:
    seen: list[tuple[Any, Any]] = []

    def handler(request: BatchRequest, message: Any) -> None:
        session = get_state().session
        # The result and the trace are already there, uncommitted, in this transaction.
        seen.append((session.get(Trace, request.trace_id), request.result_content))

    batch_app.extensions["llm_logs"].batch_handlers["summary"] = handler
    enqueue(2)
    flush("summary")
    fake_openai.batches.complete_all()
    poll()
    assert len(seen) == 2
    assert all(trace is not None and content for trace, content in seen)


def test_a_poller_dying_mid_chunk_leaves_the_chunk_for_the_next_poll(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    enqueued = enqueue(5)
    flush("summary")
    fake_openai.batches.complete_all()

    class Dying(RecordingHandler):
        def __call__(self, request: BatchRequest, message: Any) -> None:
            super().__call__(request, message)
            if len(self.calls) == 3:
                raise SystemExit("worker killed")  # not an Exception: nothing catches it

    batch_app.extensions["llm_logs"].batch_handlers["summary"] = Dying()
    with pytest.raises(SystemExit):
        poll()
    get_state().session.rollback()  # what the app context's teardown does
    assert handled_rows(batch_app) == []
    assert {r.status for r in requests_by_custom_id().values()} == {"submitted"}

    batch_app.extensions["llm_logs"].batch_handlers["summary"] = handler
    poll()
    assert sorted(r.request_id for r in handled_rows(batch_app)) == sorted(r.id for r in enqueued)
    assert {r.status for r in requests_by_custom_id().values()} == {"succeeded"}


def test_no_trace_while_logging_is_disabled(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    batch_app.config["LLM_LOGS_ENABLED"] = False
    enqueue(2)
    flush("summary")
    fake_openai.batches.complete_all()
    poll()
    rows = requests_by_custom_id().values()
    assert {r.status for r in rows} == {"succeeded"} and len(handler.calls) == 2
    assert {r.trace_id for r in rows} == {None}
    assert all(r.cost is not None for r in rows)
    session = get_state().session
    assert session.scalar(sa.select(sa.func.count()).select_from(Trace)) == 0
    session.rollback()
