"""Helpers of the batch tests: a host table that handlers write to, as an
app's handler would, a handler that records its calls, and the requests
and batches as stored."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask import Flask

from flask_llm_logs import Batch
from flask_llm_logs.models import BatchRecord
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.state import get_state

host_metadata = sa.MetaData()
#: The host app's own table: one row per handler call that committed.
handled = sa.Table(
    "test_batch_handled",
    host_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("request_id", sa.Integer, nullable=False),
    sa.Column("content", sa.Text),
)


@dataclasses.dataclass
class RecordingHandler:
    """Writes a row per call through ``db.session``; can be told to fail."""

    fail_for: set[str] = dataclasses.field(default_factory=set)
    calls: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def __call__(self, request: BatchRequest, message: Any) -> None:
        self.calls.append((request.custom_id, message))
        get_state().session.execute(
            handled.insert().values(request_id=request.id, content=json.dumps(message.content))
        )
        if request.custom_id in self.fail_for:
            raise RuntimeError(f"handler refused {request.custom_id}")

    def on_failure(self, request: BatchRequest, error: str) -> None:
        self.failures.append((request.custom_id, error))


def handled_rows(app: Flask) -> Sequence[sa.Row[Any]]:
    with app.app_context():
        session = get_state(app).session
        rows = session.execute(sa.select(handled).order_by(handled.c.id)).all()
        session.rollback()
        return rows


def enqueue(n: int, purpose: str = "summary", **kwargs: Any) -> list[BatchRequest]:
    kwargs.setdefault("model", "gpt-4.1-mini")
    return [
        Batch.enqueue(purpose=purpose, input=f"text {i}", routing={"n": i}, **kwargs)
        for i in range(n)
    ]


def requests_by_custom_id() -> dict[str, BatchRequest]:
    session = get_state().session
    rows = {r.custom_id: r for r in session.scalars(sa.select(BatchRequest))}
    session.rollback()
    return rows


def batches() -> list[BatchRecord]:
    session = get_state().session
    rows = list(session.scalars(sa.select(BatchRecord).order_by(BatchRecord.id)))
    session.rollback()
    return rows
