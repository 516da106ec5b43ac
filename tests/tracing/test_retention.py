"""``flask llm-logs purge`` and the ``purge_old_traces`` job."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

import flask_llm_logs
from flask_llm_logs import partitions
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.models import SessionBounds
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.models import UserBounds
from flask_llm_logs.models import metrics_table
from flask_llm_logs.state import get_state
from flask_llm_logs.tracing import aggregate
from flask_llm_logs.tracing import retention
from flask_llm_logs.tracing.retention import plan_purge
from flask_llm_logs.tracing.retention import purge_old_traces
from tests.helpers.writer import span_record
from tests.helpers.writer import stored
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record


def make_traces(app: Flask, days_ago: int, count: int, spans_each: int = 2) -> list[uuid.UUID]:
    started = time.time() - dt.timedelta(days=days_ago).total_seconds()
    ids = []
    for _ in range(count):
        trace = trace_record(started_at=started, status="completed")
        submit(app, trace, *(span_record(trace.id, started_at=started) for _ in range(spans_each)))
        ids.append(trace.id)
    assert flask_llm_logs.flush(10)
    return ids


def test_purge_trims_the_metrics_by_bucket(app: Flask) -> None:
    now = time.time()
    trace = trace_record(started_at=now - 40 * 86400, status="completed")
    submit(
        app,
        trace,
        *(
            span_record(trace.id, kind="llm", model="m", duration_ms=1.0, started_at=now - days)
            for days in (40 * 86400, 31 * 86400, 2 * 86400)
        ),
    )
    assert flask_llm_logs.flush(10)
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=60)
    assert sum(row["calls"] for row in flask_llm_logs.metrics(since=since)) == 3

    purge_old_traces(30)

    [row] = flask_llm_logs.metrics(since=since)
    assert row["calls"] == 1
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=31)
    with get_state(app).engine.connect() as connection:
        buckets = connection.execute(sa.select(metrics_table.c.bucket)).scalars().all()
    assert buckets
    for bucket in buckets:
        assert (bucket if bucket.tzinfo else bucket.replace(tzinfo=dt.timezone.utc)) > cutoff


@pytest.mark.parametrize("interval", ["month", "day"])
def test_purge_takes_the_ended_days_out_of_the_runs_of_days(
    make_app: Callable[..., Flask], interval: str
) -> None:
    """A run of days the cutoff falls in keeps only the days whose rows stay; with
    daily partitions (PostgreSQL) the run's first day, which holds the run's rows,
    ended before the cutoff, yet its partition stays."""
    app = make_app(LLM_LOGS_PARTITION_INTERVAL=interval)
    with app.app_context():
        now = dt.datetime.now(dt.timezone.utc)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        # A cutoff four days into a run of nine (and one into a run of three).
        days = next(d for d in range(30, 39) if ((today - aggregate.EPOCH).days - d) % 9 == 4)
        if interval == "day":
            # The partitions the writer would have made each day (none on SQLite).
            for start in partitions.periods(now - dt.timedelta(days=46), now, interval):
                partitions.maintain(get_state(app).engine, interval, now=start)
        trace = trace_record(started_at=now.timestamp() - 45 * 86400, status="completed")
        submit(
            app,
            trace,
            *(
                span_record(
                    trace.id,
                    kind="llm",
                    model=f"m{back % 2}",
                    duration_ms=10.0 * back,
                    started_at=(today - dt.timedelta(days=back, hours=-12)).timestamp(),
                )
                for back in range(days - 5, days + 6)
                for _ in range(2)
            ),
        )
        assert flask_llm_logs.flush(10)
        since = now - dt.timedelta(days=60)

        purge_old_traces(days)

        # Read whole: the runs; by day: the day rows, never the runs.
        for group_by in ((), ("model",)):
            runs = flask_llm_logs.metrics(since=since, group_by=group_by)
            by_day = flask_llm_logs.metrics(since=since, group_by=group_by, bucket="day")
            summed: dict[Any, int] = {}
            for row in by_day:
                key = tuple(row[name] for name in group_by)
                summed[key] = summed.get(key, 0) + row["calls"]
            assert {tuple(row[n] for n in group_by): row["calls"] for row in runs} == summed
        assert sum(summed.values()) == 2 * 6  # the cutoff's day and the five after it
        with get_state(app).engine.connect() as connection:
            empty = sa.select(sa.func.count()).where(metrics_table.c.calls == 0)
            assert connection.execute(empty).scalar() == 0


def test_a_range_after_the_cutoff_counts_nothing_purged(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``metrics()`` reads the run of days the cutoff starts whole and takes away what
    it holds before the range, from the hour rows: the purge keeps the cutoff's day's
    hours and minutes, so the call before the cutoff that day is taken away too."""
    today = dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    # The cutoff at 10:00 on the first day of a run of nine days, 30 days or more ago.
    days = next(d for d in range(30, 39) if ((today - aggregate.EPOCH).days - d) % 9 == 0)
    cutoff_day = today - dt.timedelta(days=days)
    monkeypatch.setattr(retention, "utcnow", lambda: today + dt.timedelta(hours=10))
    trace = trace_record(started_at=cutoff_day.timestamp(), status="completed")
    submit(
        app,
        trace,
        *(
            span_record(
                trace.id, kind="llm", model="m", duration_ms=5.0, started_at=moment.timestamp()
            )
            for minutes in (3 * 60, 10 * 60 + 10, 18 * 60, 30 * 60)
            for moment in [cutoff_day + dt.timedelta(minutes=minutes)]
        ),
    )
    assert flask_llm_logs.flush(10)

    purge_old_traces(days)

    since = cutoff_day + dt.timedelta(hours=10, minutes=30)
    for group_by in ((), ("model",), ("model", "user")):
        [row] = flask_llm_logs.metrics(since=since, group_by=group_by)
        assert row["calls"] == 2, group_by  # 18:00 and the next day's 06:00


def link_to_batch_request(app: Flask, trace_id: uuid.UUID) -> None:
    session = get_state(app).session
    session.add(
        BatchRequest(
            custom_id=f"r-{trace_id.hex[:8]}",
            purpose="summaries",
            model="gpt-4.1-mini",
            trace_id=trace_id,
            result={"output_text": "kept"},
        )
    )
    session.commit()


def test_purge_deletes_old_traces_and_their_spans_in_chunks(app: Flask) -> None:
    old = make_traces(app, days_ago=40, count=7)
    recent = make_traces(app, days_ago=2, count=3)
    chunks: list[int] = []

    assert purge_old_traces(chunk_size=3, on_chunk=chunks.append) == 7

    assert chunks == [3, 3, 1]
    assert {row.id for row in stored(app, Trace)} == set(recent)
    assert {row.trace_id for row in stored(app, Span)} == set(recent)
    assert not set(old) & {row.id for row in stored(app, Trace)}


def test_traces_linked_to_a_batch_request_are_kept(app: Flask) -> None:
    linked, _ = make_traces(app, days_ago=90, count=2)
    link_to_batch_request(app, linked)

    plan = plan_purge(30)
    assert (plan.traces, plan.spans, plan.kept_linked) == (1, 2, 1)
    assert purge_old_traces(30) == 1

    assert [row.id for row in stored(app, Trace)] == [linked]
    assert len(stored(app, Span, trace_id=linked)) == 2
    request = get_state(app).session.query(BatchRequest).one()
    assert request.trace_id == linked
    assert request.result == {"output_text": "kept"}


def test_retention_days_setting_is_the_default(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_RETENTION_DAYS=5)
    with app.app_context():
        make_traces(app, days_ago=6, count=1)
        make_traces(app, days_ago=4, count=1)
        assert purge_old_traces() == 1
        assert len(stored(app, Trace)) == 1


def test_bad_arguments_are_refused(app: Flask) -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        purge_old_traces(chunk_size=0)
    with pytest.raises(ValueError, match="days"):
        purge_old_traces(-1)


def test_purge_command(app: Flask) -> None:
    make_traces(app, days_ago=40, count=4)
    keep = make_traces(app, days_ago=40, count=1)[0]
    link_to_batch_request(app, keep)
    make_traces(app, days_ago=1, count=2)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["llm-logs", "purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "4 traces (8 spans)" in result.output
    assert "1 older ones are kept because a batch request links to them" in result.output
    assert "nothing deleted" in result.output
    assert len(stored(app, Trace)) == 7

    result = runner.invoke(args=["llm-logs", "purge", "--days", "30", "--chunk-size", "2"])
    assert result.exit_code == 0, result.output
    assert "Deleting traces" in result.output  # the progress bar's label
    assert "Deleted 4 traces" in result.output
    assert len(stored(app, Trace)) == 3

    result = runner.invoke(args=["llm-logs", "purge", "--days", "0"])
    assert "Deleted 2 traces" in result.output  # the linked one stays
    assert [row.id for row in stored(app, Trace)] == [keep]


def test_purge_command_reports_json(make_app: Callable[..., Flask]) -> None:
    app = make_app()  # no app context: the command pushes one
    make_traces(app, days_ago=40, count=2)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["llm-logs", "purge", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["traces"], report["spans"], report["deleted"]) == (2, 4, None)
    result = runner.invoke(args=["llm-logs", "purge", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deleted"] == 2


def test_purge_command_refuses_bad_options(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["llm-logs", "purge", "--days", "-3"])
    assert result.exit_code == 2
    assert "--days" in result.output
    result = runner.invoke(args=["llm-logs", "purge", "--chunk-size", "0"])
    assert result.exit_code == 2
    assert "--chunk-size" in result.output


@pytest.mark.redis
def test_purge_runs_as_an_rq_job(app: Flask, redis_url: str) -> None:
    from redis import Redis
    from rq import Queue
    from rq import SimpleWorker

    make_traces(app, days_ago=40, count=3)
    queue = Queue(app.config["LLM_LOGS_QUEUE"], connection=Redis.from_url(redis_url))
    try:
        job = queue.enqueue(purge_old_traces)
        # In-process worker: the job runs inside this test's app context,
        # as it does inside the extension's worker.
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        assert job.return_value() == 3
        assert stored(app, Trace) == []
    finally:
        queue.delete(delete_jobs=True)
        queue.connection.close()


def running_trace(app: Flask, hours_ago: float) -> uuid.UUID:
    start = trace_record(started_at=time.time() - hours_ago * 3600)
    submit(app, start, span_record(start.id))
    assert flask_llm_logs.flush(10)
    return start.id


def test_traces_whose_end_never_arrived_become_incomplete(app: Flask) -> None:
    lost = running_trace(app, hours_ago=30)
    late = running_trace(app, hours_ago=26)
    recent = running_trace(app, hours_ago=2)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["llm-logs", "purge", "--dry-run"])
    assert "2 traces have been running for more than LLM_LOGS_INCOMPLETE_AFTER" in result.output
    assert {row.status for row in stored(app, Trace)} == {"running"}

    result = runner.invoke(args=["llm-logs", "purge"])
    assert result.exit_code == 0, result.output
    assert "Marked 2 traces incomplete" in result.output
    status = {row.id: row.status for row in stored(app, Trace)}
    assert status == {lost: "incomplete", late: "incomplete", recent: "running"}

    # An end record that arrives after all still completes its trace. It carries
    # the start record's time, as every trace's records do: on PostgreSQL the
    # trace's key is (id, started_at), its partition key being part of it.
    [start] = stored(app, Trace, id=late)
    submit(app, trace_record(late, status="completed", started_at=start.started_at.timestamp()))
    assert flask_llm_logs.flush(10)
    [row] = stored(app, Trace, id=late)
    assert row.status == "completed"


def test_the_purge_job_marks_incomplete_after_the_configured_time(
    make_app: Callable[..., Flask],
) -> None:
    from flask_llm_logs.jobs import purge_traces

    app = make_app(LLM_LOGS_INCOMPLETE_AFTER=600)
    with app.app_context():
        stuck = running_trace(app, hours_ago=0.5)
        fresh = running_trace(app, hours_ago=0.05)
        assert purge_traces() == 0
        status = {row.id: row.status for row in stored(app, Trace)}
    assert status == {stuck: "incomplete", fresh: "running"}


def test_purge_forgets_the_bounds_of_sessions_and_users_that_ended_before_it(app: Flask) -> None:
    now = time.time()
    days = 86400
    linked = trace_record(started_at=now - 40 * days, session_id="linked", user_id="bo")
    submit(
        app,
        trace_record(started_at=now - 40 * days, session_id="old", user_id="cy"),
        trace_record(started_at=now - 40 * days, session_id="old", user_id="ana"),
        trace_record(started_at=now - 50 * days, session_id="across", user_id="ana"),
        trace_record(started_at=now - days, session_id="across", user_id="ana"),
        linked,
    )
    assert flask_llm_logs.flush(10)
    session = get_state(app).session
    session.add(BatchRequest(custom_id="r", purpose="p", model="m", trace_id=linked.id))
    session.commit()

    purge_old_traces(30)

    with get_state(app).engine.connect() as connection:
        for model, kept in ((SessionBounds, {"across", "linked"}), (UserBounds, {"ana", "bo"})):
            # A trace kept (linked) keeps its bounds: it started before the cutoff.
            assert set(connection.scalars(sa.select(model.__table__.c[0]))) == kept
