"""The alert tests' helpers: a webhook receiver on loopback, rules, and the history read back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_llm_logs.models import AlertEvent
from flask_llm_logs.models import AlertState
from flask_llm_logs.state import get_state
from tests.helpers.writer import span_record
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record


@dataclasses.dataclass
class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that records the JSON POSTed to it.

    ``statuses`` are answered first, one per request (then 200); ``delay``
    seconds pass before each answer (a slow receiver, for timeouts).
    """

    url: str = ""
    received: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    headers: list[dict[str, str]] = dataclasses.field(default_factory=list)
    statuses: list[int] = dataclasses.field(default_factory=list)
    delay: float = 0.0
    #: Every request, answered or not (a timed-out one is not in ``received``).
    requests: int = 0


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                receiver.requests += 1
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            time.sleep(receiver.delay)
            if status == 200:
                with lock:
                    receiver.received.append(json.loads(body))
                    receiver.headers.append(dict(self.headers))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_port}/hooks/secret-token"
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(5)


def events(app: Flask) -> list[AlertEvent]:
    """The alert history, oldest first, read in a fresh session."""
    with app.app_context():
        session = app.extensions["llm_logs"].session
        rows = list(session.scalars(sa.select(AlertEvent).order_by(AlertEvent.id)))
        session.expunge_all()
        session.remove()
        return rows


def states(app: Flask) -> dict[tuple[str, str], str]:
    """(rule, key) -> state."""
    with app.app_context():
        session = app.extensions["llm_logs"].session
        rows = session.execute(sa.select(AlertState.rule, AlertState.key, AlertState.state))
        found = {(rule, key): state for rule, key, state in rows}
        session.remove()
        return found


#: The trace fields a recorded call may set (the rest goes on its LLM span).
TRACE_FIELDS = ("name", "user_id", "environment")


def record_calls(app: Flask, at: dt.datetime, *calls: dict[str, Any]) -> None:
    """One trace per call, each with one LLM span started ``at``, through the writer.

    A call's ``name``, ``user_id`` and ``environment`` go on its trace; the
    rest (``cost``, ``status``, ``duration_ms``, tokens, ``model``) on its span.
    """
    records: list[Any] = []
    for call in calls:
        fields = dict(call)
        trace_fields = {key: fields.pop(key) for key in TRACE_FIELDS if key in fields}
        trace = trace_record(status="completed", started_at=at.timestamp(), **trace_fields)
        fields.setdefault("model", "gpt-4.1")
        fields.setdefault("duration_ms", 100.0)
        span = span_record(
            trace.id, kind="llm", provider="openai", started_at=at.timestamp(), **fields
        )
        records += [trace, span]
    submit(app, *records)
    assert get_state(app).writer.flush(10), "the writer did not store the calls in time"
