"""The writer across process boundaries: a real ``os.fork()`` (gunicorn --preload,
RQ work horses) and process exit."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_llm_logs.models import Span
from flask_llm_logs.state import get_state
from tests.helpers.writer import span_record
from tests.helpers.writer import stored
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record

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
            "written_scores": 0,
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


EXITING_SCRIPT = """
import sys
import time
from flask import Flask
from flask_llm_logs import LlmLogs
from flask_llm_logs.state import get_state
from flask_llm_logs.models.base import new_id
from flask_llm_logs.tracing.records import SpanRecord

app = Flask("exiting")
app.config.update(SQLALCHEMY_DATABASE_URI=sys.argv[1], LLM_LOGS_WRITER_FLUSH_INTERVAL=60)
LlmLogs(app)
trace_id = new_id()
for _ in range(25):
    record = SpanRecord(
        id=new_id(), trace_id=trace_id, parent_id=None, name="last words", started_at=time.time()
    )
    get_state(app).writer.submit(record)
print(trace_id)
"""


def test_records_are_stored_at_process_exit(
    make_app: Callable[..., Flask], database_url: str, tmp_path: Path
) -> None:
    """No flush and a 60 s flush interval: ``atexit`` stores the records."""
    script = tmp_path / "exiting.py"
    script.write_text(EXITING_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), database_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    trace_id = uuid.UUID(done.stdout.strip())
    app = make_app()
    assert len(stored(app, Span, trace_id=trace_id)) == 25
