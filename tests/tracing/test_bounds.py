"""The time bounds of sessions and users, kept by the writer (``tracing.bounds``)."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from typing import cast

import pytest
import sqlalchemy as sa
from flask import Flask

import flask_llm_logs
from flask_llm_logs import migrations
from flask_llm_logs.models import SessionBounds
from flask_llm_logs.models import Trace
from flask_llm_logs.models import UserBounds
from flask_llm_logs.state import get_state
from flask_llm_logs.tracing import bounds
from flask_llm_logs.tracing import store
from flask_llm_logs.tracing.records import TraceRecord
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record

UTC = dt.timezone.utc
POLICY = store.ContentPolicy(redact=None, pricing_provider=None, max_content_bytes=2**20)
BOUNDS_UPSERT = re.compile(r"INSERT INTO (llm_logs_sessions|llm_logs_users) ")


def bounds_of(app: Flask, model: type[SessionBounds] | type[UserBounds]) -> dict[str, Any]:
    """The stored bounds by key, as aware times (SQLite gives naive UTC back)."""
    with get_state(app).engine.connect() as connection:
        return {
            key: tuple(at.replace(tzinfo=UTC) for at in (first_at, last_at))
            for key, first_at, last_at in connection.execute(sa.select(model.__table__))
        }


def write_batches(app: Flask, *batches: list[TraceRecord]) -> None:
    """Each batch through the writer, one after the other."""
    for batch in batches:
        submit(app, *batch)
        assert flask_llm_logs.flush(10)


def test_bounds_take_in_every_start_whatever_the_order_and_repeats(app: Flask) -> None:
    now = time.time()

    def chat(ago: float, user: str = "ana", **fields: Any) -> TraceRecord:
        return trace_record(started_at=now - ago, session_id="chat", user_id=user, **fields)

    def at(ago: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(now - ago, UTC)

    middle, late = chat(3600, status="completed"), chat(60, "bo")
    write_batches(
        app,
        [middle],
        # Earlier and later, in one batch with a trace of another session.
        [chat(7200), late, trace_record(started_at=now - 1800, session_id="other")],
        # A retry, and a trace within the bounds: nothing changes.
        [middle, late],
        [chat(5000)],
    )

    assert bounds_of(app, SessionBounds) == {
        "chat": (at(7200), at(60)),
        "other": (at(1800), at(1800)),
    }
    assert bounds_of(app, UserBounds) == {"ana": (at(7200), at(3600)), "bo": (at(60), at(60))}


def test_a_batch_upserts_each_table_once_and_only_with_keys(app: Flask) -> None:
    policy = POLICY
    engine = get_state(app).engine
    statements: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def upserts(*records: TraceRecord) -> list[str]:
        rows, _ = store.prepare(records, policy)
        statements.clear()
        with engine.begin() as connection:
            store.write(connection, rows)
        return [found[1] for s in statements if (found := BOUNDS_UPSERT.match(s))]

    assert upserts(trace_record(), trace_record(user_id="ana")) == ["llm_logs_users"]
    many = [trace_record(session_id=f"s{n % 3}", user_id=f"u{n % 4}") for n in range(12)]
    assert upserts(*many) == ["llm_logs_sessions", "llm_logs_users"]
    assert len(bounds_of(app, SessionBounds)) == 3 and len(bounds_of(app, UserBounds)) == 5


def test_the_maintenance_widens_the_bounds_to_traces_stored_without_them(app: Flask) -> None:
    now = time.time()
    at = [dt.datetime.fromtimestamp(now - ago, UTC) for ago in (10800, 5400, 600)]
    # Stored by a process of the previous version (a rolling deploy): no bounds.
    engine = get_state(app).engine
    previous = [
        trace_record(started_at=at[0].timestamp(), session_id="chat", user_id="ana"),
        trace_record(started_at=at[1].timestamp(), session_id="recent"),
    ]
    with engine.begin() as connection:
        rows, _ = store.prepare(previous, POLICY)
        connection.execute(sa.insert(Trace), [{**row, "created_at": at[0]} for row in rows.traces])
    write_batches(
        app,
        [trace_record(started_at=at[2].timestamp(), session_id=key) for key in ("chat", "recent")],
    )
    # The writer's maintenance before its first batch took in the last two hours.
    assert bounds_of(app, SessionBounds) == {"chat": (at[2], at[2]), "recent": (at[1], at[2])}

    bounds.widen_from_traces(engine, at[0] - dt.timedelta(minutes=1))

    assert bounds_of(app, SessionBounds) == {"chat": (at[0], at[2]), "recent": (at[1], at[2])}
    assert bounds_of(app, UserBounds) == {"ana": (at[0], at[0])}


def locale_collated_database(postgres_server: Any) -> sa.Engine:
    """A migrated database whose session ids sort as a locale's collation does
    (``en_US.UTF-8``, the default of many installs): "a" before "B", where the
    writer (Python) sorts "B" first."""
    engine = sa.create_engine(postgres_server.create_database())
    with engine.begin() as connection:
        migrations.upgrade(connection)
        for table in ("llm_logs_traces", "llm_logs_sessions"):
            connection.execute(
                sa.text(
                    f"ALTER TABLE {table} ALTER COLUMN session_id"
                    ' TYPE varchar(255) COLLATE "und-x-icu"'
                )
            )
    return engine


def waits_for_a_lock(connection: sa.Connection) -> bool:
    """Whether another connection to this database waits for a lock now (the
    statistics are read afresh: a transaction sees one snapshot of them)."""
    connection.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
    waiting = sa.text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    return bool(connection.scalar(waiting))


def beside_a_writer(
    engine: sa.Engine, started_at: dt.datetime, other: Callable[[], None]
) -> list[Exception]:
    """Run ``other`` while a writer's batch widens sessions "B" then "a" to
    ``started_at``: started once "B" is locked, "a" locked once ``other`` waits for a
    lock. What ``other`` raised (a deadlock, if it locks "a" first)."""

    def widening(key: str) -> list[dict[str, Any]]:
        return [{"session_id": key, "user_id": None, "started_at": started_at}]

    errors: list[Exception] = []

    def run() -> None:
        try:
            other()
        except Exception as error:
            errors.append(error)

    beside = threading.Thread(target=run)
    try:
        with engine.begin() as connection:
            bounds.add(connection, widening("B"))
            beside.start()
            deadline = time.monotonic() + 10
            while not waits_for_a_lock(connection) and time.monotonic() < deadline:
                time.sleep(0.05)
            bounds.add(connection, widening("a"))
    finally:
        if beside.ident is not None:
            beside.join(10)
    assert not beside.is_alive()
    return errors


@pytest.mark.postgres
def test_the_maintenance_locks_the_bounds_in_the_writers_order_whatever_the_collation(
    postgres_server: Any,
) -> None:
    engine = locale_collated_database(postgres_server)
    try:
        now = time.time()
        records = [trace_record(started_at=now, session_id=key) for key in ("B", "a")]
        rows, _ = store.prepare(records, POLICY)
        with engine.begin() as connection:
            store.write(connection, rows)
            # Stored by an older version's writer, which kept no bounds.
            connection.execute(sa.delete(SessionBounds))

        def widen() -> None:
            bounds.widen_from_traces(engine, dt.datetime.fromtimestamp(now - 60, UTC))

        earlier = rows.traces[0]["started_at"] - dt.timedelta(minutes=1)
        assert beside_a_writer(engine, earlier, widen) == []
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_purge_forgets_ended_bounds_in_the_writers_lock_order(postgres_server: Any) -> None:
    # Two sessions that ended long ago, stored "a" then "B": the purge's scan
    # meets "a" first.
    engine = locale_collated_database(postgres_server)
    try:
        ended = dt.datetime.now(UTC) - dt.timedelta(days=40)
        sessions = cast(sa.Table, SessionBounds.__table__)
        with engine.begin() as connection:
            for key in ("a", "B"):
                connection.execute(
                    sa.insert(sessions).values(session_id=key, first_at=ended, last_at=ended)
                )

        def purge() -> None:
            bounds.forget_ended(engine, dt.datetime.now(UTC) - dt.timedelta(days=30))

        assert beside_a_writer(engine, ended - dt.timedelta(hours=1), purge) == []
        with engine.connect() as connection:
            # Still ended before the cutoff once widened: both go.
            assert connection.scalar(sa.select(sa.func.count()).select_from(sessions)) == 0
    finally:
        engine.dispose()
