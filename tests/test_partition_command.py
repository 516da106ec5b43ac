"""``flask llm-logs db partition``: an installation with rows partitioned while its writer
writes, interrupted and resumed (PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

import flask_llm_logs
from flask_llm_logs import LlmLogs
from flask_llm_logs import migrations
from flask_llm_logs import partitions
from flask_llm_logs import repartition
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.state import get_state
from tests.helpers.writer import span_record
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record

pytestmark = pytest.mark.postgres


class Interrupted(Exception):
    pass


def store_traces(app: Flask, count: int, days_ago: float) -> set[Any]:
    """``count`` traces of two spans, started then ended (an update of each trace row)."""
    ids = set()
    for _ in range(count):
        started = time.time() - days_ago * 86400
        trace = trace_record(started_at=started)
        submit(app, trace, span_record(trace.id, started_at=started, kind="llm", model="m"))
        submit(app, span_record(trace.id, started_at=started + 1))
        submit(app, trace_record(trace.id, started_at=started, status="completed"))
        ids.add(trace.id)
    return ids


def test_an_installation_with_rows_is_partitioned_while_it_writes(
    postgres_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres_server.create_database()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        migrations.upgrade(connection, "0010")
    app = Flask("partitioned_later")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    LlmLogs(app)
    try:
        with app.app_context():
            ids = store_traces(app, 300, days_ago=70) | store_traces(app, 300, days_ago=1)
            assert flask_llm_logs.flush(30)

            # The upgrade leaves tables with rows as they are, and says what to run.
            with engine.begin() as connection:
                migrations.upgrade(connection)
            assert "flask llm-logs db partition" in capsys.readouterr().err
            with engine.connect() as connection:
                assert not partitions.is_partitioned(connection, "llm_logs_spans")
                assert partitions.is_partitioned(connection, "llm_logs_scores")  # was empty

            # Interrupted after two chunks: the copy so far and its watermark stay.
            def stop_after_two(progress: repartition.Progress) -> None:
                if progress.copied >= 400:
                    raise Interrupted

            state = get_state(app)
            with pytest.raises(Interrupted):
                repartition.partition_table(
                    engine, "llm_logs_spans", "month", chunk_size=200, on_progress=stop_after_two
                )
            with engine.connect() as connection:
                copied = connection.scalar(sa.text("SELECT count(*) FROM llm_logs_spans__p"))
                assert copied == 400
                assert not partitions.is_partitioned(connection, "llm_logs_spans")

            # Resumed through the command while the writer keeps writing.
            done = threading.Event()
            written: set[Any] = set()

            def write() -> None:
                with app.app_context():
                    while not done.is_set():
                        written.update(store_traces(app, 5, days_ago=0))
                        time.sleep(0.01)

            writer = threading.Thread(target=write)
            writer.start()
            try:
                result = app.test_cli_runner().invoke(
                    args=["llm-logs", "db", "partition", "--chunk-size", "200"]
                )
            finally:
                done.set()
                writer.join()
            assert result.exit_code == 0, result.output
            assert "rows copied" in result.output
            assert written
            assert flask_llm_logs.flush(30)
            assert state.writer.stats()["dropped"] == 0

            with engine.connect() as connection:
                for table in partitions.TABLES:
                    assert partitions.is_partitioned(connection, table), table
                    assert (
                        connection.scalar(sa.text("SELECT to_regclass(:t)"), {"t": table + "__p"})
                        is None
                    )
                # The twin's partitions and default were made with the table's fillfactor.
                options = connection.execute(
                    sa.text(
                        "SELECT c.relname, c.reloptions FROM pg_inherits i"
                        " JOIN pg_class c ON c.oid = i.inhrelid"
                        " WHERE i.inhparent = 'llm_logs_metrics'::regclass"
                    )
                ).all()
                assert len(options) > 1
                assert all(option == ["fillfactor=70"] for _, option in options), options
                rows = connection.execute(
                    sa.select(Trace.id, Trace.status, Trace.spans_count)
                ).all()
                spans = connection.scalar(sa.select(sa.func.count()).select_from(Span))
                old = partitions.partition_name(
                    "llm_logs_spans",
                    partitions.period_start(
                        dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=70), "month"
                    ),
                    "month",
                )
                assert old in [p.name for p in partitions.partitions(connection, "llm_logs_spans")]
            everything = ids | written
            assert {row.id for row in rows} == everything
            assert {row.status for row in rows} == {"completed"}
            assert {row.spans_count for row in rows} == {2}
            assert spans == 2 * len(everything)
            # Partitioned now: the command has nothing left to do.
            result = app.test_cli_runner().invoke(args=["llm-logs", "db", "partition"])
            assert "partitioned already" in result.output
    finally:
        app.extensions["llm_logs"].shutdown()
        engine.dispose()
