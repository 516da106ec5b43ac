"""The writer across a real ``os.fork()``, as under gunicorn --preload or RQ."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from writer_helpers import span_record
from writer_helpers import stored
from writer_helpers import submit
from writer_helpers import trace_record

from flask_llm_logs.extension import get_state
from flask_llm_logs.models import Span

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def run_in_child(work: Callable[[], bool]) -> int:
    """Fork, run ``work`` in the child and return its exit code (0: ``work`` was true)."""
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        code = 3
        try:
            code = 0 if work() else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_child_writes_through_a_fresh_writer(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_WRITER_FLUSH_INTERVAL=30)
    writer = get_state(app).writer
    trace_id = trace_record().id
    # The parent's thread and pool are busy, and records wait in its queue.
    submit(app, span_record(trace_id, name="parent-before"))
    assert writer.flush(10)
    submit(app, *(span_record(trace_id, name="parent-queued") for _ in range(5)))
    assert writer.stats()["queued"] == 5

    def child() -> bool:
        # A fresh queue: the parent's five queued records are not the child's.
        if writer.stats() != {
            "queued": 0,
            "written_spans": 0,
            "written_traces": 0,
            "dropped": 0,
            "errors": 0,
            "retries": 0,
        }:
            return False
        submit(app, *(span_record(trace_id, name="child") for _ in range(7)))
        return writer.flush(20) and writer.stats()["written_spans"] == 7

    assert run_in_child(child) == 0
    assert writer.flush(10)
    names = [row.name for row in stored(app, Span, trace_id=trace_id)]
    assert sorted(names) == ["child"] * 7 + ["parent-before"] + ["parent-queued"] * 5
    assert writer.stats()["written_spans"] == 6

    # The parent's pooled connection survived the child's exit.
    with get_state(app).engine.connect() as connection:
        assert connection.execute(sa.select(1)).scalar() == 1
    submit(app, span_record(trace_id, name="parent-after"))
    assert writer.flush(10)
    assert len(stored(app, Span, trace_id=trace_id)) == 14


def test_child_of_a_parent_that_never_wrote(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    trace_id = trace_record().id

    def child() -> bool:
        submit(app, trace_record(trace_id), span_record(trace_id))
        return get_state(app).writer.flush(20)

    assert run_in_child(child) == 0
    assert len(stored(app, Span, trace_id=trace_id)) == 1
    assert stored(app, Span, trace_id=trace_id)[0].trace_id == trace_id
