"""What the OpenTelemetry export costs: spans exported per second, and what it adds to ingest.

Three apps, in one run, each fed the same spans as ``tracing_ingest.py``
feeds (1 KB in, 1 KB out, ten spans a trace) through the real writer:

* database only (no export): spans stored per second;
* database and export to a local OTLP/HTTP receiver (the fake collector,
  which decodes every request): spans stored and exported per second;
* export only (``LLM_LOGS_STORE_TRACES = False``): spans exported per second.

Each rate counts from the first submit until every span is stored and
received. The producer pauses while half of ``LLM_LOGS_MAX_QUEUE`` records
wait for the writer or spans for the collector (the export's queue is
bounded too, and drops what does not fit), so the rates are sustained ones.
The collector (the fake one, which decodes every request) runs in a process
of its own, as a real one does. Usage::

    python bench/otel_export.py [--spans 20000] [--database-url postgresql+psycopg2://...]

Without ``--database-url`` a throw-away PostgreSQL database is created on the
local server (``LLM_LOGS_BENCH_POSTGRES``) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

from benchdb import create_tables
from benchdb import throwaway_database
from flask import Flask
from tracing_ingest import SPANS_PER_TRACE
from tracing_ingest import span_record

import flask_llm_logs
from flask_llm_logs import LlmLogs
from flask_llm_logs.models.base import new_id
from flask_llm_logs.state import get_state
from flask_llm_logs.tracing.records import TraceRecord


@contextlib.contextmanager
def collector_process() -> Iterator[str]:
    """A fake collector in a process of its own; its endpoint."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "flask_llm_logs.testing.otlp", str(port)]
    process = subprocess.Popen(command)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                received(endpoint)
                break
            time.sleep(0.05)
        yield endpoint
    finally:
        process.terminate()
        process.wait(10)


def received(endpoint: str) -> int:
    with urllib.request.urlopen(endpoint, timeout=5) as response:
        return int(json.load(response)["spans"])


def make_app(name: str, url: str, **config: Any) -> Flask:
    app = Flask(name)
    app.config.update(SQLALCHEMY_DATABASE_URI=url, LLM_LOGS_AUTO_INSTRUMENT=False, **config)
    LlmLogs(app)
    return app


def _counts(app: Flask) -> tuple[int, int]:
    """Records waiting for the writer, and spans the export has finished with."""
    with app.app_context():
        counts = flask_llm_logs.stats()
    return counts["queued"], counts.get("exported", 0) + counts.get("export_dropped", 0)


def _backlog(app: Flask, number: int, sent_before: int) -> int:
    """Records waiting for the writer, or spans waiting for the collector, whichever more.

    Both queues are bounded: a producer faster than the export would see
    spans dropped from the export's queue, not a sustained rate.
    """
    queued, sent = _counts(app)
    if not get_state(app).settings.exports:
        return queued
    # The spans made in this run so far: one a record, one a trace ended.
    made = number + 1 + (number + 1) // SPANS_PER_TRACE
    return max(queued, made - (sent - sent_before))


def drive(app: Flask, spans: int) -> float:
    """Seconds from the first submit until ``spans`` spans are stored and exported."""
    writer = get_state(app).writer
    high_water = app.config["LLM_LOGS_MAX_QUEUE"] // 2
    _, sent_before = _counts(app)
    began = time.perf_counter()
    for number in range(spans):
        if number % SPANS_PER_TRACE == 0:
            trace_id = new_id()
            writer.submit(TraceRecord(id=trace_id, name="report", started_at=time.time()))
        writer.submit(span_record(trace_id, number))
        if number % SPANS_PER_TRACE == SPANS_PER_TRACE - 1:
            end = TraceRecord(
                id=trace_id, name="report", started_at=time.time(), status="completed"
            )
            writer.submit(end)
        while number % 100 == 0 and _backlog(app, number, sent_before) > high_water:
            time.sleep(0.001)
    with app.app_context():
        assert flask_llm_logs.flush(300), "not stored and exported in time"
        counts = flask_llm_logs.stats()
    elapsed = time.perf_counter() - began
    assert counts["dropped"] == 0 and counts.get("export_dropped", 0) == 0, counts
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    # Each trace also makes a span of its own in the export.
    exported = args.spans + args.spans // SPANS_PER_TRACE

    with contextlib.ExitStack() as stack:
        url = args.database_url or stack.enter_context(throwaway_database())
        create_tables(url)
        endpoint = stack.enter_context(collector_process())
        apps = {
            "database only": make_app("db", url),
            "database + export": make_app("both", url, LLM_LOGS_OTLP_ENDPOINT=endpoint),
            "export only": make_app(
                "export",
                url,
                LLM_LOGS_OTLP_ENDPOINT=endpoint,
                LLM_LOGS_STORE_TRACES=False,
            ),
        }
        for app in apps.values():
            stack.callback(lambda app=app: get_state(app).engine.dispose())
            stack.callback(get_state(app).shutdown)
            drive(app, 1_000)  # warm-up: connections, caches
        seconds = {}
        for setup, app in apps.items():
            before = received(endpoint)
            seconds[setup] = drive(app, args.spans)
            if setup != "database only":
                assert received(endpoint) - before == exported, "spans lost on the way"

    print(f"cpus: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f}, spans: {args.spans}")
    for setup, elapsed in seconds.items():
        print(f"{setup:>18}: {args.spans / elapsed:8,.0f} spans/s ({elapsed:.1f} s)")
    base, both = seconds["database only"], seconds["database + export"]
    print(f"export received by the collector: {exported / seconds['export only']:,.0f} spans/s")
    print(f"what export adds to ingest: {(both / base - 1) * 100:+.0f}% time ({both / base:.2f}x)")


if __name__ == "__main__":
    main()
