"""The operator's controls: cancel a batch at the provider, requeue its failed requests."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Flask

from flask_llm_logs import Batch
from flask_llm_logs.batches import flush
from flask_llm_logs.batches import poll
from flask_llm_logs.models import BatchRecord
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.state import get_state
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.batches import RecordingHandler


def invoke(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["llm-logs", "batches", *args])


def enqueue(count: int) -> list[BatchRequest]:
    return [
        Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input=f"text {n}")
        for n in range(count)
    ]


def stored(model: type[Any]) -> list[Any]:
    session = get_state().session
    rows = list(session.scalars(sa.select(model).order_by(model.id)))
    session.rollback()
    return rows


def test_cancel_then_requeue_submits_the_cancelled_requests_again(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    enqueue(3)
    flush("summary")
    [record] = stored(BatchRecord)

    result = invoke(batch_app, "cancel", str(record.id), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"id": record.id, "status": "cancelled"}
    assert fake_openai.batches.get(record.provider_batch_id)["status"] == "cancelling"
    poll()  # the provider is still cancelling: the batch stays cancelled, nothing delivered
    assert stored(BatchRecord)[0].status == "cancelled"
    assert {r.status for r in stored(BatchRequest)} == {"submitted"}

    # One request ran before the provider stopped: its result is delivered.
    fake_openai.batches.cancel(record.provider_batch_id, completed=1)
    poll()
    done, *cancelled = stored(BatchRequest)
    assert done.status == "succeeded" and len(handler.calls) == 1
    assert [r.status for r in cancelled] == ["failed", "failed"]
    assert all("batch_cancelled" in r.error for r in cancelled)
    assert len(handler.failures) == 2
    [reconciled] = stored(BatchRecord)
    assert reconciled.status == "cancelled" and reconciled.reconciled_at is not None

    result = invoke(batch_app, "requeue", str(record.id))
    assert result.exit_code == 0, result.output
    assert result.output == f"Batch {record.id}: 2 requests back to pending for the next flush.\n"
    done_after, *requeued = stored(BatchRequest)
    assert (done_after.status, done_after.batch_id) == ("succeeded", record.id)
    for request in requeued:
        assert (request.status, request.batch_id, request.error) == ("pending", None, None)

    # The next flush submits them in a new batch; their results are delivered.
    [new_batch] = flush("summary").batches
    assert new_batch != record.id
    fake_openai.batches.complete_all()
    poll()
    assert {r.status for r in stored(BatchRequest)} == {"succeeded"}
    assert sorted(c for c, _ in handler.calls) == sorted(r.custom_id for r in stored(BatchRequest))


def test_requeue_never_takes_a_request_that_succeeded(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    ok, refused, bad = enqueue(3)
    handler.fail_for = {refused.custom_id}
    flush("summary")
    [provider_id] = fake_openai.batches.ids()
    fake_openai.batches.complete(provider_id, fail={bad.custom_id: (400, "Invalid 'input'.")})
    poll()
    before = {r.custom_id: r for r in stored(BatchRequest)}
    assert [before[r.custom_id].status for r in (ok, refused, bad)] == ["succeeded"] + [
        "failed"
    ] * 2
    old_trace = before[refused.custom_id].trace_id
    assert old_trace is not None

    from flask_llm_logs.batches import requeue_batch

    [record] = stored(BatchRecord)
    assert requeue_batch(record.id) == 2
    after = {r.custom_id: r for r in stored(BatchRequest)}
    assert after[ok.custom_id].status == "succeeded" and after[ok.custom_id].result is not None
    # A fresh start for a new call: nothing of the old result is kept.
    for custom_id in (refused.custom_id, bad.custom_id):
        request = after[custom_id]
        assert request.status == "pending" and request.batch_id is None
        assert request.result is None and request.trace_id is None and request.cost is None
        assert request.input_tokens is None and request.completed_at is None
    assert requeue_batch(record.id) == 0  # nothing failed is left in the batch

    handler.fail_for = set()
    flush("summary")
    fake_openai.batches.complete_all()
    poll()
    again = {r.custom_id: r for r in stored(BatchRequest)}
    assert {r.status for r in again.values()} == {"succeeded"}
    new_trace = again[refused.custom_id].trace_id
    assert new_trace is not None and new_trace != old_trace
    assert again[refused.custom_id].cost


def test_cancel_refusals_name_the_reason(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    result = invoke(batch_app, "cancel", "12345")
    assert result.exit_code == 1 and "no batch 12345" in result.output
    result = invoke(batch_app, "requeue", "12345")
    assert result.exit_code == 1 and "no batch 12345" in result.output
    assert invoke(batch_app, "cancel", "x").exit_code == 2

    enqueue(1)
    flush("summary")
    [record] = stored(BatchRecord)
    fake_openai.fail_next(500, path="/v1/batches/*/cancel", message="upstream broke")
    result = invoke(batch_app, "cancel", str(record.id))
    assert result.exit_code == 1
    assert f"batch {record.id} was not cancelled" in result.output
    assert "upstream broke" in result.output
    assert stored(BatchRecord)[0].status == "validating"

    fake_openai.batches.complete_all()
    poll()
    result = invoke(batch_app, "cancel", str(record.id))
    assert result.exit_code == 1 and "it has ended (completed)" in result.output

    session = get_state().session
    session.add(
        BatchRecord(purpose="summary", provider="openai_responses", model="m", claim_token="c")
    )
    session.commit()
    [_, claimed] = stored(BatchRecord)
    result = invoke(batch_app, "cancel", str(claimed.id))
    assert result.exit_code == 1 and "not submitted to the provider" in result.output
