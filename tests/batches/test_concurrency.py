"""Concurrent flushes and pollers, each thread on its own app context (its
own session and database connection), on both databases."""

from __future__ import annotations

import collections
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_llm_logs import Batch
from flask_llm_logs.batches import flush
from flask_llm_logs.batches import poll
from flask_llm_logs.batches.adapters import OpenAIResponsesAdapter
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.state import get_state
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.batches import RecordingHandler
from tests.helpers.batches import handled_rows

WORKERS = 4
#: The module, which ``flask_llm_logs.batches.poll`` (the function) hides.
poll_module = sys.modules["flask_llm_logs.batches.poll"]


def run_concurrently(app: Flask, job: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(WORKERS)
    results: list[Any] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with app.app_context():
                barrier.wait()
                results.append(job())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return results


def enqueue(app: Flask, n: int) -> None:
    with app.app_context():
        for i in range(n):
            Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input=f"text {i}")


def test_concurrent_flushes_claim_each_request_once(
    make_batch_app: Callable[..., Flask], fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(OpenAIResponsesAdapter, "max_requests", 15)
    app = make_batch_app()
    enqueue(app, 120)
    results = run_concurrently(app, lambda: flush("summary"))

    assert sum(r.submitted for r in results) == 120
    submitted = collections.Counter(
        line["custom_id"]
        for batch_id in fake_openai.batches.ids()
        for line in fake_openai.batches.lines(batch_id)
    )
    assert len(submitted) == 120 and set(submitted.values()) == {1}
    with app.app_context():
        session = get_state().session
        assert set(session.scalars(sa.select(BatchRequest.status))) == {"submitted"}
        session.rollback()


def test_four_pollers_run_each_handler_exactly_once(
    make_batch_app: Callable[..., Flask],
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> None:
    monkeypatch.setattr(OpenAIResponsesAdapter, "max_requests", 100)
    monkeypatch.setattr(poll_module, "DELIVERY_CHUNK", 7)
    app = make_batch_app()
    handler = RecordingHandler()
    app.extensions["llm_logs"].batch_handlers["summary"] = handler
    enqueue(app, 300)
    with app.app_context():
        flush("summary")
    fake_openai.batches.complete_all()

    results = run_concurrently(app, poll)

    assert sum(r.delivered.succeeded for r in results) == 300
    rows = handled_rows(app)
    assert len(rows) == 300
    assert len({row.request_id for row in rows}) == 300
    assert len(handler.calls) == 300
    if database_url.startswith("postgresql"):
        # SKIP LOCKED shares the work; SQLite's pollers take turns on the
        # write lock, so there one of them may well deliver everything.
        assert sum(1 for r in results if r.delivered.succeeded) >= 2
    with app.app_context():
        session = get_state().session
        assert set(session.scalars(sa.select(BatchRequest.status))) == {"succeeded"}
        session.rollback()
        assert poll().delivered.succeeded == 0
