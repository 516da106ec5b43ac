"""Reading back what the tracing API and the instrumentation recorded."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask
from openai.types.chat import ChatCompletionMessageParam

import flask_llm_logs
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from tests.helpers.writer import stored

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What is the price of AAPL?"}
]


def flush() -> None:
    assert flask_llm_logs.flush(timeout=10), "the writer did not store the records in time"


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
