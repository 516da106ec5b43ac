"""The metrics table kept by the writer, read back through ``flask_llm_logs.metrics()``."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

import flask_llm_logs
from flask_llm_logs.insights.metrics import BUCKETS
from flask_llm_logs.insights.metrics import PLAN_SETTINGS
from flask_llm_logs.insights.metrics import Query
from flask_llm_logs.models import PromptRecord
from flask_llm_logs.models import PromptVersion
from flask_llm_logs.models import metrics_table
from flask_llm_logs.state import get_state
from flask_llm_logs.tracing import aggregate
from flask_llm_logs.tracing import latency
from tests.helpers.metrics import assert_matches
from tests.helpers.metrics import expected
from tests.helpers.metrics import random_trace
from tests.helpers.metrics import raw_llm_spans
from tests.helpers.tracing import flush
from tests.helpers.writer import span_record
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record

UTC = dt.timezone.utc
#: A Wednesday noon: a range around it crosses minutes, hours and days.
NOON = dt.datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
LONG_AGO = NOON - dt.timedelta(days=30)


def metric_rows(app: Flask) -> int:
    with get_state(app).engine.connect() as connection:
        query = sa.select(sa.func.count()).select_from(metrics_table)
        return int(connection.execute(query).scalar_one())


def test_llm_spans_are_summed_by_model_and_the_rest_is_not_counted(app: Flask) -> None:
    start = trace_record(name="report", user_id="alice", environment="production")
    at = NOON.timestamp()
    llm: dict[str, Any] = {"kind": "llm", "provider": "openai", "started_at": at}
    submit(
        app,
        start,
        span_record(
            start.id,
            model="gpt-4.1",
            input_tokens=100,
            output_tokens=10,
            cached_tokens=5,
            cache_write_tokens=2,
            cost=0.25,
            duration_ms=400.0,
            **llm,
        ),
        span_record(
            start.id,
            model="gpt-4.1",
            input_tokens=50,
            output_tokens=5,
            cost=0.5,
            duration_ms=1200.0,
            status="error",
            **llm,
        ),
        span_record(start.id, model="gpt-4.1-mini", input_tokens=7, duration_ms=90.0, **llm),
        span_record(start.id, kind="tool", name="tool.lookup", duration_ms=5.0, started_at=at),
        span_record(start.id, kind="custom", name="retrieve", duration_ms=7.0, started_at=at),
    )
    flush()

    rows = flask_llm_logs.metrics(since=LONG_AGO)
    assert [row["model"] for row in rows] == ["gpt-4.1", "gpt-4.1-mini"]  # most calls first
    big = rows[0]
    assert {key: big[key] for key in ("calls", "errors", "error_rate")} == {
        "calls": 2,
        "errors": 1,
        "error_rate": 0.5,
    }
    assert (big["input_tokens"], big["output_tokens"]) == (150, 15)
    assert (big["cached_tokens"], big["cache_write_tokens"]) == (5, 2)
    assert big["cost"] == pytest.approx(0.75)
    assert big["duration_ms_sum"] == pytest.approx(1600.0)
    assert big["p50_ms"] == pytest.approx(400.0, rel=0.1)
    assert big["p95_ms"] == big["p99_ms"] == pytest.approx(1200.0, rel=0.1)
    assert isinstance(big["cost"], float)

    [total] = flask_llm_logs.metrics(since=LONG_AGO, group_by=())
    assert total["calls"] == 3 and total["input_tokens"] == 157
    [by_trace] = flask_llm_logs.metrics(
        since=LONG_AGO, group_by=("name", "user", "environment", "provider")
    )
    assert (by_trace["name"], by_trace["user"], by_trace["environment"]) == (
        "report",
        "alice",
        "production",
    )
    assert by_trace["provider"] == "openai" and by_trace["calls"] == 3
    by_status = flask_llm_logs.metrics(since=LONG_AGO, group_by=("status",))
    assert {row["status"]: row["calls"] for row in by_status} == {"completed": 2, "error": 1}


def test_filters_narrow_and_missing_values_are_none(app: Flask) -> None:
    known = trace_record(name="report", user_id="alice")
    anonymous = trace_record(name="report")
    at = NOON.timestamp()
    submit(
        app,
        known,
        anonymous,
        span_record(known.id, kind="llm", model="gpt-4.1", duration_ms=10.0, started_at=at),
        span_record(anonymous.id, kind="llm", model="gpt-4.1", duration_ms=10.0, started_at=at),
        span_record(anonymous.id, kind="llm", duration_ms=10.0, started_at=at),
    )
    flush()

    by_user = flask_llm_logs.metrics(since=LONG_AGO, group_by=("user",))
    assert {row["user"]: row["calls"] for row in by_user} == {None: 2, "alice": 1}
    only_alice = flask_llm_logs.metrics(since=LONG_AGO, filters={"user": "alice"})
    assert [(row["model"], row["calls"]) for row in only_alice] == [("gpt-4.1", 1)]
    no_user = flask_llm_logs.metrics(since=LONG_AGO, group_by=(), filters={"user": None})
    assert [row["calls"] for row in no_user] == [2]
    no_model = flask_llm_logs.metrics(since=LONG_AGO, filters={"model": None, "name": "report"})
    assert [(row["model"], row["calls"]) for row in no_model] == [(None, 1)]
    assert flask_llm_logs.metrics(since=LONG_AGO, filters={"user": "nobody"}) == []


def test_any_range_and_bucket_adds_up_to_the_spans_in_it(app: Flask) -> None:
    """Minute, hour and day rows are combined at the edges of a range as the spans would be."""
    rng = random.Random(7)
    moments = [NOON + dt.timedelta(minutes=rng.uniform(-3 * 1440, 3 * 1440)) for _ in range(120)]
    start = trace_record(name="report", user_id="alice")
    spans = [
        span_record(
            start.id,
            kind="llm",
            model=rng.choice(["a", "b"]),
            duration_ms=rng.uniform(1, 5000),
            started_at=moment.timestamp(),
        )
        for moment in moments
    ]
    submit(app, start, *spans)
    flush()

    def minute(moment: dt.datetime) -> dt.datetime:
        return moment.replace(second=0, microsecond=0)

    ranges: list[tuple[dt.datetime, dt.datetime | None]] = [(LONG_AGO, None)]
    for _ in range(12):
        low, high = sorted(rng.sample(moments, 2))
        ranges.append((low - dt.timedelta(minutes=rng.choice([0, 1, 61, 1500])), high))
    for since, until in ranges:
        end = until or dt.datetime.now(UTC)
        last = minute(end) if minute(end) == end else minute(end) + dt.timedelta(minutes=1)
        inside = [m for m in moments if minute(since) <= minute(m) < last]
        for bucket in (None, "minute", "hour", "day"):
            group_by = ("user", "model") if bucket == "hour" else ("model",)
            rows = flask_llm_logs.metrics(
                since=since, until=until, group_by=group_by, bucket=bucket
            )
            assert sum(row["calls"] for row in rows) == len(inside), (since, until, bucket)
            if bucket is not None:
                width = {"minute": 60, "hour": 3600, "day": 86400}[bucket]
                for row in rows:
                    assert row["bucket"].tzinfo is not None
                    assert row["bucket"].timestamp() % width == 0
                per_bucket: dict[Any, int] = {}
                for m in inside:
                    floored = dt.datetime.fromtimestamp(m.timestamp() // width * width, UTC)
                    per_bucket[floored] = per_bucket.get(floored, 0) + 1
                counted: dict[Any, int] = {}
                for row in rows:
                    counted[row["bucket"]] = counted.get(row["bucket"], 0) + row["calls"]
                assert counted == per_bucket, (since, until, bucket)


def test_long_ranges_read_runs_of_days_and_add_up_to_the_spans_in_them(app: Flask) -> None:
    """A month by one dimension reads 9-day runs whole, taking away what they hold outside it."""
    rng = random.Random(12)
    for _ in range(40):
        started = (NOON - dt.timedelta(days=rng.uniform(0, 40))).timestamp()
        submit(app, *random_trace(rng, spans=rng.randrange(2, 7), started_at=started))
    flush()
    rows = raw_llm_spans(app)
    month = Query.parse(NOON - dt.timedelta(days=30), NOON, (), None, None).segments()
    assert aggregate.BLOCK_BY["9 days"][None] in {segment.grain for segment in month}
    assert -1 in {segment.sign for segment in month}  # what the runs hold outside it
    for _ in range(8):
        since = NOON - dt.timedelta(days=rng.uniform(3, 41), minutes=rng.randrange(1440))
        until = NOON - dt.timedelta(days=rng.uniform(0, 2), minutes=rng.randrange(1440))
        first, last = (moment.replace(second=0, microsecond=0) for moment in (since, until))
        last += dt.timedelta(minutes=1)  # the minute ``until`` falls in counts
        inside = [row for row in rows if first <= row["started_at"] < last]
        for group_by in (("user",), ("model",), ()):
            actual = flask_llm_logs.metrics(since=since, until=until, group_by=group_by)
            assert_matches(actual, expected(inside, group_by), group_by)


def test_the_segments_count_each_minute_of_the_range_once() -> None:
    """Whatever the range, bucket, grouping and now, the buckets added and those taken
    away count each minute of the range once net, and nothing else; each bucket taken
    away lies in a coarser one added, and none is coarser than the ``bucket`` asked for."""
    rng = random.Random(5)
    order = {width: n for n, width in enumerate(aggregate.ALL_WIDTHS)}
    minute = dt.timedelta(minutes=1)
    for _ in range(3000):
        since = NOON + dt.timedelta(days=rng.uniform(-40, 40))
        until = since + dt.timedelta(
            seconds=rng.choice([50, 5000, 90_000, 3_500_000]) * rng.random()
        )
        until += dt.timedelta(milliseconds=1)
        now = until + dt.timedelta(days=rng.uniform(-1, 1))
        group_by = rng.choice([(), ("user",), ("user", "model")])
        query = Query(since, until, group_by, {}, rng.choice(BUCKETS), now)
        first = aggregate.truncate(since, "minute")
        last = aggregate.truncate(until, "minute")
        last += minute if last < until else dt.timedelta(0)
        changes = {first: 0, last: 0}
        segments = query.segments()
        for segment in segments:
            width = segment.grain.width
            assert segment.low < segment.high
            assert aggregate.truncate(segment.low, width) == segment.low
            assert aggregate.truncate(segment.high, width) == segment.high
            if query.bucket is not None:
                assert order[width] <= order[query.bucket]
            changes[segment.low] = changes.get(segment.low, 0) + segment.sign
            changes[segment.high] = changes.get(segment.high, 0) - segment.sign
            if segment.sign < 0:
                assert any(
                    added.sign > 0
                    and order[added.grain.width] > order[width]
                    and added.low <= segment.low < segment.high <= added.high
                    for added in segments
                ), (query, segment)
        count = 0
        for moment in sorted(changes):
            count += changes[moment]
            assert count == (1 if first <= moment < last else 0), (query, moment)
        # No row is in two segments: one read tells each row's sign by its segment.
        for grain in {segment.grain for segment in segments}:
            ranges = sorted((s.low, s.high) for s in segments if s.grain == grain)
            assert all(high <= low for (_, high), (low, _) in itertools.pairwise(ranges))


def test_randomized_workload_matches_the_raw_spans(app: Flask) -> None:
    rng = random.Random(16)
    for _ in range(30):
        submit(app, *random_trace(rng, spans=rng.randrange(1, 9)))
    flush()
    rows = raw_llm_spans(app)
    for group_by in (("model",), ("user", "model"), ("name", "status"), ()):
        actual = flask_llm_logs.metrics(since=LONG_AGO, group_by=group_by)
        assert_matches(actual, expected(rows, group_by), group_by)


def test_prompt_versions_are_named_and_grouped_by_prompt(app: Flask) -> None:
    session = get_state(app).session
    prompt = PromptRecord(slug="support", name="Support")
    prompt.versions = [PromptVersion(version_number=1), PromptVersion(version_number=2)]
    session.add(prompt)
    session.commit()
    first, second = (version.id for version in prompt.versions)
    start = trace_record()
    at = NOON.timestamp()

    def call(version: int | None, duration: float) -> Any:
        metadata = {} if version is None else {"prompt_version_id": version}
        return span_record(
            start.id,
            kind="llm",
            model="m",
            metadata=metadata,
            duration_ms=duration,
            cost=0.1,
            started_at=at,
        )

    submit(app, start, call(first, 100), call(second, 200), call(second, 300), call(None, 1))
    flush()

    rows = flask_llm_logs.metrics(since=LONG_AGO, group_by=("prompt_version",))
    versions = {row["prompt_version"]: row for row in rows}
    assert (versions[second]["prompt"], versions[second]["version"]) == ("support", 2)
    assert (versions[first]["prompt"], versions[first]["version"]) == ("support", 1)
    assert versions[second]["calls"] == 2 and versions[first]["calls"] == 1
    assert versions[None]["prompt"] is None and versions[None]["version"] is None
    by_prompt = flask_llm_logs.metrics(since=LONG_AGO, group_by=("prompt",))
    assert {row["prompt"]: row["calls"] for row in by_prompt} == {"support": 3, None: 1}
    # Both read the version's column: one keyed by its slug, the other by its id.
    both = flask_llm_logs.metrics(since=LONG_AGO, group_by=("prompt", "prompt_version"))
    assert {(r["prompt"], r["prompt_version"], r["version"]): r["calls"] for r in both} == {
        ("support", second, 2): 2,
        ("support", first, 1): 1,
        (None, None, None): 1,
    }
    only = flask_llm_logs.metrics(since=LONG_AGO, group_by=(), filters={"prompt": "support"})
    assert [row["calls"] for row in only] == [3]
    one = flask_llm_logs.metrics(
        since=LONG_AGO, group_by=(), filters={"prompt_version": str(second)}
    )
    assert [row["calls"] for row in one] == [2]


def test_a_span_stored_twice_counts_once(app: Flask) -> None:
    start = trace_record()
    span = span_record(start.id, kind="llm", model="m", duration_ms=5.0)
    submit(app, start, span)
    flush()
    submit(app, span, span_record(start.id, kind="llm", model="m", duration_ms=5.0))
    flush()
    [row] = flask_llm_logs.metrics(since=LONG_AGO)
    assert row["calls"] == 2


def test_a_span_counts_under_its_trace_as_stored_read_back_only_when_not_this_batchs(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[set[Any]] = []
    trace_dims = aggregate.trace_dims

    def spy(connection: sa.Connection, trace_ids: Any) -> dict[Any, tuple[str, str, str]]:
        read.append(set(trace_ids))
        return trace_dims(connection, trace_ids)

    monkeypatch.setattr(aggregate, "trace_dims", spy)
    ended = trace_record(status="completed", user_id="bob")
    submit(app, ended)
    flush()
    fresh = trace_record(user_id="alice")
    late_start = trace_record(ended.id, user_id="carol")  # refused: its end came first
    submit(
        app,
        fresh,
        span_record(fresh.id, kind="llm", model="m", duration_ms=5.0),
        late_start,
        span_record(ended.id, kind="llm", model="m", duration_ms=5.0),
    )
    flush()
    by_user = flask_llm_logs.metrics(since=LONG_AGO, group_by=("user",))
    assert {row["user"]: row["calls"] for row in by_user} == {"alice": 1, "bob": 1}
    # The batch's upsert returned the fresh trace as stored; only the refused one is read.
    assert read == [{ended.id}]


def test_metrics_can_be_turned_off(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_METRICS=False)
    with app.app_context():
        start = trace_record()
        submit(app, start, span_record(start.id, kind="llm", model="m", duration_ms=5.0))
        flush()
        assert metric_rows(app) == 0
        assert flask_llm_logs.metrics(since=LONG_AGO) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"since": "yesterday"}, "since: must be a datetime"),
        ({"since": NOON, "until": NOON}, "until: must be after since"),
        ({"since": NOON, "group_by": ("route",)}, "group_by: unknown dimension 'route'"),
        ({"since": NOON, "group_by": "model"}, "group_by: must be a tuple"),
        ({"since": NOON, "filters": {"route": "x"}}, "filters: unknown dimension 'route'"),
        ({"since": NOON, "filters": {"model": 3}}, "filters: model must be a string"),
        ({"since": NOON, "filters": {"prompt_version": "v2"}}, "filters: prompt_version"),
        ({"since": NOON, "bucket": "week"}, "bucket: must be one of"),
    ],
)
def test_bad_arguments_are_named(app: Flask, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        flask_llm_logs.metrics(**arguments)


def test_naive_times_are_utc(app: Flask) -> None:
    start = trace_record()
    at = NOON.timestamp()
    submit(app, start, span_record(start.id, kind="llm", model="m", started_at=at, duration_ms=1.0))
    flush()
    naive = NOON.replace(tzinfo=None)
    assert flask_llm_logs.metrics(since=naive, until=naive + dt.timedelta(minutes=1))
    assert not flask_llm_logs.metrics(since=naive + dt.timedelta(minutes=1))
    later = dt.timezone(dt.timedelta(hours=2))
    assert flask_llm_logs.metrics(since=NOON.astimezone(later), until=naive.replace(hour=13))
    assert time.time() > at


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_postgresql_reads_without_jit_and_hashes_the_groups_in_memory(app: Flask) -> None:
    """JIT compiling the read's 93 sums took 0.7 s, longer than the read; parallel workers'
    partial sums of 5,000 users took longer to merge than to make; at the default
    ``work_mem`` (4 MB) they were sorted on disk. All only for this read."""
    engine = get_state(app).read_engine
    with engine.connect() as connection:
        defaults = [connection.exec_driver_sql(f"SHOW {name}").scalar() for name in SETTINGS]
    seen: list[list[Any]] = []

    def settings(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM llm_logs_metrics" in statement:
            values = []
            for name in SETTINGS:
                cursor.execute(f"SHOW {name}")
                values.append(cursor.fetchone()[0])
            seen.append(values)

    sa.event.listen(engine, "before_cursor_execute", settings)
    try:
        flask_llm_logs.metrics(since=LONG_AGO, group_by=("user",))
    finally:
        sa.event.remove(engine, "before_cursor_execute", settings)
    assert seen == [list(PLAN_SETTINGS.values())] * 2  # the bins counting, then the sums
    with engine.connect() as connection:  # the pool's next user has the server's settings
        after = [connection.exec_driver_sql(f"SHOW {name}").scalar() for name in SETTINGS]
    assert after == defaults


SETTINGS = tuple(PLAN_SETTINGS)


def test_a_grouped_read_sums_only_the_bins_the_range_has(app: Flask) -> None:
    """Of the 85 columns of the histogram, the sums read only those the days count in."""
    start = trace_record(name="report", user_id="alice")
    durations = (0.5, 400.0, 400.0, 9000.0)
    submit(
        app,
        start,
        *(
            span_record(
                start.id, kind="llm", model="m", duration_ms=ms, started_at=NOON.timestamp()
            )
            for ms in durations
        ),
    )
    flush()
    statements: list[str] = []

    def record(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = get_state(app).read_engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        [row] = flask_llm_logs.metrics(since=LONG_AGO, group_by=("user",))
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    grouped = next(statement for statement in statements if "GROUP BY" in statement)
    summed = {number for number in range(latency.BINS) if latency.COLUMNS[number] in grouped}
    assert summed == {latency.bin_of(ms) for ms in durations}
    assert (row["calls"], row["p50_ms"]) == (4, latency.estimate(latency.bin_of(400.0)))
    assert row["p99_ms"] == latency.estimate(latency.bin_of(9000.0))
