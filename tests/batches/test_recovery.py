"""A flush killed mid-submission is recovered by poll without a second submission."""

from __future__ import annotations

import collections
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
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

SCRIPT = Path(__file__).parents[1] / "helpers" / "killed_flush.py"
STALE_AFTER = 0.5


def statuses() -> dict[str, int]:
    session = get_state().session
    counts = collections.Counter(session.scalars(sa.select(BatchRequest.status)))
    session.rollback()
    return dict(counts)


def run_killed_flush(database_url: str, fake_openai: FakeOpenAI, kill_at: str) -> None:
    env = dict(os.environ, DATABASE_URL=database_url, OPENAI_BASE_URL=fake_openai.base_url)
    env["KILL_AT"] = kill_at
    process = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )
    assert process.returncode == -signal.SIGKILL, process.stderr


def submissions_per_request(fake_openai: FakeOpenAI) -> collections.Counter[str]:
    return collections.Counter(
        line["custom_id"]
        for batch_id in fake_openai.batches.ids()
        for line in fake_openai.batches.lines(batch_id)
    )


@pytest.mark.parametrize("kill_at", ["after_create", "before_create"])
def test_killed_flush_is_recovered_with_one_provider_batch_per_request(
    make_batch_app: Callable[..., Flask], fake_openai: FakeOpenAI, database_url: str, kill_at: str
) -> None:
    patient = make_batch_app()  # the default: claims are stale after 15 minutes
    app = make_batch_app(LLM_LOGS_BATCH_STALE_CLAIM_AFTER=STALE_AFTER)
    handler = RecordingHandler()
    app.extensions["llm_logs"].batch_handlers["summary"] = handler
    with app.app_context():
        for i in range(5):
            Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input=f"text {i}")

        run_killed_flush(database_url, fake_openai, kill_at)
        assert statuses() == {"claimed": 5}
        assert len(fake_openai.batches.ids()) == (1 if kill_at == "after_create" else 0)

    # A fresh claim is left alone: its flush may still be running.
    with patient.app_context():
        recovery = poll().recovery
        assert recovery.adopted + recovery.released == 0
        assert statuses() == {"claimed": 5}

    with app.app_context():
        time.sleep(STALE_AFTER)
        recovery = poll().recovery
        session = get_state().session
        [record] = session.scalars(sa.select(BatchRecord)).all()
        session.rollback()
        if kill_at == "after_create":
            assert (recovery.adopted, recovery.released) == (1, 0)
            assert statuses() == {"submitted": 5}
            assert record.provider_batch_id == fake_openai.batches.ids()[0]
        else:
            assert (recovery.adopted, recovery.released) == (0, 1)
            assert statuses() == {"pending": 5}
            assert record.status == "failed" and "interrupted" in (record.error or "")
            assert flush("summary").submitted == 5

        fake_openai.batches.complete_all()
        poll()
        assert statuses() == {"succeeded": 5}
        assert len(fake_openai.batches.ids()) == 1
        assert set(submissions_per_request(fake_openai).values()) == {1}
        assert len(handler.calls) == 5


def test_a_failed_submission_that_cannot_be_checked_is_left_to_recovery(
    make_batch_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    patient = make_batch_app()
    with patient.app_context():
        for i in range(2):
            Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input=f"text {i}")
        # Both the create call and the lookup by claim token fail: the
        # provider may or may not have the batch, so the claim is kept.
        fake_openai.fail_next(status=500, path="/v1/batches", times=2, message="provider down")
        result = flush("summary")
        assert result.submit_failures == 1 and result.submitted == 0
        assert statuses() == {"claimed": 2}
        [record] = get_state().session.scalars(sa.select(BatchRecord)).all()
        assert record.status == "claimed" and "provider down" in (record.error or "")
        get_state().session.rollback()

    app = make_batch_app(LLM_LOGS_BATCH_STALE_CLAIM_AFTER=0.01)
    with app.app_context():
        time.sleep(0.05)
        assert poll().recovery.released == 1
        assert statuses() == {"pending": 2}
        assert flush("summary").submitted == 2
        assert len(fake_openai.batches.ids()) == 1


def test_the_stale_claim_timeout_is_read_at_each_poll(
    batch_app: Flask, fake_openai: FakeOpenAI
) -> None:
    assert batch_app.config["LLM_LOGS_BATCH_STALE_CLAIM_AFTER"] == dt.timedelta(minutes=15)
    for i in range(2):
        Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input=f"text {i}")
    fake_openai.fail_next(status=500, path="/v1/batches", times=2, message="provider down")
    flush("summary")
    assert poll().recovery.released == 0
    assert statuses() == {"claimed": 2}

    batch_app.config["LLM_LOGS_BATCH_STALE_CLAIM_AFTER"] = dt.timedelta(milliseconds=10)
    time.sleep(0.05)
    assert poll().recovery.released == 1
    assert statuses() == {"pending": 2}
