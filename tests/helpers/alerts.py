"""The alert tests' helpers: a webhook receiver on loopback, rules, and the history read back."""

from __future__ import annotations

import dataclasses
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


#: A row of ``metrics()`` with nothing in it, to be filled per test.
EMPTY_ROW: dict[str, Any] = {
    "calls": 0,
    "errors": 0,
    "error_rate": None,
    "input_tokens": 0,
    "output_tokens": 0,
    "cached_tokens": 0,
    "cache_write_tokens": 0,
    "cost": 0.0,
    "duration_ms_sum": 0.0,
    "p50_ms": None,
    "p95_ms": None,
    "p99_ms": None,
}


@dataclasses.dataclass
class Numbers:
    """``metrics()`` as the alert checks call it, answering with rows set by the test.

    Stands in for the aggregate table until ``metrics()`` is on main; every
    call is recorded, so a test can check what the rules asked for.
    """

    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    calls: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def set(self, *rows: dict[str, Any]) -> None:
        self.rows = [{**EMPTY_ROW, **row} for row in rows]

    def __call__(self, **arguments: Any) -> list[dict[str, Any]]:
        self.calls.append(arguments)
        group_by = arguments["group_by"]
        return [
            {**{key: row.get(key) for key in group_by}, **{key: row[key] for key in EMPTY_ROW}}
            for row in self.rows
            if all(row.get(key) == value for key, value in arguments["filters"].items())
        ]
