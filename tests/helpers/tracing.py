"""Reading back what the tracing API and the instrumentation recorded."""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import Flask
from openai.types.chat import ChatCompletionMessageParam

import flask_llm_logs
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.state import get_state
from tests.helpers.writer import stored

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What is the price of AAPL?"}
]


def flush() -> None:
    """Wait for the writer; on a timeout, say what it was doing and what the database
    was waiting for (a flush timed out once in a whole PostgreSQL run, cause unknown)."""
    if flask_llm_logs.flush(timeout=30):
        return
    raise AssertionError(
        f"the writer did not store the records in 30 s: {flask_llm_logs.stats()};"
        f" database: {_waits()}"
    )


def _waits() -> str:
    """What the PostgreSQL sessions of the current app were doing, if it is on PostgreSQL."""
    engine = get_state().engine
    if engine.dialect.name != "postgresql":
        return engine.dialect.name
    query = sa.text(
        "SELECT pid, state, wait_event_type, wait_event, left(query, 200)"
        " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    try:
        with engine.connect() as connection:
            return repr([tuple(row) for row in connection.execute(query)])
    except Exception as error:
        return f"unknown ({error})"


def traces(app: Flask, **where: Any) -> list[Any]:
    flush()
    return stored(app, Trace, **where)


def spans(app: Flask, **where: Any) -> list[Any]:
    flush()
    return stored(app, Span, **where)


def one_trace(app: Flask) -> tuple[Any, list[Any]]:
    """The only trace stored, and its spans (oldest first)."""
    [trace] = traces(app)
    return trace, spans(app, trace_id=trace.id)


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for something recorded from another thread (a garbage-collected stream)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not recorded in time"
        flush()
        time.sleep(0.02)


def as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def leave_early(stream: Any, ending: str, text: Callable[[list[Any]], str]) -> list[Any]:
    """Read ``stream`` until its first text, then leave it: by ``close()``
    (``ending == "close"``) or by the end of a ``with`` block. The events read."""
    read: list[Any] = []

    def read_until_text(events: Iterable[Any]) -> None:
        for event in events:
            read.append(event)
            if text(read):
                break

    if ending == "close":
        read_until_text(stream)
        stream.close()
    else:
        with stream:
            read_until_text(stream)
    return read


async def finalise_dropped_streams() -> None:
    """Collect the streams the caller dropped and let the event loop run the
    finalisers of the SDK's async generators."""
    gc.collect()
    for _ in range(10):
        await asyncio.sleep(0.01)


def check_abandoned_streams(app: Flask, text: str) -> None:
    """Two streams dropped unfinished, one read partly and one never read, are
    both recorded (once collected) as abandoned, with what was read of them."""
    gc.collect()
    wait_until(lambda: len(spans(app)) == 2)
    outputs = sorted(str(s.output["content"]) for s in spans(app))
    assert outputs[0] == "None"  # never read
    assert text.startswith(outputs[1]) and outputs[1] != text
    assert {s.metadata["llm_logs.stream"] for s in spans(app)} == {"abandoned"}


def failed_call_span(app: Flask, status: int, error_class: type, input: Any) -> Any:
    """The span of a call the API refused with HTTP ``status``, after checking
    it and its trace are recorded as errors, with the input and no output."""
    row, [llm] = one_trace(app)
    assert llm.status == "error" and row.status == "error"
    assert llm.error.startswith(f"{error_class.__name__} (HTTP {status}): ")
    assert llm.metadata["http.response.status_code"] == status
    assert llm.metadata["error.type"] == error_class.__name__
    assert llm.input == input
    assert llm.output is None
    return llm
