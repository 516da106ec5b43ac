"""How long ``flask_llm_logs.metrics()`` takes over a month of ``bench/ui_pages.py``'s LLM calls.

The metrics table gets the rows the writer would have made for the data set
of ``ui_pages.py`` (1,000,000 traces over 30 days, four LLM spans each:
4,000,000 calls; eight trace names, 5,000 users, two environments), from
the same formulas, in SQL: the minute rows straight from
``generate_series`` (the spans themselves are not stored: ``metrics()``
never reads them), every other grain from the minute rows, as the writer
derives them. With ``--traces`` a proportional subset, over the same 30 days.

Each query runs ``--repeat`` times after one warm-up, in an app context, as
a host's page would call it; the table shows medians.

Usage::

    python bench/metrics_query.py [--traces 1000000] [--repeat 7] [--database-url ...]

Without ``--database-url`` the database ``llm_logs_bench_metrics`` is
created (once) on the local server (``LLM_LOGS_BENCH_POSTGRES``) and kept
for the next run; a filled one is reused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from typing import Any

import sqlalchemy as sa
from benchdb import bucket_start
from benchdb import kept_database
from flask import Flask

import flask_llm_logs
from flask_llm_logs import LlmLogs
from flask_llm_logs import migrations
from flask_llm_logs.models import metrics_table
from flask_llm_logs.models.metrics import DIMENSIONS
from flask_llm_logs.models.metrics import MEASURES
from flask_llm_logs.tracing import aggregate
from flask_llm_logs.tracing import latency

DATABASE = "llm_logs_bench_metrics"
SPANS_PER_TRACE = 5  # a root span and four LLM calls, as in ui_pages.py

#: The LLM spans of ``ui_pages.FILL_SPANS`` with their trace's name, user and
#: environment (``FILL_TRACES``, ``FILL_CONTEXT``): trace ``i`` is span ``s / 5``.
LLM_SPANS = """
SELECT
    date_trunc('minute', now() - (s / 5) * interval '{spacing} seconds'
                         + (s % 5) * interval '0.2 s') AS minute,
    (ARRAY['strategy_analysis', 'risk_assessment', 'support_reply', 'summarise_report',
           'classify_ticket', 'extract_entities', 'translate', 'rag_answer'])[1 + (s / 5) % 8]
        AS name,
    'user-' || (((s / 5) / 8) % 5000) AS user_id,
    CASE WHEN (s / 5) % 20 = 0 THEN 'staging' ELSE 'production' END AS environment,
    400 + s % 300 AS input_tokens, 100 + s % 80 AS output_tokens, (s % 4) * 64 AS cached_tokens,
    0.0001 AS cost, (120 + s % 900)::float8 AS duration_ms
FROM generate_series(5, ({traces} + 1) * 5 - 1) AS s
WHERE s % 5 <> 0
"""

#: ``latency.bin_of`` in SQL.
BIN = (
    "CASE WHEN duration_ms < 1 THEN 0"
    " ELSE least(floor(ln(duration_ms) / ln({growth}))::int + 1, {top}) END"
)


def columns() -> str:
    return ", ".join(c.name for c in metrics_table.c)


def fill_minutes(connection: sa.Connection, traces: int) -> None:
    bin_of = BIN.format(growth=latency.GROWTH, top=latency.TOP_BIN)
    histogram = ", ".join(f"count(*) FILTER (WHERE bin = {n})" for n in range(latency.BINS))
    # 30 days whatever the number of traces: 2.592 s apart for 1,000,000.
    spans = LLM_SPANS.format(traces=traces, spacing=30 * 86400 / traces)
    connection.execute(
        sa.text(
            f"INSERT INTO llm_logs_metrics ({columns()})"
            f" SELECT {aggregate.MINUTE.number}, minute, 'gpt-4.1-mini', 'openai', name, 0,"
            " user_id, environment, 'completed', count(*), 0, sum(input_tokens),"
            " sum(output_tokens), sum(cached_tokens), 0, sum(cost), sum(duration_ms),"
            f" {histogram}"
            f" FROM (SELECT *, {bin_of} AS bin FROM ({spans}) AS l)"
            " AS spans GROUP BY minute, name, user_id, environment"
        )
    )


def fill_grain(connection: sa.Connection, grain: aggregate.Grain) -> None:
    """The rows of ``grain`` summed from the minute rows, as ``aggregate.all_grains`` does."""
    empty = {name: ("0" if name == "prompt_version_id" else "''") for name in DIMENSIONS}
    dims = [name if name in grain.keeps else empty[name] for name in DIMENSIONS]
    sums = ", ".join(f"sum({name})" for name in (*MEASURES, *latency.COLUMNS))
    bucket = bucket_start(grain.width)
    connection.execute(
        sa.text(
            f"INSERT INTO llm_logs_metrics ({columns()})"
            f" SELECT {grain.number}, {bucket}, {', '.join(dims)}, {sums}"
            f" FROM llm_logs_metrics WHERE grain = {aggregate.MINUTE.number}"
            f" GROUP BY {', '.join([bucket, *grain.keeps])}"
        )
    )


def fill(url: str, traces: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        migrations.upgrade(connection)
        if connection.execute(sa.select(metrics_table.c.grain).limit(1)).first() is not None:
            print("metrics table already filled; reusing it")
            return
    began = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(sa.text("SET work_mem = '256MB'"))
        fill_minutes(connection, traces)
        print(f"minute rows: {time.perf_counter() - began:.0f} s")
        for grain in aggregate.GRAINS[1:]:
            fill_grain(connection, grain)
        print(f"every grain: {time.perf_counter() - began:.0f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE llm_logs_metrics"))
    engine.dispose()


def queries() -> dict[str, dict[str, Any]]:
    now = dt.datetime.now(dt.timezone.utc)
    month, week, day = (now - dt.timedelta(days=days) for days in (30, 7, 1))
    return {
        "30 days by user": {"since": month, "group_by": ("user",)},
        "30 days by model": {"since": month, "group_by": ("model",)},
        "30 days by trace name": {"since": month, "group_by": ("name",)},
        "30 days, totals per day": {"since": month, "group_by": (), "bucket": "day"},
        "30 days by environment, per day": {
            "since": month,
            "group_by": ("environment",),
            "bucket": "day",
        },
        "7 days by name, per day": {"since": week, "group_by": ("name",), "bucket": "day"},
        "24 hours by model, per hour": {"since": day, "group_by": ("model",), "bucket": "hour"},
        "24 hours by user": {"since": day, "group_by": ("user",)},
        "1 hour by user, per minute": {
            "since": now - dt.timedelta(hours=1),
            "group_by": ("user",),
            "bucket": "minute",
        },
        "7 days by user, name = support_reply": {
            "since": week,
            "group_by": ("user",),
            "filters": {"name": "support_reply"},
        },
        "30 days by user and name (all-dimension rows)": {
            "since": month,
            "group_by": ("user", "name"),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    url = args.database_url or kept_database(DATABASE)
    fill(url, args.traces)
    app = Flask("bench_metrics")
    app.config.update(SQLALCHEMY_DATABASE_URI=url, LLM_LOGS_AUTO_INSTRUMENT=False)
    LlmLogs(app)
    with app.app_context():
        engine = app.extensions["llm_logs"].engine
        with engine.connect() as connection:
            count = sa.select(metrics_table.c.grain, sa.func.count()).group_by(
                metrics_table.c.grain
            )
            rows = dict(connection.execute(count).all())
        print(f"cpus: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f}, traces: {args.traces:,}")
        print(f"metrics rows: {sum(rows.values()):,} (minute rows: {rows.get(1, 0):,})")
        print(f"\n{'query':<48} {'median ms':>10} {'min ms':>8} {'rows':>7}")
        for label, arguments in queries().items():
            flask_llm_logs.metrics(**arguments)
            times = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                result = flask_llm_logs.metrics(**arguments)
                times.append((time.perf_counter() - began) * 1000)
            print(
                f"{label:<48} {statistics.median(times):>10.1f} {min(times):>8.1f}"
                f" {len(result):>7,}"
            )
    app.extensions["llm_logs"].shutdown()


if __name__ == "__main__":
    main()
