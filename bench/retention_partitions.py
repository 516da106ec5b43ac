"""How long the retention purge takes when it drops partitions: 30 days of spans past the cutoff.

A throw-away database is migrated (partitioned, monthly by default) and
filled on the server with ``generate_series``: ``--spans`` spans (ten per
trace, two LLM calls among them) spread evenly over the 60 days before now,
so the purge at 30 days has half of them to remove. Partitions are made for
the whole range first, as the writer would have made them over those
months. Then ``purge_old_traces(30)`` runs once in an app context and is
timed, with what is left; then the purge of the next day
(``purge_old_traces(29)``), what a daily job does in steady state.

What it shows: the partitions wholly older than the cutoff go with a
``DROP TABLE`` each (milliseconds whatever their size); what is left to
delete row by row is the partition the cutoff falls in (with monthly
partitions, up to a month of it, hence ``--interval day`` for big tables),
and the traces' count of the dropped partitions, read before each drop.

Usage::

    python bench/retention_partitions.py [--spans 1000000] [--interval month|day]
        [--unpartitioned] [--statements 10] [--keep] [--no-settle]

``--statements N`` prints each purge's N slowest statements and commits,
timed around the driver's calls: where the purge's time goes. ``--keep``
fills a database kept between runs once (``llm_logs_bench_retention_*``;
drop it by hand) and purges a copy of its files each run, so the purge of
two versions of the code can alternate on the same data without a fill
each (minutes for 10,000,000 spans). The copy is checkpointed, as 30-day
old partitions are; its ranges end at the fill's time, so the cutoff falls
a little later in them as the hours go by. Before the purge, the data is
checkpointed and flushed and the disk left alone a few seconds (``--no-settle``
purges at once, while the fill is still being written back: no purge of
month-old partitions meets that).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextlib import nullcontext
from typing import Any

import sqlalchemy as sa
from benchdb import kept_database
from benchdb import throwaway_database
from flask import Flask

from flask_llm_logs import LlmLogs
from flask_llm_logs import migrations
from flask_llm_logs import partitions
from flask_llm_logs.tracing.retention import purge_old_traces

SPANS_PER_TRACE = 10
DAYS = 60
KEEP_DAYS = 30
#: Seconds left to the disk after a copy's writes are flushed (``--keep``).
SETTLE = 5


#: SQL for a UUID 7 made at ``t`` (``models.base.id_made_at``), its random bits
#: the md5 of ``seed``: the milliseconds, the version, then the variant.
UUID7 = (
    "CAST(lpad(to_hex(floor(extract(epoch FROM t) * 1000)::bigint), 12, '0')"
    " || '7' || substr(md5({seed}), 1, 3) || '8' || substr(md5({seed}), 4, 15) AS uuid)"
)


def fill(url: str, spans: int, interval: str) -> None:
    engine = sa.create_engine(url)
    now = dt.datetime.now(dt.timezone.utc)
    for start in partitions.periods(now - dt.timedelta(days=DAYS), now, interval):
        partitions.maintain(engine, interval, now=start)
    traces = spans // SPANS_PER_TRACE
    trace_id = UUID7.format(seed="'t' || i")
    step = DAYS * 86400.0 / traces
    with engine.begin() as connection:
        # Trace i started i * step seconds after the range's start; its ids are
        # UUID 7 made at that time, as the writer's are (the purge's chunks find
        # the partitions holding their spans by the ids' range).
        connection.execute(
            sa.text(
                "INSERT INTO llm_logs_traces (id, name, status, metadata, input_tokens,"
                " output_tokens, cached_tokens, cache_write_tokens, reasoning_tokens,"
                " spans_count, models, tags, started_at, created_at)"
                " SELECT " + trace_id + ", 'pipeline', 'completed', '{}', 0, 0, 0, 0, 0,"
                " :per, '[]', '[]', t, t"
                " FROM generate_series(0, :traces - 1) i,"
                " LATERAL (SELECT :start + make_interval(secs => i * :step) AS t) s"
            ),
            {
                "traces": traces,
                "step": step,
                "per": SPANS_PER_TRACE,
                "start": now - dt.timedelta(days=DAYS),
            },
        )
        connection.execute(
            sa.text(
                "INSERT INTO llm_logs_spans (id, trace_id, name, kind, status, metadata,"
                " input, output, started_at, created_at)"
                " SELECT "
                + UUID7.format(seed="'s' || i || '.' || j")
                + ", "
                + trace_id
                + ", 'step',"
                " CASE WHEN j < 2 THEN 'llm' ELSE 'custom' END, 'completed', '{}',"
                " '\"a question of some length\"', '\"an answer of some length\"', t, t"
                " FROM generate_series(0, :traces - 1) i,"
                " LATERAL (SELECT :start + make_interval(secs => i * :step) AS t) s,"
                " generate_series(0, :per - 1) j"
            ),
            {
                "traces": traces,
                "step": step,
                "per": SPANS_PER_TRACE,
                "start": now - dt.timedelta(days=DAYS),
            },
        )
        connection.execute(sa.text("ANALYZE"))
    engine.dispose()


@contextmanager
def timed_statements(engine: sa.Engine, slowest: int) -> Iterator[None]:
    """Print the ``slowest`` statements and commits run on ``engine`` meanwhile."""
    timings: list[tuple[float, str]] = []

    def before(connection: sa.Connection, *_: Any) -> None:
        connection.info["started"] = time.perf_counter()

    def after(connection: sa.Connection, _: Any, statement: str, *__: Any) -> None:
        elapsed = time.perf_counter() - connection.info["started"]
        timings.append((elapsed, " ".join(statement.split())[:100]))

    commit = engine.dialect.do_commit

    def timed_commit(dbapi_connection: Any) -> None:
        started = time.perf_counter()
        commit(dbapi_connection)
        timings.append((time.perf_counter() - started, "COMMIT"))

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    engine.dialect.do_commit = timed_commit  # type: ignore[method-assign]
    try:
        yield
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)
        engine.dialect.do_commit = commit  # type: ignore[method-assign]
    total = sum(elapsed for elapsed, _ in timings)
    print(f"  {len(timings)} statements and commits, {total:.2f} s in all; the slowest:")
    for elapsed, statement in sorted(timings, reverse=True)[:slowest]:
        print(f"  {elapsed * 1000:8.1f} ms  {statement}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--interval", choices=partitions.INTERVALS, default="month")
    parser.add_argument(
        "--unpartitioned",
        action="store_true",
        help="traces and spans left unpartitioned (as 0011 leaves tables with rows): the"
        " purge deletes row by row, as before partitions",
    )
    parser.add_argument(
        "--statements",
        type=int,
        default=0,
        metavar="N",
        help="print each purge's N slowest statements and commits",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="fill a kept database once (its ranges end at the fill's time) and purge a"
        " copy of it each run, so runs can alternate between two versions of the code",
    )
    parser.add_argument(
        "--no-settle",
        action="store_true",
        help="purge at once, while the fill's (or copy's) gigabytes are still being"
        " written back, as this script did before",
    )
    args = parser.parse_args()
    layout = "unpartitioned" if args.unpartitioned else args.interval
    if not args.keep:
        with throwaway_database() as url:
            prepare(url, args.spans, args.interval, args.unpartitioned)
            if not args.no_settle:
                settle(url)
            purge(url, args.spans, layout, args.interval, args.statements)
        return
    name = f"llm_logs_bench_retention_{args.spans}_{layout}"
    url = kept_database(name)
    if not is_filled(url):
        prepare(url, args.spans, args.interval, args.unpartitioned)
    with throwaway_database(template=name) as copy:
        if not args.no_settle:
            settle(copy)
        purge(copy, args.spans, layout, args.interval, args.statements)


def settle(url: str) -> None:
    """Write the fill (or the copy) to the disk and let it finish: the purge of
    partitions written a month ago waits for no writeback of theirs."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text("CHECKPOINT"))
    engine.dispose()
    os.sync()
    time.sleep(SETTLE)


def is_filled(url: str) -> bool:
    """Whether the kept database at ``url`` has its traces (the fill is one transaction)."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        filled = sa.inspect(connection).has_table("llm_logs_traces") and connection.scalar(
            sa.text("SELECT EXISTS (SELECT 1 FROM llm_logs_traces)")
        )
    engine.dispose()
    return bool(filled)


def prepare(url: str, spans: int, interval: str, unpartitioned: bool) -> None:
    """Migrate the database at ``url`` and fill it."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        migrations.upgrade(connection, "0010" if unpartitioned else "head")
    started = time.perf_counter()
    fill(url, spans, interval)
    with engine.begin() as connection:
        migrations.upgrade(connection)  # partitions only what is empty
    engine.dispose()
    print(f"filled {spans:,} spans in {time.perf_counter() - started:.1f} s")


def purge(url: str, spans: int, layout: str, interval: str, statements: int) -> None:
    """Time the purge of the backlog, then the next day's, in the database at ``url``."""
    app = Flask("bench")
    app.config.update(SQLALCHEMY_DATABASE_URI=url, LLM_LOGS_PARTITION_INTERVAL=interval)
    LlmLogs(app)
    with app.app_context():
        engine = app.extensions["llm_logs"].engine
        before = spans
        # The backlog: 30 days past the cutoff at once; then the next day's
        # purge, which a daily job does in steady state.
        for days in (KEEP_DAYS, KEEP_DAYS - 1):
            with timed_statements(engine, statements) if statements else nullcontext():
                started = time.perf_counter()
                deleted = purge_old_traces(days, chunk_size=10_000)
                elapsed = time.perf_counter() - started
            with engine.connect() as connection:
                left = connection.scalar(sa.text("SELECT count(*) FROM llm_logs_spans")) or 0
            print(
                f"purge at {days} days of {deleted:,} traces ({before - left:,} spans;"
                f" {left:,} left), {layout}: {elapsed:.2f} s"
            )
            before = left
        engine.dispose()
    app.extensions["llm_logs"].shutdown()


if __name__ == "__main__":
    main()
