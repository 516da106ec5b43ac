"""Time partitions on PostgreSQL: made ahead, the default partition drained, dropped by the
purge, and the queries that read only the partitions they need."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

import flask_llm_logs
from flask_llm_logs import partitions
from flask_llm_logs.config import ConfigurationError
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.models import Score
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.models.base import id_made_at
from flask_llm_logs.state import get_state
from flask_llm_logs.tracing.retention import purge_old_traces
from flask_llm_logs.web.prompt_queries import recent_traces
from flask_llm_logs.web.prompt_results import labelled_results
from flask_llm_logs.web.session_queries import list_sessions
from flask_llm_logs.web.session_queries import session_detail
from flask_llm_logs.web.session_queries import user_summary
from flask_llm_logs.web.span_metrics import span_metrics
from flask_llm_logs.web.trace_queries import TraceFilters
from flask_llm_logs.web.trace_queries import export_traces
from flask_llm_logs.web.trace_queries import find_trace
from flask_llm_logs.web.trace_queries import list_traces
from flask_llm_logs.web.trace_queries import trace_detail
from tests.helpers.prompts import make_greeting
from tests.helpers.web import csrf_token
from tests.helpers.writer import span_record
from tests.helpers.writer import stored
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

UTC = dt.timezone.utc


def names(app: Flask, table: str) -> list[str]:
    with get_state(app).engine.connect() as connection:
        return [p.name for p in partitions.partitions(connection, table)]


def in_default(app: Flask, table: str) -> int:
    with get_state(app).engine.connect() as connection:
        return connection.scalar(sa.text(f"SELECT count(*) FROM {table}_default")) or 0


def store_trace(app: Flask, started: dt.datetime, spans: int = 2, **fields: Any) -> uuid.UUID:
    """A trace with ``spans`` LLM spans, through the writer, its id made at ``started`` as
    the recorder's are; ``fields``: its record's."""
    at = started.timestamp()
    trace = trace_record(id_made_at(started), started_at=at, status="completed", **fields)
    submit(app, trace, *(span_record(trace.id, started_at=at, kind="llm") for _ in range(spans)))
    assert flask_llm_logs.flush(10)
    return trace.id


def old_month(app: Flask) -> tuple[dt.datetime, sa.Engine, dt.datetime]:
    """Now, the engine, and a time 95 days ago, whose month has its partitions made."""
    now = dt.datetime.now(UTC)
    engine = get_state(app).engine
    old = now - dt.timedelta(days=95)
    partitions.maintain(engine, "month", now=old)
    return now, engine, old


def drop_partitions_from(app: Flask, start: dt.datetime) -> None:
    """Drop every partition starting at ``start`` or later: as if maintenance never ran."""
    with get_state(app).engine.begin() as connection:
        for table in partitions.TABLES:
            for p in partitions.partitions(connection, table):
                if p.start >= start:
                    connection.execute(sa.text(f"DROP TABLE {p.name}"))


def test_the_tables_are_partitioned_by_time(app: Flask) -> None:
    now = dt.datetime.now(UTC)
    this_month = partitions.period_start(now, "month")
    with get_state(app).engine.connect() as connection:
        for table in partitions.TABLES:
            assert partitions.is_partitioned(connection, table)
            assert partitions.partition_name(table, this_month, "month") in names(app, table)


def test_the_writer_makes_the_coming_partitions_when_it_starts(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(LLM_LOGS_PARTITION_INTERVAL="day")
    today = partitions.period_start(dt.datetime.now(UTC), "day")
    with app.app_context():
        drop_partitions_from(app, partitions.period_start(today, "month"))
        assert not any(name.endswith(f"{today:%Y%m%d}") for name in names(app, "llm_logs_spans"))

        store_trace(app, dt.datetime.now(UTC))

        days = [today + dt.timedelta(days=n) for n in range(partitions.AHEAD + 1)]
        for table in partitions.TABLES:
            for day in days:
                assert partitions.partition_name(table, day, "day") in names(app, table)
        # Stored in today's partition, not the default one.
        assert in_default(app, "llm_logs_spans") == 0
        # Made with room for the writer's updates on the metrics table's pages only.
        with get_state(app).engine.connect() as connection:
            query = sa.text("SELECT reloptions FROM pg_class WHERE relname = :name")
            for table in ("llm_logs_metrics", "llm_logs_spans"):
                name = partitions.partition_name(table, today, "day")
                options = connection.scalar(query, {"name": name})
                assert options == (["fillfactor=70"] if table == "llm_logs_metrics" else None)


def test_rows_without_a_partition_wait_in_the_default_one_then_move(app: Flask) -> None:
    now = dt.datetime.now(UTC)
    this_month = partitions.period_start(now, "month")
    store_trace(app, now)  # the writer started, and made the partitions
    drop_partitions_from(app, this_month)  # as if it could not have
    trace_id = store_trace(app, now)
    # Nothing lost: the rows wait in the default partitions.
    assert in_default(app, "llm_logs_traces") == 1
    assert in_default(app, "llm_logs_spans") == 2
    assert in_default(app, "llm_logs_metrics") > 0

    made = partitions.maintain(get_state(app).engine, "month")

    assert partitions.partition_name("llm_logs_spans", this_month, "month") in made
    for table in partitions.TABLES:
        assert in_default(app, table) == 0
    [trace] = stored(app, Trace, id=trace_id)
    assert trace.spans_count == 2
    assert len(stored(app, Span, trace_id=trace_id)) == 2


def test_a_lock_not_granted_leaves_the_round_for_the_next(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A purge dropping partitions holds the default one's lock: the writer's
    maintenance gives up after ``LOCK_TIMEOUT`` (it runs before the first batch)."""
    engine = get_state(app).engine
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "100ms")
    with engine.connect() as holder:
        holder.execute(sa.text("LOCK TABLE llm_logs_spans_default IN ACCESS EXCLUSIVE MODE"))
        in_a_year = dt.datetime.now(UTC) + dt.timedelta(days=365)
        assert partitions.maintain(engine, "month", now=in_a_year) == []
        holder.rollback()
    made = partitions.maintain(engine, "month", now=in_a_year)
    assert partitions.partition_name("llm_logs_spans", in_a_year, "month") in made


def test_rows_older_than_the_retention_stay_in_the_default_partition(app: Flask) -> None:
    old = dt.datetime.now(UTC) - dt.timedelta(days=200)
    store_trace(app, old)
    keep_after = dt.datetime.now(UTC) - dt.timedelta(days=30)

    made = partitions.maintain(get_state(app).engine, "month", keep_after=keep_after)

    assert not [name for name in made if name.endswith(f"{old:%Y%m}")]
    assert in_default(app, "llm_logs_traces") == 1


def test_the_purge_drops_old_partitions_and_keeps_what_batches_link_to(app: Flask) -> None:
    now = dt.datetime.now(UTC)
    engine = get_state(app).engine
    old = now - dt.timedelta(days=95)
    straddling = now - dt.timedelta(days=31)
    kept = now - dt.timedelta(days=2)
    made = partitions.maintain(engine, "month", now=old)  # the old month's partition
    assert made
    dropped_ids = [store_trace(app, old) for _ in range(3)]
    linked = store_trace(app, old)
    straddling_id = store_trace(app, straddling)
    kept_id = store_trace(app, kept)
    session = get_state(app).session
    for trace_id, created in ((linked, old), (dropped_ids[0], old), (kept_id, kept)):
        session.add(Score(trace_id=trace_id, name="ok", value=1.0, created_at=created))
    session.add(BatchRequest(custom_id="req_1", purpose="p", model="m", trace_id=linked))
    session.commit()
    old_partition = partitions.partition_name("llm_logs_traces", old, "month")
    assert old_partition in names(app, "llm_logs_traces")

    deleted = purge_old_traces(30)

    assert deleted == 4  # three in the dropped partition, one by chunks
    assert old_partition not in names(app, "llm_logs_traces")
    assert partitions.partition_name("llm_logs_spans", old, "month") not in names(
        app, "llm_logs_spans"
    )
    remaining = {t.id for t in stored(app, Trace)}
    assert remaining == {linked, kept_id}
    assert straddling_id not in remaining
    # The linked trace keeps its spans and scores (now in the default partitions).
    assert len(stored(app, Span, trace_id=linked)) == 2
    assert [s.trace_id for s in stored(app, Score, trace_id=linked)] == [linked]
    assert stored(app, Score, trace_id=dropped_ids[0]) == []
    assert len(stored(app, Score, trace_id=kept_id)) == 1
    with engine.connect() as connection:
        [request_trace] = connection.scalars(sa.select(BatchRequest.trace_id))
        assert request_trace == linked
    # The metrics of the old months are gone (a bucket sums many traces:
    # none is kept for a link), the recent ones kept.
    since = now - dt.timedelta(days=120)
    assert sum(row["calls"] for row in flask_llm_logs.metrics(since=since)) == 2
    # The maintenance leaves the linked rows where they are.
    partitions.maintain(engine, "month", keep_after=now - dt.timedelta(days=30))
    assert {t.id for t in stored(app, Trace)} == {linked, kept_id}


def test_a_purge_stopped_between_detach_and_drop_leaves_nothing_to_the_next(
    app: Flask,
) -> None:
    now, engine, old = old_month(app)
    store_trace(app, old)
    kept_id = store_trace(app, now - dt.timedelta(days=2))
    # What a purge that died after its detach leaves: plain tables, in no table.
    cutoff = now - dt.timedelta(days=30)
    leftovers = [partitions.partition_name(table, old, "month") for table in partitions.TABLES]
    for table in partitions.TABLES:
        assert partitions.detach_before(engine, table, cutoff).names

    assert purge_old_traces(30) == 0  # a leftover's rows are not counted

    with engine.connect() as connection:
        for name in leftovers:
            assert connection.scalar(sa.text("SELECT to_regclass(:n)"), {"n": name}) is None
    assert {t.id for t in stored(app, Trace)} == {kept_id}


@contextlib.contextmanager
def capture(engine: sa.Engine, verbs: tuple[str, ...] = ("SELECT",)) -> Iterator[list[str]]:
    """The statements run on ``engine`` in the block that start with one of ``verbs``,
    with their values."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith(verbs):
            statements.append(cursor.mogrify(statement, parameters).decode())

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def scanned(app: Flask, statements: list[str], *, run: bool = False) -> set[str]:
    """The partitions of the traces and spans tables that ``statements`` read (EXPLAIN).

    With ``run``, as they ran (EXPLAIN ANALYZE): a partition pruned while the
    statement ran (by a value a subquery found) is never executed.
    """
    session = get_state(app).session
    explain = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)" if run else "EXPLAIN"
    found: set[str] = set()
    for statement in statements:
        for (line,) in session.execute(sa.text(f"{explain} {statement}")):
            if "(never executed)" not in line:
                found.update(
                    word for word in line.replace("(", " ").split() if partitions.is_part(word)
                )
    return found


def test_the_trace_page_and_the_list_read_only_their_partitions(app: Flask) -> None:
    now = dt.datetime.now(UTC)
    engine = get_state(app).engine
    for months in (2, 4):
        partitions.maintain(engine, "month", now=now - dt.timedelta(days=31 * months))
    trace_id = store_trace(app, now)
    session = get_state(app).session

    with capture(engine) as statements:
        detail = trace_detail(session, trace_id)
    assert len(detail.nodes) == 2
    read = scanned(app, statements)
    this_month = partitions.period_start(now, "month")
    old = [
        partitions.partition_name(
            t, partitions.period_start(now - dt.timedelta(days=62), "month"), "month"
        )
        for t in ("llm_logs_traces", "llm_logs_spans")
    ]
    assert partitions.partition_name("llm_logs_spans", this_month, "month") in read
    assert not read & set(old)

    with capture(engine) as statements:
        page = list_traces(
            session, TraceFilters(since=(now - dt.timedelta(days=1)).replace(tzinfo=None)), 10
        )
    assert [t.id for t in page.traces] == [trace_id]
    assert not scanned(app, statements) & set(old)
    assert find_trace(session, trace_id) is not None


def test_metrics_read_only_the_partitions_of_their_range(app: Flask) -> None:
    now = dt.datetime.now(UTC)
    engine = get_state(app).engine
    partitions.maintain(engine, "month", now=now - dt.timedelta(days=62))
    store_trace(app, now)
    old = partitions.partition_name(
        "llm_logs_metrics", partitions.period_start(now - dt.timedelta(days=62), "month"), "month"
    )
    since = now - dt.timedelta(hours=1)
    with capture(engine) as statements:
        rows = flask_llm_logs.metrics(since=since)
    assert rows[0]["calls"] == 2
    read = scanned(app, statements)
    assert old not in read
    assert any(name.startswith("llm_logs_metrics_p") for name in read)


def add_traces(app: Flask, started: dt.datetime, count: int, **fields: Any) -> list[Trace]:
    """``count`` traces a second apart from ``started`` on, stored at once (not by the writer)."""
    moments = [started + dt.timedelta(seconds=n) for n in range(count)]
    traces = [
        Trace(id=id_made_at(at), name="t", status="completed", started_at=at, **fields)
        for at in moments
    ]
    session = get_state(app).session
    session.add_all(traces)
    session.commit()
    return traces


#: How old the traces are that the pages below must not read.
OLD = dt.timedelta(days=62)


def old_partitions(app: Flask, now: dt.datetime) -> set[str]:
    """The partitions of the month two months back, made, by name."""
    partitions.maintain(get_state(app).engine, "month", now=now - OLD)
    start = partitions.period_start(now - OLD, "month")
    return {partitions.partition_name(table, start, "month") for table in partitions.TABLES}


def old_and_recent(
    app: Flask, old_count: int, recent_count: int, **fields: Any
) -> tuple[set[str], list[Trace]]:
    """The partitions of two months back, made, with ``old_count`` traces in them; and
    ``recent_count`` traces of an hour ago."""
    now = dt.datetime.now(UTC)
    old = old_partitions(app, now)
    add_traces(app, now - OLD, old_count, **fields)
    return old, add_traces(app, now - dt.timedelta(hours=1), recent_count, **fields)


def newest(traces: list[Trace]) -> list[uuid.UUID]:
    """The ids in the lists' order: newest first, then by id."""
    return [t.id for t in sorted(traces, key=lambda t: (t.started_at, t.id), reverse=True)]


def test_the_lists_first_pages_read_the_last_day_when_it_fills_them(app: Flask) -> None:
    old, recent = old_and_recent(app, 3, 5)
    session = get_state(app).session

    with capture(get_state(app).engine) as statements:
        first = list_traces(session, TraceFilters(), 2)
        second = list_traces(session, TraceFilters(after=first.next_after), 2)

    assert [t.id for t in first.traces + second.traces] == newest(recent)[:4]
    assert not scanned(app, statements) & old


def test_the_lists_filters_on_spans_and_scores_read_the_last_days_partitions(app: Flask) -> None:
    old, recent = old_and_recent(app, 1, 3)
    session = get_state(app).session
    for trace in recent:
        at = trace.started_at
        session.add(
            Span(trace_id=trace.id, name="chat", provider="openai", input="needle", started_at=at)
        )
        session.add(Score(trace_id=trace.id, name="ok", value=1.0, created_at=at))
    session.commit()
    for filters in (
        TraceFilters(provider="openai"),
        TraceFilters(score="ok", score_min=0.5),
        TraceFilters(no_score="bad"),
        TraceFilters(q="needle"),
    ):
        with capture(get_state(app).engine) as statements:
            page = list_traces(session, filters, 2)
        assert [t.id for t in page.traces] == newest(recent)[:2], filters
        assert not scanned(app, statements) & old, filters


def test_a_page_the_last_day_does_not_fill_is_the_page_read_at_once(app: Flask) -> None:
    now = dt.datetime.now(UTC)
    old_partitions(app, now)
    traces = add_traces(app, now - OLD, 3) + add_traces(app, now - dt.timedelta(hours=3), 2)
    # A host's clock ahead, and two traces of the same instant (ordered by id).
    traces += add_traces(app, now + dt.timedelta(minutes=5), 1)
    traces += add_traces(app, now - dt.timedelta(days=2), 1)
    traces += add_traces(app, traces[-1].started_at, 1)
    session = get_state(app).session
    for size in range(1, len(traces) + 2):
        shown: list[uuid.UUID] = []
        after = None
        while True:
            page = list_traces(session, TraceFilters(after=after), size)
            shown += [t.id for t in page.traces]
            if (after := page.next_after) is None:
                break
        assert shown == newest(traces), size


def test_the_sessions_pages_read_the_last_day_when_it_fills_them(app: Flask) -> None:
    now = dt.datetime.now(UTC)
    old = old_partitions(app, now)
    hour_ago = now - dt.timedelta(hours=1)
    traces = add_traces(app, now - OLD, 2, session_id="old", user_id="ana")
    traces += add_traces(app, now - OLD, 1, session_id="both", user_id="ana")
    traces += add_traces(app, hour_ago, 1, session_id="both", user_id="ana")
    traces += add_traces(app, hour_ago - dt.timedelta(minutes=1), 1, session_id="s", user_id="ana")
    for n in range(4):
        traces += add_traces(app, hour_ago + dt.timedelta(minutes=n), 2, session_id=f"s{n}")
    session = get_state(app).session

    with capture(get_state(app).engine) as statements:
        page = list_sessions(session, 2)
        list_sessions(session, 2, after=page.next_after)
        list_sessions(session, 1, user_id="ana")
    assert [s.session_id for s in page.sessions] == ["s3", "s2"]
    # The sessions listed are found in the last day; what they add up to is
    # their every trace's (stored without the writer, they have no time bounds:
    # the summaries' GROUP BY reads each partition's index).
    listing = [statement for statement in statements if "GROUP BY" not in statement]
    assert not scanned(app, listing) & old

    for user_id in (None, "ana"):
        mine = [t for t in traces if user_id is None or t.user_id == user_id]
        lasts: dict[str | None, Trace] = {}
        for trace in sorted(mine, key=lambda t: (t.started_at, t.id)):
            lasts[trace.session_id] = trace
        expected = [
            t.session_id
            for t in sorted(lasts.values(), key=lambda t: (t.started_at, t.id), reverse=True)
        ]
        for size in (1, 2, 3, 10):
            shown: list[str] = []
            after = None
            while True:
                page = list_sessions(session, size, user_id=user_id, after=after)
                shown += [s.session_id for s in page.sessions]
                if (after := page.next_after) is None:
                    break
            assert shown == expected, (user_id, size)


def test_a_session_reads_the_partitions_of_its_time(app: Flask) -> None:
    now = dt.datetime.now(UTC)
    old = old_partitions(app, now)
    add_traces(app, now - OLD, 1, session_id="other")
    traces = add_traces(app, now - dt.timedelta(hours=1), 3, session_id="chat")
    session = get_state(app).session
    session.add_all(
        [Span(trace_id=t.id, name="chat", kind="llm", started_at=t.started_at) for t in traces]
    )
    session.commit()

    with capture(get_state(app).engine) as statements:
        detail = session_detail(session, "chat", 10)

    assert [t.id for t in detail.traces] == [t.id for t in traces]
    assert all(len(detail.calls[t.id]) == 1 for t in traces)
    # Stored without the writer, the session has no time bounds: the summary reads
    # every partition (its first trace could be in any).
    [summary, *pages] = statements
    assert "GROUP BY" in summary
    assert not scanned(app, pages) & old


def test_the_totals_of_sessions_and_users_read_the_partitions_of_their_time(app: Flask) -> None:
    now = dt.datetime.now(UTC)
    old = old_partitions(app, now)
    hour_ago = now - dt.timedelta(hours=1)
    store_trace(app, now - OLD, session_id="other", user_id="bo")
    for minutes in (0, 5, 10):
        store_trace(app, hour_ago + dt.timedelta(minutes=minutes), session_id="chat", user_id="ana")
    for minutes in (0, 1):
        store_trace(app, hour_ago + dt.timedelta(minutes=minutes), session_id=f"s{minutes}")
    session, engine = get_state(app).session, get_state(app).engine

    with capture(engine) as detail_statements:
        summary = session_detail(session, "chat", 10).summary
    with capture(engine) as list_statements:
        page = list_sessions(session, 2)  # the last day fills it
    with capture(engine) as user_statements:
        user = user_summary(session, "ana")

    assert (summary.traces, summary.first_at) == (3, hour_ago)
    assert [(s.session_id, s.traces) for s in page.sessions] == [("chat", 3), ("s1", 1)]
    assert (user.traces, user.sessions, user.first_at) == (3, 1, hour_ago)
    # The totals' range comes from the bounds the writer kept, read in the same
    # statement: the old partitions are pruned as it runs.
    for statements in (detail_statements, list_statements, user_statements):
        assert not scanned(app, statements, run=True) & old


def test_the_totals_of_keys_without_bounds_read_every_partition(app: Flask) -> None:
    """Traces stored another way than by the writer (or whose bounds the purge deleted):
    no range, the right totals; a page with one such session has no range either."""
    now = dt.datetime.now(UTC)
    old = old_partitions(app, now)
    hour_ago = now - dt.timedelta(hours=1)
    store_trace(app, hour_ago, session_id="known", user_id="ana")
    add_traces(app, now - OLD, 2, session_id="unknown", user_id="cy")
    add_traces(app, hour_ago + dt.timedelta(minutes=1), 1, session_id="unknown", user_id="cy")
    session = get_state(app).session

    with capture(get_state(app).engine) as statements:
        page = list_sessions(session, 10)
    assert [(s.session_id, s.traces) for s in page.sessions] == [("unknown", 3), ("known", 1)]
    [summaries] = [statement for statement in statements if "GROUP BY" in statement]
    assert scanned(app, [summaries], run=True) & old
    reads: list[Callable[[], int]] = [
        lambda: session_detail(session, "unknown", 10).summary.traces,
        lambda: user_summary(session, "cy").traces,
    ]
    for read in reads:
        with capture(get_state(app).engine) as statements:
            assert read() == 3
        assert scanned(app, statements, run=True) & old


def test_a_prompts_last_traces_read_the_last_day_when_it_fills_them(app: Flask) -> None:
    prompt = make_greeting()
    [version] = prompt.versions
    old, recent = old_and_recent(app, 1, 3, prompt_version_id=version.id)

    with capture(get_state(app).engine) as statements:
        rows = recent_traces(get_state(app).session, prompt.id, 2)

    assert [row.trace.id for row in rows] == newest(recent)[:2]
    assert not scanned(app, statements) & old


def test_the_score_form_reads_the_partitions_of_its_trace(app: Flask) -> None:
    now = dt.datetime.now(UTC)
    old = old_partitions(app, now)
    [trace] = add_traces(app, now - dt.timedelta(hours=1), 1)
    client = app.test_client()
    page = f"{app.config['LLM_LOGS_URL_PREFIX']}/traces/{trace.id}"
    token = csrf_token(client.get(page).get_data(as_text=True))

    with capture(get_state(app).engine) as statements:
        response = client.post(
            f"{page}/scores", data={"csrf_token": token, "name": "ok", "value": "1"}
        )

    assert response.status_code == 302
    assert [s.name for s in stored(app, Score, trace_id=trace.id)] == ["ok"]
    assert statements
    assert not scanned(app, statements) & old


def test_the_prompt_pages_comparison_reads_the_partitions_since_its_versions(
    app: Flask,
) -> None:
    prompt = make_greeting()
    prompt.set_label("production", version=1)
    version_id = prompt.version(1).id
    old, recent = old_and_recent(app, 1, 2, prompt_version_id=version_id)
    session = get_state(app).session
    session.add_all(
        Score(trace_id=trace.id, name="ok", value=1.0, created_at=trace.started_at)
        for trace in recent
    )
    session.commit()

    with capture(get_state(app).engine) as statements:
        [result] = labelled_results(session, prompt.id)

    assert result.scores["ok"].calls == 2
    assert not scanned(app, statements) & old


def test_deleting_a_trace_reads_the_partitions_of_its_rows(app: Flask) -> None:
    now = dt.datetime.now(UTC)
    old = old_partitions(app, now)
    [trace] = add_traces(app, now - dt.timedelta(hours=1), 1)
    session = get_state(app).session
    session.add(Span(trace_id=trace.id, name="chat", started_at=trace.started_at))
    session.add(Score(trace_id=trace.id, name="ok", value=1.0, created_at=trace.started_at))
    session.commit()
    client = app.test_client()
    page = f"{app.config['LLM_LOGS_URL_PREFIX']}/traces/{trace.id}"
    token = csrf_token(client.get(page).get_data(as_text=True))

    with capture(get_state(app).engine, ("SELECT", "DELETE")) as statements:
        response = client.post(f"{page}/delete", data={"csrf_token": token})

    assert response.status_code == 302
    assert not scanned(app, statements) & old
    assert stored(app, Trace) == stored(app, Span) == stored(app, Score) == []


def test_a_dashboard_tag_reads_the_partitions_of_its_range(app: Flask) -> None:
    old, recent = old_and_recent(app, 1, 2, tags=["vip"])
    session = get_state(app).session
    session.add_all(
        Span(trace_id=trace.id, name="chat", kind="llm", started_at=trace.started_at)
        for trace in recent
    )
    session.commit()
    now = dt.datetime.now(UTC)

    with capture(get_state(app).engine) as statements:
        [row] = span_metrics(session, now - dt.timedelta(days=1), now, (), tag="vip")

    assert row["calls"] == 2
    assert not scanned(app, statements) & old


def test_an_export_reads_a_day_a_page(app: Flask) -> None:
    now = dt.datetime.now(UTC)
    old = old_partitions(app, now)
    traces = add_traces(app, now - OLD, 1) + add_traces(app, now - dt.timedelta(hours=1), 4)
    session = get_state(app).session

    with capture(get_state(app).engine) as statements:
        rows = list(export_traces(session, TraceFilters(), page_rows=2))

    assert [row[0] for row in rows] == newest(traces)
    # Two pages of the last day, then the last page reads the older partitions.
    assert not scanned(app, statements[:2]) & old
    assert scanned(app, statements[2:]) & old


def test_the_interval_is_checked_at_init(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(ConfigurationError, match="LLM_LOGS_PARTITION_INTERVAL"):
        make_app(LLM_LOGS_PARTITION_INTERVAL="week")


def test_a_purge_at_the_same_time_may_drop_what_another_detached(app: Flask) -> None:
    now, engine, old = old_month(app)
    store_trace(app, old)
    store_trace(app, old)
    cutoff = now - dt.timedelta(days=30)
    # A purge's detach has committed; before its drop, a second purge takes
    # the detached tables for a stopped purge's leftovers and drops them.
    first = partitions.detach_before(engine, "llm_logs_traces", cutoff)
    assert first.names
    purge_old_traces(30)

    assert partitions.drop_detached(engine, first, count=True) == 0


def test_the_purge_drops_no_table_of_the_users_named_as_a_partition(app: Flask) -> None:
    engine = get_state(app).engine
    store_trace(app, dt.datetime.now(UTC) - dt.timedelta(days=95))
    # An old partition a DBA detached to archive it, or restored from a dump
    # to look at it: a plain table with a partition's name, not the purge's.
    with engine.begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE llm_logs_traces_p202001 AS SELECT * FROM llm_logs_traces_default")
        )

    assert purge_old_traces(30) == 1

    with engine.connect() as connection:
        query = sa.text("SELECT count(*) FROM llm_logs_traces_p202001")
        assert connection.scalar(query) == 1


def test_the_purge_works_with_a_pool_of_one_connection(make_app: Callable[..., Flask]) -> None:
    options = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 1}
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS=options)
    now = dt.datetime.now(UTC)
    with app.app_context():
        engine = get_state(app).engine
        partitions.maintain(engine, "month", now=now - dt.timedelta(days=95))
        store_trace(app, now - dt.timedelta(days=95))
        for _ in range(60):
            store_trace(app, now - dt.timedelta(days=31), spans=0)
        chunks = threading.current_thread()

        # The chunks take longer than the pool's timeout.
        @sa.event.listens_for(engine, "before_cursor_execute")
        def slowly(*args: Any) -> None:
            if threading.current_thread() is chunks:
                time.sleep(0.01)

        assert purge_old_traces(30, chunk_size=1) == 61


@pytest.mark.parametrize(
    "make_id", [id_made_at, lambda _: uuid.uuid4()], ids=["time-ordered", "random"]
)
def test_the_chunks_delete_their_traces_spans_and_scores_in_later_partitions(
    app: Flask, make_id: Callable[[dt.datetime], uuid.UUID]
) -> None:
    now = dt.datetime.now(UTC)
    # In the partition the cutoff falls in, before the cutoff: deleted by a chunk.
    started = now - dt.timedelta(days=30, minutes=5)
    trace = trace_record(make_id(started), started_at=started.timestamp(), status="completed")
    late = now - dt.timedelta(days=1)
    submit(
        app,
        trace,
        span_record(trace.id, started_at=started.timestamp()),
        span_record(trace.id, started_at=late.timestamp()),  # in a later partition
    )
    kept_id = store_trace(app, now - dt.timedelta(days=2))
    assert flask_llm_logs.flush(10)
    session = get_state(app).session
    for created in (started, now):
        session.add(Score(trace_id=trace.id, name="ok", value=1.0, created_at=created))
    session.commit()

    assert purge_old_traces(30, chunk_size=1) == 1

    assert {t.id for t in stored(app, Trace)} == {kept_id}
    assert {s.trace_id for s in stored(app, Span)} == {kept_id}
    assert stored(app, Score) == []


def test_a_chunks_rows_are_searched_for_in_the_partitions_holding_its_ids_only(
    app: Flask,
) -> None:
    now, engine, old = old_month(app)
    old_id, recent_id = store_trace(app, old), store_trace(app, now)

    with engine.connect() as connection:
        held = partitions.holding(
            connection, "llm_logs_spans", "trace_id", str(old_id), str(old_id)
        )
        both = partitions.holding(
            connection, "llm_logs_spans", "trace_id", str(old_id), str(recent_id)
        )

    assert held == [partitions.partition_name("llm_logs_spans", old, "month")]
    assert both == sorted(
        partitions.partition_name("llm_logs_spans", at, "month") for at in (old, now)
    )


def test_the_scores_of_a_dropped_trace_go_with_it(app: Flask) -> None:
    now, _, old = old_month(app)
    trace_id = store_trace(app, old)
    linked = store_trace(app, old)
    # Scored a while after they ran: the scores are in a partition the purge keeps.
    # A score waiting for its trace, whose id is no UUID 7 (OpenTelemetry's), though
    # its first bits read as a time before the cutoff.
    waiting = uuid.UUID(int=id_made_at(old).int & ~(0xF << 76) | (0x4 << 76))
    session = get_state(app).session
    session.add_all(
        Score(trace_id=scored, name="ok", value=1.0, created_at=now)
        for scored in (trace_id, linked, waiting)
    )
    session.add(BatchRequest(custom_id="req_1", purpose="p", model="m", trace_id=linked))
    session.commit()

    assert purge_old_traces(30) == 1

    assert [t.id for t in stored(app, Trace)] == [linked]
    assert sorted(s.trace_id for s in stored(app, Score)) == sorted([linked, waiting])
