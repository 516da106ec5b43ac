"""Records and queries shared by the writer, fault and retention tests."""

from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa
from flask import Flask

from flask_llm_logs.models import Score
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.models.base import new_id
from flask_llm_logs.state import get_state
from flask_llm_logs.tracing.records import SpanRecord
from flask_llm_logs.tracing.records import TraceRecord


def trace_record(
    trace_id: uuid.UUID | None = None, *, status: str = "running", **fields: Any
) -> TraceRecord:
    """A trace's record; by default it started when its id was made, so a trace's start
    and end records carry the same time, as the recorder's do (on PostgreSQL the
    time is part of the trace's key, see ``flask_llm_logs.partitions``)."""
    trace_id = trace_id or new_id()
    made = (trace_id.int >> 80) / 1000 if trace_id.version == 7 else time.time()
    started = fields.pop("started_at", made)
    ended = {}
    if status != "running":
        ended = {"completed_at": started + 1.0, "duration_ms": 1000.0}
    return TraceRecord(
        id=trace_id,
        name=fields.pop("name", "pipeline"),
        started_at=started,
        status=status,
        **ended,
        **fields,
    )


def span_record(trace_id: uuid.UUID, **fields: Any) -> SpanRecord:
    fields.setdefault("name", "step")
    fields.setdefault("started_at", time.time())
    return SpanRecord(id=new_id(), trace_id=trace_id, parent_id=None, **fields)


def submit(app: Flask, *records: Any) -> None:
    writer = get_state(app).writer
    for record in records:
        writer.submit(record)


def stored(app: Flask, model: type[Trace] | type[Span] | type[Score], **where: Any) -> list[Any]:
    """Rows of ``model``, oldest first, read through a connection of their own (never the
    writer's)."""
    table = model.__table__
    query = sa.select(table).where(*(table.c[k] == v for k, v in where.items()))
    oldest_first = table.c.started_at if "started_at" in table.c else table.c.created_at
    with get_state(app).engine.connect() as connection:
        return list(connection.execute(query.order_by(oldest_first)))
