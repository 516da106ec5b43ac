"""The CPU the metrics table costs the writer and the server, per span stored.

One process stores batches of 500 LLM spans (50 traces of ten spans, each
trace one of ``--users`` users, in turn) through ``store.write``, the
writer's own transaction, once with the metrics table kept and once
without, alternating batch by batch after a warm-up (so most rows exist, as
in a running app). It counts its thread's CPU (``time.thread_time``) and
its backend's (``/proc/<pid>/stat``) around each; the difference between
the two kinds of batches is the metrics' share. Measured in one process and
alternating, the share moves less with the machine's load than the spans/s
of ``tracing_ingest.py --compare-metrics`` do.

Usage::

    python bench/metrics_upkeep.py [--users 1000] [--batches 200]

A throw-away database on the local server (``LLM_LOGS_BENCH_POSTGRES``),
which must run on this machine (its backend's CPU is read from ``/proc``).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import time

import sqlalchemy as sa
from benchdb import create_tables
from benchdb import throwaway_database
from tracing_ingest import SPANS_PER_TRACE
from tracing_ingest import process_cpu_s
from tracing_ingest import span_record

from flask_llm_logs.models.base import new_id
from flask_llm_logs.tracing import store
from flask_llm_logs.tracing.records import TraceRecord

TRACES_PER_BATCH = 50
WARM_UP_BATCHES = 10
POLICY = store.ContentPolicy(redact=None, pricing_provider=None, max_content_bytes=100_000)


def batch(users: int, traces: itertools.count[int]) -> store.Rows:
    """The rows of the next :data:`TRACES_PER_BATCH` traces: start, spans, end."""
    records: list[object] = []
    for _ in range(TRACES_PER_BATCH):
        trace_id = new_id()
        user = f"user-{next(traces) % users}" if users else None
        start = TraceRecord(id=trace_id, name="report", started_at=time.time(), user_id=user)
        records.append(start)
        records.extend(span_record(trace_id, number) for number in range(SPANS_PER_TRACE))
        records.append(dataclasses.replace(start, status="completed"))
    rows, rejected = store.prepare(records, POLICY)
    assert not rejected
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000, help="0: traces without a user")
    parser.add_argument("--batches", type=int, default=200, help="of each kind")
    args = parser.parse_args()
    load = os.getloadavg()
    traces = itertools.count()
    writer = {True: 0.0, False: 0.0}
    server = {True: 0.0, False: 0.0}
    with throwaway_database() as url:
        create_tables(url)
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            connection.commit()
            for _ in range(WARM_UP_BATCHES):
                with connection.begin():
                    store.write(connection, batch(args.users, traces))
            for _ in range(args.batches):
                for metrics in (True, False):
                    rows = batch(args.users, traces)
                    thread, backend = time.thread_time(), process_cpu_s(pid)
                    with connection.begin():
                        store.write(connection, rows, metrics=metrics)
                    writer[metrics] += time.thread_time() - thread
                    server[metrics] += process_cpu_s(pid) - backend
        engine.dispose()
    spans = args.batches * TRACES_PER_BATCH * SPANS_PER_TRACE
    print(f"cpus: {os.cpu_count()}, load average at the start: {load[0]:.2f} {load[1]:.2f}")
    print(f"users: {args.users or 'none'}, batches of each kind: {args.batches}")
    for name, used in (("writer thread", writer), ("PostgreSQL backend", server)):
        with_, without = (used[metrics] / spans * 1e6 for metrics in (True, False))
        print(
            f"{name}: {with_:.1f} µs per span with the metrics, {without:.1f} without:"
            f" the metrics {with_ - without:.1f}"
        )


if __name__ == "__main__":
    main()
