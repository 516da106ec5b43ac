"""Time of the batch lifecycle at 10,000 requests, on PostgreSQL and the fake server.

Four phases, each timed with ``perf_counter`` as one wall-clock interval:

1. ``Batch.enqueue`` 10,000 times (each call commits its own row);
2. ``flush()``: claim, write the JSONL, upload, create the provider batch;
3. ``poll()`` by one poller: read the output file, and for each request record
   a trace and span, store the result, and run a handler that inserts a row
   into a host table, all in chunked transactions;
4. the same 10,000 again, delivered by four poller processes at once; the
   handler rows must number exactly 10,000, one per request.

The fake server completes batches at once (``batch_auto_complete``), so the
numbers are our overhead, not OpenAI's turnaround.

Usage::

    python bench/batches_lifecycle.py [--requests 10000] [--pollers 4]

A throw-away database is created on ``LLM_LOGS_BENCH_POSTGRES`` (default
postgres@127.0.0.1:5432) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from typing import Any

import sqlalchemy as sa
from benchdb import create_tables
from benchdb import throwaway_database
from flask import Flask

from flask_llm_logs import Batch
from flask_llm_logs import LlmLogs
from flask_llm_logs.batches import flush
from flask_llm_logs.batches import poll
from flask_llm_logs.state import get_state
from flask_llm_logs.testing import FakeOpenAI

host_metadata = sa.MetaData()
handled = sa.Table(
    "bench_handled",
    host_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("request_id", sa.Integer, nullable=False),
    sa.Column("summary", sa.Text),
)


def write_summary(request: Any, message: Any) -> None:
    """The handler: what an app does with a result, one row per request."""
    get_state().session.execute(
        handled.insert().values(request_id=request.id, summary=message.content)
    )


def make_app(database_url: str, base_url: str) -> Flask:
    import openai

    app = Flask("bench_batches")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url,
        LLM_LOGS_AUTO_INSTRUMENT=False,
        LLM_LOGS_OPENAI_CLIENT=lambda: openai.OpenAI(
            base_url=base_url, api_key="bench", max_retries=0
        ),
    )
    llm_logs = LlmLogs(app)
    llm_logs.register_batch_handler("summary", write_summary, app=app)
    return app


def timed(label: str, results: dict[str, float], fn: Any, *args: Any) -> Any:
    start = time.perf_counter()
    value = fn(*args)
    results[label] = time.perf_counter() - start
    return value


def enqueue_all(n: int) -> None:
    for i in range(n):
        Batch.enqueue(
            purpose="summary",
            model="gpt-4.1-mini",
            instructions="Summarize the conversation in two sentences.",
            input=f"Conversation {i}: the customer asks about an order that arrived late.",
            routing={"conversation_id": i},
        )


def count(app: Flask) -> tuple[int, int]:
    with app.app_context():
        session = get_state().session
        rows = session.scalar(sa.select(sa.func.count()).select_from(handled))
        distinct = session.scalar(sa.select(sa.func.count(sa.distinct(handled.c.request_id))))
        session.rollback()
    return int(rows or 0), int(distinct or 0)


def run_pollers(n: int, database_url: str, base_url: str) -> list[str]:
    command = [sys.executable, __file__, "--poller", database_url, base_url]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(n)]
    outputs = [process.communicate()[0].strip() for process in processes]
    if any(process.returncode for process in processes):
        raise SystemExit(f"a poller failed: {outputs}")
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--pollers", type=int, default=4)
    parser.add_argument("--poller", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.poller:
        app = make_app(*args.poller)
        with app.app_context():
            start = time.perf_counter()
            delivered = poll().delivered.succeeded
            print(f"{delivered} in {time.perf_counter() - start:.2f} s")
        return

    n = args.requests
    with (
        FakeOpenAI(batch_auto_complete=True, record_requests=False) as fake,
        throwaway_database() as url,
    ):
        create_tables(url, host_metadata)
        app = make_app(url, fake.base_url)
        single: dict[str, float] = {}
        with app.app_context():
            timed("enqueue", single, enqueue_all, n)
            submitted = timed("flush", single, flush).submitted
            delivered = timed("poll", single, poll).delivered.succeeded
        rows = count(app)
        assert submitted == n and delivered == n and rows == (n, n), (submitted, delivered, rows)

        concurrent: dict[str, float] = {}
        with app.app_context():
            enqueue_all(n)
            flush()
        outputs = timed("pollers", concurrent, run_pollers, args.pollers, url, fake.base_url)
        rows = count(app)
        assert rows == (2 * n, 2 * n), rows

    print(f"requests: {n}")
    for label in ("enqueue", "flush", "poll"):
        seconds = single[label]
        rate = f"{seconds / n * 1e6:8.0f} µs/request  {n / seconds:8.0f}/s"
        print(f"{label:>8}: {seconds:8.2f} s  {rate}")
    seconds = concurrent["pollers"]
    print(
        f"{args.pollers} pollers: {seconds:6.2f} s wall, process start included"
        f"  (per poller: {'; '.join(outputs)}; handler rows {rows[0] - n}, distinct {rows[1] - n})"
    )


if __name__ == "__main__":
    main()
