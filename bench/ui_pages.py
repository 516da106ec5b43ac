"""Server-side render time of the web UI's pages on a large PostgreSQL database.

The database gets 1,000,000 traces and 5,000,000 spans (five per trace, a
root and four children, about 400 bytes of chat input and output each),
plus one trace of 1,000 spans and 10,000 batch requests pointing at traces.
Traces carry users (5,000), sessions (eight traces each), tags (a common,
a middling and a rare one) and environments; 101,000 scores judge them
("helpful" on one trace in ten, the rare "accuracy" on one in a thousand).
Rows are made by ``INSERT ... SELECT generate_series`` with the secondary
indexes dropped, which are then rebuilt from the models' own definitions
(so the benchmark measures the shipped indexes). The metrics table (what
the writer would have added for these LLM spans) is summed from them in
SQL, minute rows first and every coarser grain from those. Filling takes a
while; a filled database is detected and reused.

Each page is rendered through Flask's test client (server time: queries,
Python and Jinja, no network) ``--repeat`` times after one warm-up; the
table shows medians. The dashboard's ranges end at the newest trace (the
rows are as old as the fill), as custom ranges that get the presets'
buckets. ``--export`` then downloads every trace as CSV, streamed.

Usage::

    python bench/ui_pages.py [--database-url postgresql+psycopg2://...]
        [--traces 1000000] [--fill-only] [--repeat 7] [--only dashboard] [--export]

Without ``--database-url`` the database ``llm_logs_bench_ui`` is created
(once) on the local server (``LLM_LOGS_BENCH_POSTGRES``, default
postgres@127.0.0.1:5432) and kept for the next run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time
import uuid

import sqlalchemy as sa
from alembic import command
from benchdb import bucket_start
from benchdb import kept_database
from flask import Flask
from pagetimes import time_pages
from pagetimes import ui_app

from flask_llm_logs import migrations
from flask_llm_logs.models import Score
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.models import metrics_table
from flask_llm_logs.models.metrics import MEASURES
from flask_llm_logs.tracing import aggregate
from flask_llm_logs.tracing import latency

DATABASE = "llm_logs_bench_ui"
SPANS_PER_TRACE = 5
BIG_TRACE_SPANS = 1_000
#: The trace of 1,000 spans; the newest of all, so it is also on the first page.
BIG_TRACE_ID = uuid.UUID("00000000-0000-7000-8000-000000000001")
#: Matches one span in 10,000 (500 in all): the selective search.
RARE_WORD = "quasar"

FILL_TRACES = """
INSERT INTO llm_logs_traces (
    id, name, status, error, metadata, input_tokens, output_tokens, cached_tokens,
    reasoning_tokens, cost, duration_ms, spans_count, models, prompt_version_id,
    started_at, completed_at, created_at, tags, cache_write_tokens)
SELECT
    md5('t' || i)::uuid,
    (ARRAY['strategy_analysis', 'risk_assessment', 'support_reply', 'summarise_report',
           'classify_ticket', 'extract_entities', 'translate', 'rag_answer'])[1 + i % 8],
    CASE WHEN i % 50 = 0 THEN 'error' WHEN i % 997 = 0 THEN 'running' ELSE 'completed' END,
    CASE WHEN i % 50 = 0 THEN 'RateLimitError: slow down' END,
    jsonb_build_object('user', 'u' || (i % 1000), 'strategy_id', i % 500),
    1200 + i % 800, 300 + i % 200, (i % 4) * 256, 0,
    0.0004 + (i % 100) * 0.00001, 800 + i % 3000, {spans},
    CASE WHEN i % 3 = 0 THEN '["gpt-4.1-mini"]'::jsonb
         WHEN i % 3 = 1 THEN '["gpt-4.1"]'::jsonb
         ELSE '["gpt-4.1-mini", "text-embedding-3-small"]'::jsonb END,
    CASE WHEN i % 10 = 0 THEN 1 + i % 20 END,
    now() - i * interval '2.592 seconds',
    now() - i * interval '2.592 seconds' + interval '2 seconds',
    now() - i * interval '2.592 seconds',
    '[]'::jsonb, 0
FROM generate_series(1, {traces}) AS i
"""

FILL_SPANS = """
INSERT INTO llm_logs_spans (
    id, trace_id, parent_id, name, kind, operation, model, provider, input, output,
    input_tokens, output_tokens, cached_tokens, reasoning_tokens, cost, duration_ms,
    time_to_first_token_ms, status, error, metadata, started_at, completed_at, created_at,
    search)
SELECT *, {search_words} FROM (SELECT
    md5('s' || s)::uuid,
    md5('t' || (s / {per_trace}))::uuid,
    CASE WHEN s % {per_trace} = 0 THEN NULL ELSE md5('s' || (s - s % {per_trace}))::uuid END,
    CASE WHEN s % {per_trace} = 0 THEN 'pipeline' ELSE 'chat gpt-4.1-mini' END,
    CASE WHEN s % {per_trace} = 0 THEN 'custom' ELSE 'llm' END,
    CASE WHEN s % {per_trace} = 0 THEN NULL ELSE 'chat' END,
    CASE WHEN s % {per_trace} = 0 THEN NULL ELSE 'gpt-4.1-mini' END,
    CASE WHEN s % {per_trace} = 0 THEN NULL ELSE 'openai' END,
    jsonb_build_array(
        jsonb_build_object('role', 'system', 'content', 'You analyse trading strategies.'),
        jsonb_build_object('role', 'user', 'content',
            'Analyse ' || (ARRAY['momentum', 'breakout', 'mean reversion', 'carry',
                                 'pairs trading', 'volatility', 'trend', 'arbitrage'])[1 + s % 8]
            || ' strategy number ' || s
            || CASE WHEN s % 10000 = 7 THEN ' near the {rare} cluster' ELSE '' END
            || ' on the 4h timeframe and list its risks.')) AS input,
    jsonb_build_object('role', 'assistant', 'content',
        '**Summary:** the strategy ' || s || ' buys breakouts and exits at 2 ATR.'
        || E'\\n\\n- drawdown 12%\\n- win rate 41%\\n- sharpe 1.3') AS output,
    400 + s % 300, 100 + s % 80, (s % 4) * 64, 0, 0.0001, 120 + s % 900, 60,
    'completed', NULL, '{{}}'::jsonb,
    now() - (s / {per_trace}) * interval '2.592 seconds' + (s % {per_trace}) * interval '0.2 s',
    now() - (s / {per_trace}) * interval '2.592 seconds' + (s % {per_trace}) * interval '0.2 s'
        + interval '0.15 s',
    now()
FROM generate_series({per_trace}, ({traces} + 1) * {per_trace} - 1) AS s) AS spans
"""

FILL_BIG_TRACE = """
INSERT INTO llm_logs_traces (
    id, name, status, metadata, input_tokens, output_tokens, cached_tokens,
    reasoning_tokens, cost, duration_ms, spans_count, models, started_at, completed_at,
    created_at, tags, cache_write_tokens)
VALUES (:id, 'big_pipeline', 'completed', '{{"user": "bench"}}', 400000, 90000, 64000, 0,
        0.5, 200000, :spans, '["gpt-4.1-mini"]', now() + interval '1 minute',
        now() + interval '5 minutes', now(), '[]', 0);
INSERT INTO llm_logs_spans (
    id, trace_id, parent_id, name, kind, operation, model, provider, input, output,
    input_tokens, output_tokens, cached_tokens, cost, duration_ms, status, metadata,
    started_at, completed_at, created_at, search)
SELECT *, {search_words} FROM (SELECT
    md5('big' || s)::uuid, CAST(:id AS uuid),
    CASE WHEN s % 10 = 0 THEN NULL ELSE md5('big' || (s - s % 10))::uuid END,
    CASE WHEN s % 10 = 0 THEN 'step ' || s / 10 ELSE 'chat gpt-4.1-mini' END,
    CASE WHEN s % 10 = 0 THEN 'custom' WHEN s % 10 = 9 THEN 'tool' ELSE 'llm' END,
    CASE WHEN s % 10 = 0 THEN NULL ELSE 'chat' END,
    'gpt-4.1-mini', 'openai',
    jsonb_build_array(
        jsonb_build_object('role', 'system', 'content', 'You analyse trading strategies.'),
        jsonb_build_object('role', 'user', 'content', 'Question ' || s || ': what next?'))
        AS input,
    jsonb_build_object('role', 'assistant', 'content',
        '**Answer ' || s || E':** hold.\\n\\n- reason one\\n- reason two `code`') AS output,
    400, 90, 64, 0.0005, 150 + s % 200, 'completed', '{{}}'::jsonb,
    now() + interval '1 minute' + s * interval '0.2 s',
    now() + interval '1 minute' + s * interval '0.2 s' + interval '0.15 s',
    now()
FROM generate_series(0, :spans - 1) AS s) AS spans;
"""

#: Who and where each trace ran: sessions of eight consecutive traces, each
#: session one user's; one trace in a thousand tagged "vip" (the rare tag).
FILL_CONTEXT = """
UPDATE llm_logs_traces SET
    user_id = 'user-' || ((i / 8) % 5000),
    session_id = 'session-' || (i / 8),
    tags = CASE WHEN i % 1000 = 0 THEN '["vip", "beta"]'::jsonb
                WHEN i % 10 = 0 THEN '["beta"]'::jsonb
                WHEN i % 3 = 0 THEN '["support"]'::jsonb
                ELSE '[]'::jsonb END,
    environment = CASE WHEN i % 20 = 0 THEN 'staging' ELSE 'production' END
FROM generate_series(1, {traces}) AS i
WHERE llm_logs_traces.id = md5('t' || i)::uuid
"""

FILL_SCORES = """
INSERT INTO llm_logs_scores (id, trace_id, name, value, comment, source, created_at)
SELECT md5('helpful' || i)::uuid, md5('t' || i)::uuid, 'helpful', (i / 10) % 2,
    CASE WHEN i % 20 = 0 THEN 'thumbs up' END, 'user', now() - i * interval '2.592 seconds'
FROM generate_series(10, {traces}, 10) AS i;
INSERT INTO llm_logs_scores (id, trace_id, name, value, source, created_at)
SELECT md5('accuracy' || i)::uuid, md5('t' || i)::uuid, 'accuracy', (i % 7) / 7.0, 'eval',
    now() - i * interval '2.592 seconds'
FROM generate_series(5, {traces}, 1000) AS i;
"""

#: The writer cuts a span's search words in Python (``tracing.search``); for
#: the plain words of these rows, PostgreSQL's ``simple`` parser finds the same.
SEARCH_WORDS = "strip(to_tsvector('simple', input::text || ' ' || output::text))"

FILL_BATCH_REQUESTS = """
INSERT INTO llm_logs_batches (id, purpose, provider, model, claim_token, status,
    request_count, metadata, provider_metadata, claimed_at, created_at, updated_at)
VALUES (1, 'nightly_scoring', 'openai_responses', 'gpt-4.1-mini', 'bench', 'completed',
    10000, '{{}}', '{{}}', now(), now(), now());
INSERT INTO llm_logs_batch_requests (batch_id, custom_id, purpose, status, model, payload,
    routing, trace_id, attempts, created_at, updated_at)
SELECT 1, 'bench-' || i, 'nightly_scoring', 'completed', 'gpt-4.1-mini', '{{}}', '{{}}',
    md5('t' || i)::uuid, 1, now(), now()
FROM generate_series(1, {traces}, 100) AS i;
"""


#: The metrics table's dimensions as the writer derives them from a span and its trace.
METRIC_DIMENSIONS = {
    "model": "coalesce(s.model, '')",
    "provider": "coalesce(s.provider, '')",
    "name": "coalesce(t.name, '')",
    "prompt_version_id": "coalesce(CAST(s.metadata ->> 'prompt_version_id' AS integer), 0)",
    "user_id": "coalesce(t.user_id, '')",
    "environment": "coalesce(t.environment, '')",
    "status": "coalesce(s.status, '')",
}
#: ``latency.bin_of`` in SQL.
LATENCY_BIN = (
    "CASE WHEN s.duration_ms IS NULL THEN NULL WHEN s.duration_ms < 1 THEN 0"
    f" ELSE least(CAST(floor(ln(s.duration_ms) / ln({latency.GROWTH})) AS integer) + 1,"
    f" {latency.TOP_BIN}) END"
)


def fill_metrics(connection: sa.Connection) -> None:
    """The metrics table from the stored LLM spans, in SQL: what the writer adds as it
    stores them (the rows here bypass the writer). Minute rows first, every coarser
    grain summed from them."""
    dimensions = list(METRIC_DIMENSIONS)
    measures = ", ".join([*MEASURES, *latency.COLUMNS])
    into = f"INSERT INTO llm_logs_metrics (grain, bucket, {', '.join(dimensions)}, {measures})"
    connection.execute(sa.text("SET LOCAL TIME ZONE 'UTC'"))
    bins = ", ".join(f"count(*) FILTER (WHERE bin = {n})" for n in range(latency.BINS))
    sums = ", ".join(f"coalesce(sum({name}), 0)" for name in MEASURES[2:])
    connection.execute(
        sa.text(
            f"{into} SELECT {aggregate.MINUTE.number}, date_trunc('minute', started_at),"
            f" {', '.join(dimensions)}, count(*), count(*) FILTER (WHERE status = 'error'),"
            f" {sums}, {bins} FROM (SELECT s.started_at, s.input_tokens, s.output_tokens,"
            " s.cached_tokens, s.cache_write_tokens, s.cost, s.duration_ms AS duration_ms_sum,"
            f" {LATENCY_BIN} AS bin,"
            f" {', '.join(f'{sql} AS {name}' for name, sql in METRIC_DIMENSIONS.items())}"
            " FROM llm_logs_spans s LEFT JOIN llm_logs_traces t ON t.id = s.trace_id"
            " WHERE s.kind = 'llm') AS calls"
            f" GROUP BY date_trunc('minute', started_at), {', '.join(dimensions)}"
        )
    )
    summed = ", ".join(f"sum({name})" for name in (*MEASURES, *latency.COLUMNS))
    for grain in aggregate.GRAINS[1:]:
        kept = [name for name in dimensions if name in grain.keeps]
        values = [name if name in kept else repr(aggregate.EMPTY[name]) for name in dimensions]
        connection.execute(
            sa.text(
                f"{into} SELECT {grain.number}, {bucket_start(grain.width)},"
                f" {', '.join(values)}, {summed} FROM llm_logs_metrics"
                f" WHERE grain = {aggregate.MINUTE.number}"
                f" GROUP BY {', '.join([bucket_start(grain.width), *kept])}"
            )
        )


def fill(url: str, traces: int) -> None:
    """Make the rows unless a previous run already did."""
    began = time.perf_counter()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        filled = sa.inspect(connection).has_table(Trace.__tablename__) and (
            connection.execute(sa.select(Trace.id).limit(1)).first() is not None
        )
        if filled and not sa.inspect(connection).has_table(metrics_table.name):
            # The migration's backfill adds spans through Python, a few thousand a
            # minute on the loaded bench machine: hours for these 4,000,000.
            print("database filled before the metrics table; adding it by SQL")
            metrics_table.create(connection)
            command.stamp(migrations.alembic_config(connection), "0006")
            fill_metrics(connection)
            print(f"metrics: {time.perf_counter() - began:.0f} s")
        migrations.upgrade(connection)
        if filled:
            if connection.execute(sa.select(Score.id).limit(1)).first() is None:
                print("database filled before users, sessions and scores; adding them")
                fill_context(connection, traces)
            print("database already filled; reusing it")
            return
    indexes = [*Trace.__table__.indexes, *Span.__table__.indexes, *Score.__table__.indexes]
    with engine.begin() as connection:
        connection.execute(sa.text("SET maintenance_work_mem = '1GB'"))
        for index in indexes:
            index.drop(connection)
        connection.execute(sa.text(FILL_TRACES.format(traces=traces, spans=SPANS_PER_TRACE)))
        print(f"traces: {time.perf_counter() - began:.0f} s")
        spans_sql = FILL_SPANS.format(
            traces=traces, per_trace=SPANS_PER_TRACE, rare=RARE_WORD, search_words=SEARCH_WORDS
        )
        connection.execute(sa.text(spans_sql))
        print(f"spans: {time.perf_counter() - began:.0f} s")
        big_trace_sql = FILL_BIG_TRACE.format(search_words=SEARCH_WORDS)
        connection.execute(sa.text(big_trace_sql), {"id": BIG_TRACE_ID, "spans": BIG_TRACE_SPANS})
        connection.execute(sa.text(FILL_BATCH_REQUESTS.format(traces=traces)))
        connection.execute(sa.text(FILL_CONTEXT.format(traces=traces)))
        connection.execute(sa.text(FILL_SCORES.format(traces=traces)))
        fill_metrics(connection)
        print(f"metrics: {time.perf_counter() - began:.0f} s")
        for index in indexes:
            index.create(connection)
            print(f"index {index.name}: {time.perf_counter() - began:.0f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))
    print(f"filled in {time.perf_counter() - began:.0f} s")
    engine.dispose()


def fill_context(connection: sa.Connection, traces: int) -> None:
    """Users, sessions, tags, environments and scores for a database filled without them."""
    connection.execute(sa.text(FILL_CONTEXT.format(traces=traces)))
    connection.execute(sa.text(FILL_SCORES.format(traces=traces)))
    connection.execute(sa.text("ANALYZE"))


def pages(app: Flask, traces: int) -> dict[str, str]:
    """The pages to time, by label; the deep page's cursor comes from the data."""
    prefix = app.config["LLM_LOGS_URL_PREFIX"]
    with app.extensions["llm_logs"].engine.connect() as connection:
        deep = connection.execute(
            sa.select(Trace.started_at, Trace.id)
            .order_by(Trace.started_at.desc(), Trace.id.desc())
            .offset(traces // 2)
            .limit(1)
        ).one()
        big_span = connection.execute(
            sa.select(Span.id).where(Span.trace_id == BIG_TRACE_ID).order_by(Span.id).limit(1)
        ).scalar_one()
        newest = connection.execute(
            sa.select(sa.func.max(Trace.started_at)).where(Trace.id != BIG_TRACE_ID)
        ).scalar_one()
    from flask_llm_logs.web.params import encode_cursor

    return {
        **dashboard_pages(prefix, newest),
        "traces, first page": f"{prefix}/traces",
        "traces, filtered (status=error, model)": (f"{prefix}/traces?status=error&model=gpt-4.1"),
        "traces, filtered (metadata user=u42)": f"{prefix}/traces?meta_key=user&meta_value=u42",
        "traces, filtered (prompt version 11)": f"{prefix}/traces?prompt_version=11",
        f"traces, deep keyset page (row {traces // 2:,})": (
            f"{prefix}/traces?after={encode_cursor(deep.started_at, deep.id)}"
        ),
        f"text search ({RARE_WORD!r}, 500 matching spans)": f"{prefix}/traces?q={RARE_WORD}",
        "text search ('momentum', 625,000 matching spans)": f"{prefix}/traces?q=momentum",
        "traces of a user (~200)": f"{prefix}/traces?user=user-42",
        "traces of a session (8)": f"{prefix}/traces?session=session-4242",
        "traces, tag=beta (10%)": f"{prefix}/traces?tag=beta",
        "traces, tag=vip (0.1%)": f"{prefix}/traces?tag=vip",
        "traces, environment=staging (5%)": f"{prefix}/traces?environment=staging",
        "traces, score helpful >= 1 (5%)": f"{prefix}/traces?score=helpful&score_min=1",
        "traces, score accuracy (0.1%)": f"{prefix}/traces?score=accuracy",
        "traces, no score named helpful (90%)": f"{prefix}/traces?no_score=helpful",
        "sessions, first page": f"{prefix}/sessions",
        "sessions of a user": f"{prefix}/sessions?user=user-42",
        "a session (8 traces, 32 LLM calls)": f"{prefix}/sessions/session-4242",
        "a user (~200 traces, 25 sessions)": f"{prefix}/users/user-42",
        "trace page, 1,000 spans": f"{prefix}/traces/{BIG_TRACE_ID}",
        "a span of it opened in the tree": f"{prefix}/traces/{BIG_TRACE_ID}/spans/{big_span}/body",
        "its span page": f"{prefix}/traces/{BIG_TRACE_ID}/spans/{big_span}",
    }


#: The dashboard's ranges, as custom ranges ending at the newest trace (the rows were
#: made at fill time, not now); each gets the bucket its preset has.
DASHBOARD_RANGES = {
    "last hour": dt.timedelta(hours=1),
    "24 hours": dt.timedelta(days=1),
    "7 days": dt.timedelta(days=7),
    "30 days": dt.timedelta(days=30),
}
BREAKDOWN_KEYS = ("model", "provider", "name", "prompt", "prompt_version", "user", "environment")


def dashboard_pages(prefix: str, newest: dt.datetime) -> dict[str, str]:
    """The dashboard at every range, narrowed by each filter, and every breakdown's CSV;
    the traces list's totals."""
    until = newest.astimezone(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(seconds=1)

    def ranged(length: dt.timedelta) -> str:
        return f"range=custom&since={(until - length).isoformat()}&until={until.isoformat()}"

    month = ranged(DASHBOARD_RANGES["30 days"])
    pages = {
        f"dashboard, {label}": f"{prefix}/dashboard?{ranged(length)}"
        for label, length in DASHBOARD_RANGES.items()
    }
    for query in (
        "environment=staging",
        "user=user-42",
        "name=rag_answer",
        "model=gpt-4.1-mini",
        "tag=vip",
        "tag=beta",
    ):
        pages[f"dashboard, 30 days, {query}"] = f"{prefix}/dashboard?{month}&{query}"
    for key in BREAKDOWN_KEYS:
        pages[f"breakdown CSV, 30 days, {key}"] = f"{prefix}/dashboard/{key}.csv?{month}"
    for query in ("", "status=error", "user=user-42", "tag=beta", "q=quasar"):
        pages[f"traces list totals {query or '(no filter)'}"] = (
            f"{prefix}/traces/totals?part=1&{query}"
        )
    return pages


def time_export(app: Flask, path: str) -> None:
    """Download ``path`` (a CSV) whole, streamed: time to the first chunk, in all, and how
    much the process's peak memory grew meanwhile."""
    client = app.test_client()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    response = client.get(path, buffered=False)
    first = None
    size = lines = 0
    for chunk in response.response:
        if first is None:
            first = time.perf_counter() - began
        size += len(chunk)
        lines += chunk.count(b"\n")
    total = time.perf_counter() - began
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(
        f"\n{path}: {lines - 1:,} rows, {size / 2**20:,.0f} MiB, first chunk after"
        f" {(first or 0) * 1000:.0f} ms, all in {total:.1f} s, peak memory grew {grown:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--fill-only", action="store_true")
    parser.add_argument("--only", help="time only the pages whose label contains this")
    parser.add_argument("--export", action="store_true", help="download every trace as CSV")
    args = parser.parse_args()
    url = args.database_url or kept_database(DATABASE)
    fill(url, args.traces)
    if not args.fill_only:
        with ui_app("bench_ui", url) as app:
            chosen = {
                label: path
                for label, path in pages(app, args.traces).items()
                if args.only is None or args.only in label
            }
            time_pages(app, chosen, args.repeat, label_width=48, size_width=6)
            if args.export:
                time_export(app, app.config["LLM_LOGS_URL_PREFIX"] + "/traces.csv")


if __name__ == "__main__":
    main()
