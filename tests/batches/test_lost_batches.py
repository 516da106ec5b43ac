"""A batch the provider no longer knows: its error is recorded, then it fails once."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_llm_logs import Batch
from flask_llm_logs.batches import flush
from flask_llm_logs.batches import poll
from flask_llm_logs.batches.poll import LOST_SINCE
from flask_llm_logs.models import BatchRecord
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.state import get_state
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.batches import RecordingHandler


def submit(count: int) -> str:
    """Submit ``count`` requests in one provider batch; its provider id."""
    for n in range(count):
        Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input=f"text {n}")
    assert len(flush("summary").batches) == 1
    return record().provider_batch_id or ""


def record() -> BatchRecord:
    session = get_state().session
    [row] = session.scalars(sa.select(BatchRecord))
    session.rollback()
    return row


def request_statuses() -> list[str]:
    session = get_state().session
    statuses = list(session.scalars(sa.select(BatchRequest.status).order_by(BatchRequest.id)))
    session.rollback()
    return statuses


def poll_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="flask_llm_logs"):
        poll()
    return [r for r in caplog.records if r.name.startswith("flask_llm_logs")]


def test_unknown_batch_records_the_error_then_fails_once(
    batch_app: Flask,
    fake_openai: FakeOpenAI,
    handler: RecordingHandler,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider_id = submit(3)
    fake_openai.batches.forget(provider_id)

    # Within LLM_LOGS_BATCH_LOST_AFTER (one hour): recorded, shown, waited for.
    for _ in range(2):
        [warning] = poll_warnings(caplog)
        assert warning.exc_info is None and "\n" not in warning.getMessage()
        assert f"does not know batch {provider_id}" in warning.getMessage()
    lost = record()
    assert lost.status == "validating" and lost.reconciled_at is None
    assert lost.error is not None
    assert f"does not know batch {provider_id}" in lost.error
    assert "No batch found with id" in lost.error  # the provider's own words
    since = lost.metadata_[LOST_SINCE]
    assert request_statuses() == ["submitted"] * 3 and handler.failures == []
    assert poll().errors == 1
    assert record().metadata_[LOST_SINCE] == since  # counted from the first "not found"
    html = batch_app.test_client().get(f"/llm_logs/batches/{lost.id}").get_data(as_text=True)
    assert f"does not know batch {provider_id}" in html

    # Read live: lowered on the running app, it ends the batch at the next poll.
    batch_app.config["LLM_LOGS_BATCH_LOST_AFTER"] = 0.001
    result = poll()
    assert (result.checked, result.reconciled, result.delivered.failed) == (1, 1, 3)
    failed = record()
    assert failed.status == "failed" and failed.reconciled_at is not None
    assert failed.completed_at is not None and failed.error is not None
    assert "marked failed after" in failed.error
    assert request_statuses() == ["failed"] * 3
    assert len(handler.failures) == 3
    assert all("No batch found with id" in error for _, error in handler.failures)
    assert handler.calls == []

    # Reconciled: never asked about again, on_failure never called twice.
    assert poll_warnings(caplog) == []
    assert poll().checked == 0 and len(handler.failures) == 3


def test_a_batch_known_again_is_no_longer_lost(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    provider_id = submit(2)
    fake_openai.fail_next(404, path=f"/v1/batches/{provider_id}", method="GET")
    assert poll().errors == 1
    assert LOST_SINCE in record().metadata_ and record().error

    assert poll().errors == 0
    known = record()
    assert known.error is None and LOST_SINCE not in known.metadata_
    assert known.status == "validating"

    fake_openai.batches.complete(provider_id)
    batch_app.config["LLM_LOGS_BATCH_LOST_AFTER"] = dt.timedelta(microseconds=1)
    assert poll().delivered.succeeded == 2
    assert request_statuses() == ["succeeded"] * 2 and handler.failures == []


def test_an_unreachable_provider_is_not_a_lost_batch(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    provider_id = submit(1)
    batch_app.config["LLM_LOGS_BATCH_LOST_AFTER"] = dt.timedelta(microseconds=1)
    fake_openai.fail_next(503, path=f"/v1/batches/{provider_id}", method="GET")
    assert poll().errors == 1
    assert record().status == "validating" and LOST_SINCE not in record().metadata_
    assert request_statuses() == ["submitted"] and handler.failures == []
