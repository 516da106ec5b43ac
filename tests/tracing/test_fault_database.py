"""PostgreSQL goes away under the writer and comes back.

The test puts its own loopback TCP proxy between the writer and the shared
PostgreSQL server and cuts that, never the server.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from openai.types.chat import ChatCompletionMessageParam

from flask_llm_logs import LlmLogs
from flask_llm_logs import migrations
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.state import get_state
from flask_llm_logs.testing import FakeOpenAI
from flask_llm_logs.tracing.records import SpanRecord
from flask_llm_logs.tracing.records import TraceRecord
from tests.helpers.writer import span_record
from tests.helpers.writer import stored
from tests.helpers.writer import trace_record

pytestmark = pytest.mark.postgres

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Is the database there?"}]


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to a server until :meth:`cut`, again after :meth:`restore`.

    While cut, open connections are closed and new ones are accepted and
    closed at once, so clients fail fast instead of timing out.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # stopped
            if not self.open:
                client.close()
                continue
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.sockets |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def cut(self) -> None:
        self.open = False
        with self.lock:
            sockets = list(self.sockets)
        for sock in sockets:
            self._close(sock)

    def restore(self) -> None:
        self.open = True

    def stop(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def proxied_app(postgres_server: Any) -> Iterator[tuple[Flask, CuttableProxy]]:
    url = sa.make_url(postgres_server.create_database())
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        migrations.upgrade(connection)
    engine.dispose()
    proxy = CuttableProxy((url.host or "127.0.0.1", url.port or 5432))
    app = Flask("fault_test")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=url.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        ),
        LLM_LOGS_MAX_QUEUE=300,
        LLM_LOGS_WRITER_BATCH_SIZE=50,
        LLM_LOGS_WRITER_FLUSH_INTERVAL=0.05,
    )
    LlmLogs(app)
    yield app, proxy
    proxy.restore()
    state = get_state(app)
    state.shutdown()
    state.engine.dispose()
    proxy.stop()


def test_database_down_then_back(
    proxied_app: tuple[Flask, CuttableProxy], caplog: pytest.LogCaptureFixture
) -> None:
    app, proxy = proxied_app
    writer = get_state(app).writer
    # The writer has a pooled connection through the proxy when the cut comes.
    warm = trace_record(name="warm-up")
    writer.submit(warm)
    assert writer.flush(10)
    proxy.cut()

    start = trace_record()
    records: list[TraceRecord | SpanRecord] = [start, *(span_record(start.id) for _ in range(998))]
    records.append(trace_record(start.id, status="completed", started_at=start.started_at))
    timings = []
    with caplog.at_level(logging.WARNING, logger="flask_llm_logs"):
        for record in records:  # no exception may reach this loop
            began = time.perf_counter()
            writer.submit(record)
            timings.append(time.perf_counter() - began)
        assert writer.flush(timeout=0.5) is False  # the database is still away
        stats = writer.stats()
        assert stats["queued"] == 300
        assert stats["dropped"] == 700
        assert stats["retries"] >= 1

        proxy.restore()
        assert writer.flush(timeout=30) is True

    assert statistics.median(timings) < 50e-6
    assert max(timings) < 0.05
    stats = writer.stats()
    assert stats["queued"] == 0
    assert stats["dropped"] == 700
    # The first 300 records waited: the trace start and 299 spans.
    assert len(stored(app, Span, trace_id=start.id)) == 299
    [trace] = stored(app, Trace, id=start.id)
    assert (trace.status, trace.spans_count) == ("running", 299)
    # One warning for the whole outage, not one per record or retry.
    warnings = [r for r in caplog.records if r.name == "flask_llm_logs"]
    assert len(warnings) == 1
    assert "unreachable" in warnings[0].getMessage()


def test_close_gives_up_while_the_database_is_down(
    proxied_app: tuple[Flask, CuttableProxy],
) -> None:
    app, proxy = proxied_app
    writer = get_state(app).writer
    proxy.cut()
    writer.submit(span_record(trace_record().id))
    began = time.monotonic()
    writer.close(timeout=0.5)
    assert time.monotonic() - began < 3
    assert writer.stats()["dropped"] == 1


def test_llm_calls_succeed_while_the_database_is_down(
    proxied_app: tuple[Flask, CuttableProxy], fake_openai: FakeOpenAI
) -> None:
    """1,000 real calls through the instrumented SDK, each in its own automatic trace."""
    app, proxy = proxied_app
    writer = get_state(app).writer
    client = fake_openai.client()
    with app.app_context():
        client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
        assert writer.flush(10)
        proxy.cut()
        before = writer.stats()
        for _ in range(1000):  # no exception may reach this loop
            completion = client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
            assert completion.choices[0].message.content
        # Each call sends one record: its span, which carries its automatic trace.
        stats = writer.stats()
        assert stats["queued"] == 300
        assert stats["dropped"] - before["dropped"] == 1000 - 300

        proxy.restore()
        assert writer.flush(timeout=30)

    assert len(stored(app, Span)) - 1 == len(stored(app, Trace)) - 1 == 300
    assert writer.stats()["dropped"] - before["dropped"] == 700
