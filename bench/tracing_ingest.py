"""How many spans per second the background writer stores in PostgreSQL.

Every span carries about 1 KB of input and 1 KB of output; every trace has
ten LLM spans (and, with ``--users N``, one of N users). The producer
submits as fast as it can and only pauses when the writer's queue is half
full (so nothing is dropped and the number is the writer's sustained rate,
not the queue's). In the same run the synchronous design the Rails engine
uses -- insert the span and update its trace's totals through the ORM on
the caller's thread, one transaction per span -- is measured for comparison.

CPU time is counted where it is spent: the writer's threads (their own
CPU clocks, ``time.pthread_getcpuclockid``), the producer's thread, and the
PostgreSQL server processes of the benchmark's database (``/proc/<pid>/stat``
of the backends ``pg_stat_activity`` lists for it), each divided by the
spans stored. The server's shared processes (WAL writer, checkpointer,
autovacuum) serve every database on the server and are printed apart.

The WAL the server wrote during the run is printed per span too (all
databases of the server: an upper bound when others write beside it).
So are the metrics table's rows updated and how many of them were HOT
(on the row's own page, adding no index entry; ``pg_stat_user_tables``).

``--processes N`` runs N writer processes, as N gunicorn workers would, each
with its own app, writer and producer, into the one database; they start
together and the aggregate rate is all their spans over the time from the
start until the last one has flushed (the synchronous comparison is left
out). Without it, everything runs in this process.

Usage::

    python bench/tracing_ingest.py [--spans 100000] [--sync-spans 3000]
        [--database-url postgresql+psycopg2://...] [--without-search-index]
        [--threads N] [--users N] [--compare-metrics ROUNDS] [--processes N]
        [--old-partitions DAYS]

Without ``--database-url`` a throw-away database is created on the local
server (``LLM_LOGS_BENCH_POSTGRES``, default postgres@127.0.0.1:5432) and
dropped afterwards. ``--without-search-index`` drops the spans' full-text
index first, to show what that index costs at ingest (the writer still
cuts and stores the search words). ``--threads`` sets
``LLM_LOGS_WRITER_THREADS`` (default: the extension's, 2 on PostgreSQL).
``--compare-metrics`` measures instead the writer with the metrics table
kept (``LLM_LOGS_METRICS = True``, the default) against without, in
``ROUNDS`` alternating rounds of ``--spans`` each, and prints the medians.
``--old-partitions DAYS`` adds that many empty daily partitions before this
month to each partitioned table, as a retention of DAYS keeps them: a
statement of the writer's without a range on the partition key shows as
server CPU per span.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import multiprocessing
import os
import statistics
import threading
import time
import tracemalloc
import uuid
from typing import Any

import sqlalchemy as sa
from benchdb import create_tables
from benchdb import throwaway_database
from flask import Flask

from flask_llm_logs import LlmLogs
from flask_llm_logs import partitions
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.models.base import new_id
from flask_llm_logs.models.base import utcnow
from flask_llm_logs.state import get_state
from flask_llm_logs.tracing.records import SpanRecord
from flask_llm_logs.tracing.records import TraceRecord
from flask_llm_logs.tracing.store import record_time

SPANS_PER_TRACE = 10
#: Spans stored before the measured run: connections, caches.
WARM_UP_SPANS = 2_000
PROMPT = "Summarise the quarterly figures for the board. " * 21  # ~1 KB
ANSWER = "Revenue grew four percent while costs stayed flat. " * 20  # ~1 KB


def make_app(url: str, batch_size: int, threads: int | None, *, metrics: bool = True) -> Flask:
    app = Flask("bench" if metrics else "bench_without_metrics")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=url,
        LLM_LOGS_AUTO_INSTRUMENT=False,
        LLM_LOGS_WRITER_BATCH_SIZE=batch_size,
        LLM_LOGS_WRITER_THREADS=threads,
        LLM_LOGS_METRICS=metrics,
    )
    LlmLogs(app)
    return app


def span_record(trace_id: uuid.UUID, number: int) -> SpanRecord:
    now = time.time()
    return SpanRecord(
        id=new_id(),
        trace_id=trace_id,
        parent_id=None,
        name="chat gpt-4.1-mini",
        kind="llm",
        operation="chat",
        model="gpt-4.1-mini",
        provider="openai",
        started_at=now,
        completed_at=now,
        duration_ms=420.0,
        input=[{"role": "user", "content": f"{number} {PROMPT}"}],
        output={"role": "assistant", "content": ANSWER},
        input_tokens=250,
        output_tokens=220,
        cached_tokens=0,
        metadata={"gen_ai.request.model": "gpt-4.1-mini", "gen_ai.request.temperature": 0.2},
    )


def rss_mib(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def full_queue_mib(max_queue: int) -> float:
    """Memory of ``max_queue`` records, the most the writer ever holds (tracemalloc)."""
    tracemalloc.start()
    trace_id = new_id()
    held = [span_record(trace_id, number) for number in range(max_queue)]
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del held
    return size / 2**20


#: The writer names its threads so (``tracing/writer.py``).
WRITER_THREAD_PREFIX = "flask-llm-logs-writer-"


def writer_cpu_s() -> float:
    """CPU seconds the writer's threads of this process have used so far.

    Each thread's own CPU clock, read from this (the producer's) thread.
    """
    total = 0.0
    for thread in threading.enumerate():
        if thread.name.startswith(WRITER_THREAD_PREFIX) and thread.ident and thread.is_alive():
            total += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return total


def process_cpu_s(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` (``/proc/<pid>/stat``); 0 once gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15; the split starts at field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerCpu:
    """CPU seconds of the PostgreSQL server's processes, read from ``/proc``.

    ``database``: the backends of the benchmark's database (the writers'
    connections, autovacuum workers on its tables); ``shared``: the
    processes that serve every database (WAL writer, checkpointer,
    background writer). The server must run on this machine.
    """

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    def snapshot(self) -> dict[int, tuple[str, float]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT pid, CASE WHEN datname = current_database() THEN 'database'"
                    " WHEN datname IS NULL THEN 'shared' END"
                    " FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                )
            ).all()
            wal = connection.execute(
                sa.text("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')")
            ).scalar_one()
        snapshot = {pid: (kind, process_cpu_s(pid)) for pid, kind in rows if kind}
        snapshot[0] = ("wal", float(wal))  # bytes of WAL written so far, as pid 0
        return snapshot

    @staticmethod
    def used(
        before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
    ) -> dict[str, float]:
        """CPU seconds by kind between two snapshots (a process new since ``before``: all),
        and the bytes of WAL written (``wal``)."""
        used = {"database": 0.0, "shared": 0.0, "wal": 0.0}
        for pid, (kind, cpu) in after.items():
            used[kind] += cpu - before.get(pid, (kind, 0.0))[1]
        return used


def metrics_updates(url: str) -> tuple[int, int]:
    """Rows of the metrics table (every partition) updated so far, and how many HOT.

    Backends send these counters to ``pg_stat_user_tables`` up to a second
    after their commit (PostgreSQL 15), so this waits that long first.
    """
    time.sleep(1.1)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        updated, hot = connection.execute(
            sa.text(
                "SELECT coalesce(sum(n_tup_upd), 0), coalesce(sum(n_tup_hot_upd), 0)"
                " FROM pg_stat_user_tables WHERE relname LIKE 'llm\\_logs\\_metrics%'"
            )
        ).one()
    engine.dispose()
    return int(updated), int(hot)


def count_spans(app: Flask) -> int:
    with get_state(app).engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(Span)).scalar_one()


def bench_writer(app: Flask, spans: int, users: int = 0) -> dict[str, float]:
    writer = get_state(app).writer
    high_water = app.config["LLM_LOGS_MAX_QUEUE"] // 2
    submit_times: list[float] = []
    written_before = writer.stats()["written_spans"]
    rss_before = rss_mib()
    writer_cpu_before, producer_cpu_before = writer_cpu_s(), time.thread_time()
    began = time.perf_counter()
    for number in range(spans):
        if number % SPANS_PER_TRACE == 0:
            trace_id, trace_started = new_id(), time.time()
            user = f"user-{number // SPANS_PER_TRACE % users}" if users else None
            writer.submit(
                TraceRecord(id=trace_id, name="report", started_at=trace_started, user_id=user)
            )
        record = span_record(trace_id, number)
        tick = time.perf_counter()
        writer.submit(record)
        submit_times.append(time.perf_counter() - tick)
        if number % SPANS_PER_TRACE == SPANS_PER_TRACE - 1:
            end = TraceRecord(
                id=trace_id,
                name="report",
                started_at=trace_started,  # as the recorder's: it is part of the key
                status="completed",
                user_id=user,
            )
            writer.submit(end)
        while number % 100 == 0 and writer.stats()["queued"] > high_water:
            time.sleep(0.001)
    assert writer.flush(120), "the writer did not catch up"
    elapsed = time.perf_counter() - began
    writer_cpu = writer_cpu_s() - writer_cpu_before
    producer_cpu = time.thread_time() - producer_cpu_before
    stats = writer.stats()
    assert stats["dropped"] == 0 and stats["errors"] == 0, stats
    assert stats["written_spans"] - written_before == spans, stats
    return {
        "spans": spans,
        "spans_per_s": spans / elapsed,
        "elapsed_s": elapsed,
        "submit_median_us": statistics.median(submit_times) * 1e6,
        "writer_cpu_us": writer_cpu / spans * 1e6,
        "producer_cpu_us": producer_cpu / spans * 1e6,
        "rss_before_mib": rss_before,
        "rss_peak_mib": rss_mib("VmHWM"),
        "batches": stats["written_spans"] / app.config["LLM_LOGS_WRITER_BATCH_SIZE"],
    }


def writer_process(
    url: str,
    args: argparse.Namespace,
    ready: Any,
    go: Any,
    results: Any,
    done: Any,
) -> None:
    """One of ``--processes``: warm up, wait for the others, store ``--spans``, report."""
    app = make_app(url, args.batch_size, args.threads)
    bench_writer(app, WARM_UP_SPANS)
    ready.wait()
    go.wait()
    results.put(bench_writer(app, args.spans))
    done.wait()  # the backends stay until the server's CPU is read
    get_state(app).shutdown()
    get_state(app).engine.dispose()


def bench_processes(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """``--processes`` writers at once; the aggregate rate and the server's CPU."""
    context = multiprocessing.get_context("spawn")
    ready, done = context.Barrier(args.processes + 1), context.Barrier(args.processes + 1)
    go, results = context.Event(), context.Queue()
    workers = [
        context.Process(target=writer_process, args=(url, args, ready, go, results, done))
        for _ in range(args.processes)
    ]
    for worker in workers:
        worker.start()
    server = ServerCpu(url)
    ready.wait()
    before = server.snapshot()
    began = time.perf_counter()
    go.set()
    each = [results.get() for _ in workers]
    elapsed = time.perf_counter() - began
    after = server.snapshot()
    done.wait()
    for worker in workers:
        worker.join()
    spans = sum(result["spans"] for result in each)
    return {
        "each": each,
        "spans": spans,
        "spans_per_s": spans / elapsed,
        "server_cpu_s": ServerCpu.used(before, after),
    }


def bench_synchronous(app: Flask, spans: int) -> dict[str, float]:
    """Insert each span and update its trace's totals on the caller's thread (Rails' way)."""
    session = get_state(app).session
    per_span: list[float] = []
    with app.app_context():
        began = time.perf_counter()
        for number in range(spans):
            tick = time.perf_counter()
            if number % SPANS_PER_TRACE == 0:
                trace = Trace(name="report", started_at=utcnow())
                session.add(trace)
                session.commit()
            record = span_record(trace.id, number)
            session.add(
                Span(
                    id=record.id,
                    trace_id=trace.id,
                    name=record.name,
                    kind=record.kind,
                    operation=record.operation,
                    model=record.model,
                    provider=record.provider,
                    input=record.input,
                    output=record.output,
                    input_tokens=record.input_tokens,
                    output_tokens=record.output_tokens,
                    cached_tokens=record.cached_tokens,
                    metadata_=dict(record.metadata),
                    started_at=record_time(record.started_at),
                    completed_at=record_time(record.completed_at),
                    duration_ms=record.duration_ms,
                )
            )
            trace.input_tokens += record.input_tokens or 0
            trace.output_tokens += record.output_tokens or 0
            trace.spans_count += 1
            session.commit()
            per_span.append(time.perf_counter() - tick)
        elapsed = time.perf_counter() - began
        session.remove()
    return {
        "spans_per_s": spans / elapsed,
        "caller_median_us": statistics.median(per_span) * 1e6,
    }


def compare_metrics(url: str, args: argparse.Namespace) -> None:
    """The writer with the metrics table kept and without, in alternating rounds."""
    apps = {
        keep: make_app(url, args.batch_size, args.threads, metrics=keep) for keep in (True, False)
    }
    rates: dict[bool, list[float]] = {True: [], False: []}
    try:
        for app in apps.values():
            bench_writer(app, 2_000, args.users)  # warm-up: connections, caches
        for _ in range(args.compare_metrics):
            for keep, app in apps.items():
                rates[keep].append(bench_writer(app, args.spans, args.users)["spans_per_s"])
    finally:
        for app in apps.values():
            get_state(app).shutdown()
            get_state(app).engine.dispose()
    kept, without = (statistics.median(rates[keep]) for keep in (True, False))
    print(f"cpus: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f}, spans per round: {args.spans}")
    print(f"LLM_LOGS_WRITER_BATCH_SIZE: {args.batch_size}, rounds: {args.compare_metrics}")
    print(f"users: {args.users or 'none'}")
    print(f"with the metrics table:    {kept:,.0f} spans/s (median; {rates[True]})")
    print(f"without (LLM_LOGS_METRICS=False): {without:,.0f} spans/s (median; {rates[False]})")
    print(f"with / without: {kept / without:.3f} ({(1 - kept / without) * 100:.1f}% fewer spans/s)")
    paired = statistics.median(a / b for a, b in zip(rates[True], rates[False], strict=True))
    print(f"median of the rounds' ratios: {paired:.3f}")


def print_cpu(result: dict[str, Any]) -> None:
    print(f"  CPU per span, writer threads: {result['writer_cpu_us']:.1f} µs")
    print(f"  CPU per span, producer thread: {result['producer_cpu_us']:.1f} µs")


def print_server_cpu(used: dict[str, float], spans: int) -> None:
    database, shared = (used[kind] / spans * 1e6 for kind in ("database", "shared"))
    print(f"  CPU per span, PostgreSQL backends of the database: {database:.1f} µs")
    print(f"  CPU per span, PostgreSQL shared processes: {shared:.1f} µs")
    print(f"  WAL per span (the whole server's): {used['wal'] / spans:,.0f} bytes")


def add_old_partitions(url: str, days: int) -> None:
    """``days`` empty daily partitions of each partitioned table, before this month: what
    a retention of that many days keeps, for statements without a range to plan
    and probe."""
    engine = sa.create_engine(url)
    month = partitions.period_start(dt.datetime.now(dt.timezone.utc), "month")
    with engine.begin() as connection:
        for table in partitions.TABLES:
            for day in range(1, days + 1):
                start = month - dt.timedelta(days=day)
                partitions.create_partition(connection, table, start, "day")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--sync-spans", type=int, default=3_000)
    parser.add_argument("--database-url")
    parser.add_argument("--without-search-index", action="store_true")
    parser.add_argument("--batch-size", type=int, default=500, help="LLM_LOGS_WRITER_BATCH_SIZE")
    parser.add_argument("--threads", type=int, help="LLM_LOGS_WRITER_THREADS")
    parser.add_argument("--users", type=int, default=0, help="users the traces belong to")
    parser.add_argument("--compare-metrics", type=int, metavar="ROUNDS")
    parser.add_argument("--processes", type=int, help="writer processes into one database")
    parser.add_argument(
        "--old-partitions",
        type=int,
        default=0,
        metavar="DAYS",
        help="empty daily partitions before this month, as DAYS of retention keep",
    )
    args = parser.parse_args()
    load = os.getloadavg()
    if args.compare_metrics:
        with throwaway_database() as url:
            create_tables(url)
            compare_metrics(url, args)
        return

    with contextlib.ExitStack() as stack:
        url = args.database_url or stack.enter_context(throwaway_database())
        create_tables(url)
        add_old_partitions(url, args.old_partitions)
        app = make_app(url, args.batch_size, args.threads)
        stack.callback(lambda: get_state(app).engine.dispose())
        stack.callback(get_state(app).shutdown)
        if args.without_search_index:
            with get_state(app).engine.begin() as connection:
                connection.execute(sa.text("DROP INDEX IF EXISTS ix_llm_logs_spans_search"))
        before = count_spans(app)
        if args.processes:
            together = bench_processes(url, args)
            stored = args.processes * (WARM_UP_SPANS + args.spans)
            assert count_spans(app) - before == stored, "spans missing"
        else:
            server = ServerCpu(url)
            bench_writer(app, WARM_UP_SPANS, args.users)  # warm-up: connections, caches
            updates_before = metrics_updates(url)
            server_before = server.snapshot()
            writer = bench_writer(app, args.spans, args.users)
            used = ServerCpu.used(server_before, server.snapshot())
            updated, hot = (
                after - before
                for after, before in zip(metrics_updates(url), updates_before, strict=True)
            )
            assert count_spans(app) - before == WARM_UP_SPANS + args.spans, "spans missing"
            sync = bench_synchronous(app, args.sync_spans)
            max_queue = app.config["LLM_LOGS_MAX_QUEUE"]
            queue_mib = full_queue_mib(max_queue)

    print(f"cpus: {os.cpu_count()}, load average at the start: {load[0]:.2f} {load[1]:.2f}")
    print(f"spans: {args.spans} per process, LLM_LOGS_WRITER_BATCH_SIZE: {args.batch_size}")
    print(f"writer threads (lanes): {get_state(app).writer.threads}")
    print(f"full-text search index on spans: {'dropped' if args.without_search_index else 'yes'}")
    if args.processes:
        print(f"{args.processes} writer processes: {together['spans_per_s']:,.0f} spans/s stored")
        print_server_cpu(together["server_cpu_s"], together["spans"])
        for number, result in enumerate(together["each"], 1):
            print(f"process {number}: {result['spans_per_s']:,.0f} spans/s")
            print_cpu(result)
        return
    print(f"background writer: {writer['spans_per_s']:,.0f} spans/s stored")
    print_cpu(writer)
    print_server_cpu(used, args.spans)
    print(f"  metrics table: {updated:,} rows updated, {hot:,} of them HOT")
    print(f"  caller's thread, median submit: {writer['submit_median_us']:.1f} µs")
    print(f"  RSS before {writer['rss_before_mib']:.0f} MiB, peak {writer['rss_peak_mib']:.0f} MiB")
    print(f"  a full queue ({max_queue:,} records) holds {queue_mib:.0f} MiB (tracemalloc)")
    print(f"synchronous (insert + update trace per span): {sync['spans_per_s']:,.0f} spans/s")
    print(f"  caller's thread, median per span: {sync['caller_median_us']:.0f} µs")
    print(f"ratio, writer / synchronous: {writer['spans_per_s'] / sync['spans_per_s']:.1f}x")


if __name__ == "__main__":
    main()
