"""The extension's own migrations, and a host app that has migrations of its own."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from flask_llm_logs import LlmLogs
from flask_llm_logs import migrations
from flask_llm_logs import partitions
from flask_llm_logs.migrations import VERSION_TABLE
from flask_llm_logs.models import Base
from flask_llm_logs.models import Trace
from flask_llm_logs.models import metrics_table
from flask_llm_logs.tracing import aggregate
from flask_llm_logs.tracing import latency
from flask_llm_logs.tracing import search

OWN_TABLES = set(Base.metadata.tables)
HEAD = "0017"
#: The revision before HEAD: where a default downgrade lands.
PREVIOUS = "0016"
#: The tables HEAD creates, gone after a default downgrade.
TABLES_OF_HEAD = {"llm_logs_sessions", "llm_logs_users"}


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def make_plain_app(url: str) -> Flask:
    app = Flask("plain")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    LlmLogs(app)
    return app


def test_upgrade_current_downgrade_through_the_cli(empty_database_url: str) -> None:
    app = make_plain_app(empty_database_url)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["llm-logs", "db", "current"])
    assert result.exit_code == 0, result.output
    assert "none" in result.output

    result = runner.invoke(args=["llm-logs", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert OWN_TABLES | {VERSION_TABLE} <= table_names(empty_database_url)

    result = runner.invoke(args=["llm-logs", "db", "current"])
    assert f"{HEAD} (head)" in result.output

    result = runner.invoke(args=["llm-logs", "db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    assert not OWN_TABLES & table_names(empty_database_url)

    # As with Flask-Migrate's `flask db downgrade`, the default is one step back.
    assert runner.invoke(args=["llm-logs", "db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["llm-logs", "db", "downgrade"])
    assert result.exit_code == 0, result.output
    assert PREVIOUS in runner.invoke(args=["llm-logs", "db", "current"]).output
    assert table_names(empty_database_url) >= OWN_TABLES - TABLES_OF_HEAD
    app.extensions["llm_logs"].shutdown()


def test_db_commands_report_json(empty_database_url: str) -> None:
    app = make_plain_app(empty_database_url)
    runner = app.test_cli_runner()

    def invoke_json(*args: str, exit_code: int = 0) -> Any:
        result = runner.invoke(args=["llm-logs", "db", *args, "--json"])
        assert result.exit_code == exit_code, result.output
        return json.loads(result.stdout)

    assert invoke_json("current") == {"current": None}
    report = invoke_json("check", exit_code=1)
    assert report["at_head"] is False and "flask llm-logs db upgrade" in report["problem"]
    assert invoke_json("upgrade") == {"target": "head", "current": f"{HEAD} (head)"}
    assert invoke_json("check") == {"at_head": True, "problem": None}
    assert invoke_json("downgrade", "base") == {"target": "base", "current": None}
    app.extensions["llm_logs"].shutdown()


def test_upgrade_again_keeps_the_data(empty_database_url: str) -> None:
    app = make_plain_app(empty_database_url)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["llm-logs", "db", "upgrade"]).exit_code == 0
    with app.app_context():
        session = app.extensions["llm_logs"].session
        session.add(Trace(name="kept"))
        session.commit()
    assert runner.invoke(args=["llm-logs", "db", "upgrade"]).exit_code == 0
    with app.app_context():
        assert [t.name for t in session.query(Trace)] == ["kept"]
    app.extensions["llm_logs"].shutdown()


def build_host_app(url: str, migrations_dir: Path, *, migrate_first: bool) -> tuple[Flask, Any]:
    """A host with its own model and Flask-Migrate, in either init order."""
    db = SQLAlchemy()

    # Flask-SQLAlchemy makes db.Model at run time; mypy sees an unknown Any.
    class Customer(db.Model):  # type: ignore[name-defined, misc]
        id = db.Column(db.Integer, primary_key=True)
        email = db.Column(db.String(255), nullable=False)

    app = Flask("host")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(app)
    migrate = Migrate(directory=str(migrations_dir))
    if migrate_first:
        migrate.init_app(app, db)
        LlmLogs(app, db=db)
    else:
        LlmLogs(app, db=db)
        migrate.init_app(app, db)
    return app, Customer


def invoke(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, f"flask {' '.join(args)} failed:\n{result.output}"
    return result.output


def revision_texts(migrations_dir: Path) -> list[str]:
    return [path.read_text() for path in (migrations_dir / "versions").glob("*.py")]


@pytest.mark.postgres
@pytest.mark.parametrize("migrate_first", [True, False], ids=["migrate-first", "llm-logs-first"])
def test_host_flask_migrate_never_sees_our_tables(
    postgres_server: Any, tmp_path: Path, migrate_first: bool
) -> None:
    url = postgres_server.create_database()
    migrations_dir = tmp_path / "migrations"
    app, _ = build_host_app(url, migrations_dir, migrate_first=migrate_first)

    # Our tables exist before the host's first autogenerate: the worst case.
    invoke(app, "llm-logs", "db", "upgrade")
    invoke(app, "db", "init")
    invoke(app, "db", "migrate", "-m", "customers")
    (first,) = revision_texts(migrations_dir)
    assert "customer" in first
    assert "llm_logs" not in first

    invoke(app, "db", "upgrade")  # one head only: no "Multiple head revisions"
    assert "customer" in table_names(url)
    assert table_names(url) >= OWN_TABLES

    invoke(app, "db", "migrate", "-m", "nothing new")
    for text in revision_texts(migrations_dir):
        assert "llm_logs" not in text
    invoke(app, "db", "upgrade")
    invoke(app, "llm-logs", "db", "upgrade")
    assert HEAD in invoke(app, "llm-logs", "db", "current")
    assert "alembic_version" in table_names(url)
    app.extensions["llm_logs"].shutdown()


@pytest.mark.postgres
def test_host_migrations_before_ours_exist(postgres_server: Any, tmp_path: Path) -> None:
    """The host migrates first; ours come later, and its autogenerate stays quiet."""
    url = postgres_server.create_database()
    migrations_dir = tmp_path / "migrations"
    app, _ = build_host_app(url, migrations_dir, migrate_first=True)
    invoke(app, "db", "init")
    invoke(app, "db", "migrate", "-m", "customers")
    invoke(app, "db", "upgrade")
    invoke(app, "llm-logs", "db", "upgrade")
    output = invoke(app, "db", "migrate", "-m", "after llm-logs")
    assert "llm_logs" not in output
    for text in revision_texts(migrations_dir):
        assert "llm_logs" not in text
    app.extensions["llm_logs"].shutdown()


#: GIN indexes the models declare with ``ddl_if(dialect="postgresql")``.
POSTGRESQL_ONLY_INDEXES = {
    "ix_llm_logs_traces_metadata",
    "ix_llm_logs_traces_models",
    "ix_llm_logs_traces_tags",
    "ix_llm_logs_spans_search",
}
SEARCH_INDEX = "ix_llm_logs_spans_search"


def test_migrations_match_the_models(empty_database_url: str) -> None:
    """The shipped revisions build exactly the tables, columns and indexes of the models."""
    engine = sa.create_engine(empty_database_url)
    postgresql = engine.dialect.name == "postgresql"

    def include_object(item: Any, name: str | None, type_: str, *args: Any) -> bool:
        if name in POSTGRESQL_ONLY_INDEXES and not postgresql:
            return False
        return name != VERSION_TABLE and not (name and partitions.is_part(name))

    try:
        with engine.begin() as connection:
            migrations.upgrade(connection)
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": include_object}
            )
            assert compare_metadata(context, Base.metadata) == []
            indexes = {
                index["name"] for index in sa.inspect(connection).get_indexes("llm_logs_spans")
            }
            assert (SEARCH_INDEX in indexes) is postgresql
    finally:
        engine.dispose()


def test_spans_stored_before_0002_become_searchable(empty_database_url: str) -> None:
    """0002 fills the search words of existing spans, cut as the writer cuts them."""
    engine = sa.create_engine(empty_database_url)
    spans = sa.table(
        "llm_logs_spans",
        *(sa.column(name) for name in ("name", "kind", "status", "metadata", "input", "output")),
        *(sa.column(name, sa.Uuid()) for name in ("id", "trace_id")),
        *(sa.column(name, sa.DateTime(timezone=True)) for name in ("started_at", "created_at")),
    )
    now = dt.datetime.now(dt.timezone.utc)
    rows: list[dict[str, str | None]] = [
        # As SQLAlchemy's JSON type writes it on SQLite: non-ASCII escaped.
        {"input": '[{"content": "Old Quasar notes from Z\\u00fcrich"}]', "output": '"done"'},
        {"input": None, "output": None},
    ]
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0001")
            for row in rows:
                span_id = uuid.uuid4()
                fields = {"trace_id": span_id, "name": "old", "kind": "llm", "status": "done"}
                fields.update(metadata="{}", started_at=now, created_at=now, **row)
                connection.execute(sa.insert(spans).values(id=span_id, **fields))
            migrations.upgrade(connection)
            stored = connection.execute(sa.text("SELECT search FROM llm_logs_spans")).scalars()
            words = [None if w is None else {x.strip("'") for x in w.split()} for w in stored]
            assert sorted(words, key=str) == sorted(
                [None, {"content", "old", "quasar", "notes", "from", "zürich", "done"}], key=str
            )
            if engine.dialect.name == "postgresql":
                matches = sa.text(
                    "SELECT count(*) FROM llm_logs_spans WHERE search @@ CAST(:words AS tsquery)"
                )
                assert connection.execute(matches, {"words": search.query("QUASAR")}).scalar() == 1
            migrations.downgrade(connection, "0001")
            columns = {c["name"] for c in sa.inspect(connection).get_columns("llm_logs_spans")}
            assert "search" not in columns
            indexes = {
                index["name"] for index in sa.inspect(connection).get_indexes("llm_logs_spans")
            }
            assert (SEARCH_INDEX in indexes) is (engine.dialect.name == "postgresql")
    finally:
        engine.dispose()


def _column_types(connection: sa.Connection, table: str) -> dict[str, str]:
    columns = sa.inspect(connection).get_columns(table)
    return {c["name"]: str(c["type"]) for c in columns if c["name"].endswith("_tokens")}


def test_0003_makes_token_counts_64_bit_and_back(empty_database_url: str) -> None:
    """Token counts above 2**31 fit after 0003; what was stored before survives both ways."""
    engine = sa.create_engine(empty_database_url)
    traces = sa.table(
        "llm_logs_traces",
        *(sa.column(name) for name in ("name", "status", "metadata", "models")),
        *(sa.column(name) for name in ("input_tokens", "output_tokens")),
        *(sa.column(name) for name in ("cached_tokens", "reasoning_tokens", "spans_count")),
        sa.column("id", sa.Uuid()),
        *(sa.column(name, sa.DateTime(timezone=True)) for name in ("started_at", "created_at")),
    )
    now = dt.datetime.now(dt.timezone.utc)
    trace_id = uuid.uuid4()
    tokens = sa.select(traces.c.input_tokens).where(traces.c.id == trace_id)
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0002")
            connection.execute(
                sa.insert(traces).values(
                    id=trace_id,
                    name="old",
                    status="completed",
                    metadata="{}",
                    models="[]",
                    input_tokens=2**31 - 1,
                    output_tokens=0,
                    cached_tokens=0,
                    reasoning_tokens=0,
                    spans_count=0,
                    started_at=now,
                    created_at=now,
                )
            )
            migrations.upgrade(connection)
            for table in ("llm_logs_traces", "llm_logs_spans"):
                assert set(_column_types(connection, table).values()) == {"BIGINT"}, table
            assert connection.execute(tokens).scalar() == 2**31 - 1
            connection.execute(
                sa.update(traces).where(traces.c.id == trace_id).values(input_tokens=2**40)
            )
            assert connection.execute(tokens).scalar() == 2**40
            connection.execute(
                sa.update(traces).where(traces.c.id == trace_id).values(input_tokens=12)
            )
            migrations.downgrade(connection, "0002")
            for table in ("llm_logs_traces", "llm_logs_spans"):
                assert set(_column_types(connection, table).values()) == {"INTEGER"}, table
            assert connection.execute(tokens).scalar() == 12
    finally:
        engine.dispose()


def test_0004_adds_cache_write_tokens_to_existing_rows_and_back(empty_database_url: str) -> None:
    """Traces stored before 0004 start at zero cache writes; downgrade drops the column."""
    engine = sa.create_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0003")
            insert_old_trace(connection, "before 0004")
            migrations.upgrade(connection, "0004")
            writes = sa.text("SELECT cache_write_tokens FROM llm_logs_traces")
            assert connection.execute(writes).scalar() == 0
            migrations.downgrade(connection, "0003")
            for table in ("llm_logs_traces", "llm_logs_spans"):
                names = {c["name"] for c in sa.inspect(connection).get_columns(table)}
                assert "cache_write_tokens" not in names, table
    finally:
        engine.dispose()


_TOKENS_BEFORE_0004 = ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")


def insert_old_trace(connection: sa.Connection, name: str, **columns: object) -> None:
    """A trace row as an older revision stores it: only the columns it has then."""
    now = dt.datetime.now(dt.timezone.utc)
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "name": name,
        "status": "completed",
        "metadata": "{}",
        "models": "[]",
        "spans_count": 0,
        "started_at": now,
        "created_at": now,
        **dict.fromkeys(_TOKENS_BEFORE_0004, 1),
        **columns,
    }
    traces = sa.table(
        "llm_logs_traces",
        *(sa.column(key) for key in values if key not in ("id", "started_at", "created_at")),
        sa.column("id", sa.Uuid()),
        *(sa.column(key, sa.DateTime(timezone=True)) for key in ("started_at", "created_at")),
    )
    connection.execute(sa.insert(traces).values(**values))


_TRACE_COLUMNS_OF_0005 = {"user_id", "session_id", "tags", "environment"}


def test_0005_adds_users_sessions_tags_scores_and_back(empty_database_url: str) -> None:
    """Traces stored before 0005 get no user and no tags; downgrade drops it all, keeps them."""
    engine = sa.create_engine(empty_database_url)
    postgresql = engine.dialect.name == "postgresql"
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0004")
            insert_old_trace(connection, "before 0005", cache_write_tokens=0)
            migrations.upgrade(connection, "0005")
            old = connection.execute(
                sa.text("SELECT user_id, session_id, tags, environment FROM llm_logs_traces")
            ).one()
            tags = old.tags if postgresql else json.loads(old.tags)
            assert (old.user_id, old.session_id, tags, old.environment) == (None, None, [], None)
            inspector = sa.inspect(connection)
            assert "llm_logs_scores" in inspector.get_table_names()
            indexes = {index["name"] for index in inspector.get_indexes("llm_logs_traces")}
            assert ("ix_llm_logs_traces_tags" in indexes) is postgresql
            assert "ix_llm_logs_traces_user_id_started_at" in indexes

            migrations.downgrade(connection, "0004")
            inspector = sa.inspect(connection)
            assert "llm_logs_scores" not in inspector.get_table_names()
            names = {c["name"] for c in inspector.get_columns("llm_logs_traces")}
            assert not names & _TRACE_COLUMNS_OF_0005
            kept = connection.execute(sa.text("SELECT name FROM llm_logs_traces")).scalars()
            assert list(kept) == ["before 0005"]
    finally:
        engine.dispose()


def test_0006_fills_the_metrics_from_the_spans_stored_before_and_back(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Existing LLM spans are summed under their trace's name, user and environment."""
    engine = sa.create_engine(empty_database_url)
    span_columns = ("name", "kind", "status", "metadata", "model", "provider", "input_tokens")
    spans = sa.table(
        "llm_logs_spans",
        *(sa.column(name) for name in (*span_columns, "cost", "duration_ms")),
        *(sa.column(name, sa.Uuid()) for name in ("id", "trace_id")),
        *(sa.column(name, sa.DateTime(timezone=True)) for name in ("started_at", "created_at")),
    )
    noon = dt.datetime(2026, 12, 2, 12, 0, 30, tzinfo=dt.timezone.utc)
    trace_id = uuid.uuid4()
    old_spans = [
        ("llm", "gpt-4.1", "completed", 100, 0.25, 400.0, '{"prompt_version_id": 3}'),
        ("llm", "gpt-4.1", "error", 50, 0.5, 1200.0, "{}"),
        ("llm", "gpt-4.1-mini", "completed", 7, None, 90.0, "{}"),
        ("tool", None, "completed", None, None, 5.0, "{}"),
    ]
    grain_one = sa.text(
        "SELECT model, prompt_version_id, name, user_id, environment, calls, errors,"
        " input_tokens, cost, duration_ms_sum FROM llm_logs_metrics WHERE grain = 1"
        " ORDER BY model, prompt_version_id"
    )
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0005")
            insert_old_trace(
                connection,
                "report",
                id=trace_id,
                cache_write_tokens=0,
                tags="[]",
                user_id="alice",
                environment="production",
            )
            for kind, model, status, tokens, cost, duration, metadata in old_spans:
                connection.execute(
                    sa.insert(spans).values(
                        id=uuid.uuid4(),
                        trace_id=trace_id,
                        name="call",
                        kind=kind,
                        status=status,
                        metadata=metadata,
                        model=model,
                        provider="openai",
                        input_tokens=tokens,
                        cost=cost,
                        duration_ms=duration,
                        started_at=noon,
                        created_at=noon,
                    )
                )
            migrations.upgrade(connection, "0006")
            rows = [tuple(row) for row in connection.execute(grain_one)]
            assert [row[:8] for row in rows] == [
                ("gpt-4.1", 0, "report", "alice", "production", 1, 1, 50),
                ("gpt-4.1", 3, "report", "alice", "production", 1, 0, 100),
                ("gpt-4.1-mini", 0, "report", "alice", "production", 1, 0, 7),
            ]
            assert [float(row[8]) for row in rows] == [0.5, 0.25, 0.0]
            assert [row[9] for row in rows] == [1200.0, 400.0, 90.0]
            totals = sa.text("SELECT bucket, calls, errors FROM llm_logs_metrics WHERE grain = 30")
            [(bucket, calls, errors)] = connection.execute(totals).all()
            assert (calls, errors) == (3, 1)
            assert str(bucket).startswith("2026-12-02 00:00:00")
            assert "llm_logs_metrics: 3 of 3 LLM spans added" in capsys.readouterr().err

            migrations.downgrade(connection, "0005")
            assert "llm_logs_metrics" not in sa.inspect(connection).get_table_names()
            kept = connection.execute(sa.text("SELECT count(*) FROM llm_logs_spans")).scalar()
            assert kept == len(old_spans)
    finally:
        engine.dispose()


def test_0007_adds_labels_and_splits_to_existing_prompts_and_back(empty_database_url: str) -> None:
    """Prompts saved before 0007 get no label and no split; downgrade drops them, keeps prompts."""
    label_tables = {"llm_logs_prompt_labels", "llm_logs_prompt_label_moves"}
    engine = sa.create_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0005")
            connection.execute(
                sa.text(
                    "INSERT INTO llm_logs_prompts (slug, name, tags, created_at, updated_at)"
                    " VALUES ('old', 'Old', '[]', :now, :now)"
                ),
                {"now": dt.datetime.now(dt.timezone.utc)},
            )
            migrations.upgrade(connection, "0007")
            assert connection.execute(sa.text("SELECT split FROM llm_logs_prompts")).one() == (
                None,
            )
            tables = set(sa.inspect(connection).get_table_names())
            assert tables >= label_tables

            migrations.downgrade(connection, "0005")
            inspector = sa.inspect(connection)
            assert not label_tables & set(inspector.get_table_names())
            assert "split" not in {c["name"] for c in inspector.get_columns("llm_logs_prompts")}
            kept = connection.execute(sa.text("SELECT slug FROM llm_logs_prompts")).scalars()
            assert list(kept) == ["old"]
    finally:
        engine.dispose()


def test_0008_adds_prompt_source_columns_and_back(empty_database_url: str) -> None:
    """Prompts stored before 0008 come from no file; downgrade drops the columns, keeps them."""
    engine = sa.create_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0007")
            connection.execute(
                sa.text(
                    "INSERT INTO llm_logs_prompts (slug, name, tags, created_at, updated_at)"
                    " VALUES ('old', 'Old', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            migrations.upgrade(connection, "0008")
            old = connection.execute(
                sa.text("SELECT source_path, source_hash FROM llm_logs_prompts")
            ).one()
            assert tuple(old) == (None, None)
            connection.execute(sa.text("UPDATE llm_logs_prompts SET source_path = 'skills/old.md'"))

            migrations.downgrade(connection, "0007")
            columns = {c["name"] for c in sa.inspect(connection).get_columns("llm_logs_prompts")}
            assert not columns & {"source_path", "source_hash"}
            kept = connection.execute(sa.text("SELECT slug FROM llm_logs_prompts")).scalars()
            assert list(kept) == ["old"]
    finally:
        engine.dispose()


def test_0010_adds_apm_ids_to_traces_and_back(empty_database_url: str) -> None:
    """Traces stored before 0010 have no APM trace; downgrade drops the columns, keeps them."""
    engine = sa.create_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0009")
            insert_old_trace(connection, "before 0010", cache_write_tokens=0, tags="[]")
            migrations.upgrade(connection, "0010")
            old = connection.execute(
                sa.text("SELECT apm_trace_id, apm_span_id FROM llm_logs_traces")
            ).one()
            assert tuple(old) == (None, None)
            migrations.downgrade(connection, "0009")
            names = {c["name"] for c in sa.inspect(connection).get_columns("llm_logs_traces")}
            assert not names & {"apm_trace_id", "apm_span_id"}
            kept = connection.execute(sa.text("SELECT name FROM llm_logs_traces")).scalars()
            assert list(kept) == ["before 0010"]
    finally:
        engine.dispose()


#: A replica deploying: it starts up, then runs ``flask llm-logs db upgrade``.
REPLICA = """
import os
from flask import Flask
from flask.cli import ScriptInfo
from flask_llm_logs import LlmLogs

app = Flask("replica")
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
LlmLogs(app)
app.cli.main(["llm-logs", "db", "upgrade"], obj=ScriptInfo(create_app=lambda: app))
"""


def waiting_for_locks(engine: sa.Engine, database: str | None) -> int:
    """How many connections to ``database`` wait for a lock (a row, a table, an advisory lock)."""
    with engine.connect() as connection:
        return int(
            connection.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = :name AND wait_event_type = 'Lock'"
                ),
                {"name": database},
            )
        )


@pytest.mark.postgres
def test_upgrades_at_once_all_succeed(postgres_server: Any) -> None:
    """Replicas deploying at once: one upgrades, the others wait for it, then have nothing to do.

    A transaction of the test creates the version table and holds it
    uncommitted until every replica waits: a slow first upgrade, so that
    the replicas surely meet (without the lock, all but one then fail).
    """
    url = postgres_server.create_database()
    database = sa.make_url(url).database
    engine = sa.create_engine(url)
    monitor = sa.create_engine(url)
    env = {**os.environ, "DATABASE_URL": url}
    with engine.connect() as slow_first:
        slow_first.execute(sa.text(f"CREATE TABLE {VERSION_TABLE} (version_num varchar(32))"))
        replicas = [
            subprocess.Popen(
                [sys.executable, "-c", REPLICA],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(3)
        ]
        deadline = time.monotonic() + 60
        while waiting_for_locks(monitor, database) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        slow_first.rollback()
    outputs = [replica.communicate(timeout=120)[0] for replica in replicas]
    engine.dispose()
    monitor.dispose()
    assert [replica.returncode for replica in replicas] == [0, 0, 0], outputs
    app = make_plain_app(url)
    assert f"{HEAD} (head)" in invoke(app, "llm-logs", "db", "current")
    app.extensions["llm_logs"].shutdown()


def test_0006_adds_the_llm_spans_stored_before_it_to_the_metrics(
    empty_database_url: str,
) -> None:
    """The backfill sums existing spans' costs (PostgreSQL reads them back as Decimal)."""
    engine = sa.create_engine(empty_database_url)
    spans = sa.table(
        "llm_logs_spans",
        *(sa.column(name) for name in ("name", "kind", "status", "metadata", "model")),
        sa.column("cost", sa.Numeric(18, 10)),
        sa.column("duration_ms", sa.Float()),
        *(sa.column(name, sa.Uuid()) for name in ("id", "trace_id")),
        *(sa.column(name, sa.DateTime(timezone=True)) for name in ("started_at", "created_at")),
    )
    now = dt.datetime.now(dt.timezone.utc)
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0005")
            for cost in (0.25, 0.5):
                fields: dict[str, object] = {"name": "chat", "kind": "llm", "model": "m"}
                fields.update(status="completed", metadata="{}", cost=cost)
                connection.execute(
                    sa.insert(spans).values(
                        id=uuid.uuid4(),
                        trace_id=uuid.uuid4(),
                        duration_ms=100.0,
                        started_at=now,
                        created_at=now,
                        **fields,
                    )
                )
            migrations.upgrade(connection, "0006")
            totals = sa.text("SELECT sum(calls), sum(cost) FROM llm_logs_metrics WHERE grain = 1")
            calls, cost = connection.execute(totals).one()
            assert (calls, float(cost)) == (2, 0.75)
    finally:
        engine.dispose()


def test_0011_partitions_empty_tables_keeps_full_ones_and_back(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Empty tables are partitioned (PostgreSQL), tables with rows are left to
    ``flask llm-logs db partition``; the downgrade keeps the rows in plain tables."""
    engine = sa.create_engine(empty_database_url)
    postgresql = engine.dialect.name == "postgresql"
    trace_id = uuid.uuid4()
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection)
            assert partitions.is_partitioned(connection, "llm_logs_traces") is postgresql
            connection.execute(
                sa.insert(Trace).values(
                    id=trace_id,
                    name="kept",
                    status="completed",
                    metadata={},
                    models=[],
                    tags=[],
                    input_tokens=0,
                    output_tokens=0,
                    cached_tokens=0,
                    cache_write_tokens=0,
                    reasoning_tokens=0,
                    spans_count=0,
                    started_at=dt.datetime.now(dt.timezone.utc),
                    created_at=dt.datetime.now(dt.timezone.utc),
                )
            )
        with engine.begin() as connection:
            migrations.downgrade(connection, "0010")
            assert not partitions.is_partitioned(connection, "llm_logs_traces")
            assert connection.scalar(sa.select(Trace.id)) == trace_id
        capsys.readouterr()
        with engine.begin() as connection:
            migrations.upgrade(connection)
            assert not partitions.is_partitioned(connection, "llm_logs_traces")
            assert partitions.is_partitioned(connection, "llm_logs_spans") is postgresql
            assert connection.scalar(sa.select(Trace.id)) == trace_id
        message = capsys.readouterr().err
        assert ("llm_logs_traces hold rows" in message) is postgresql
    finally:
        engine.dispose()


def llm_span_row(
    trace: uuid.UUID, model: str, duration_ms: float, started_at: dt.datetime
) -> dict[str, Any]:
    """A stored LLM span's row as ``aggregate.minute_sums`` reads it."""
    return {
        "id": uuid.uuid4(),
        "trace_id": trace,
        "kind": "llm",
        "model": model,
        "provider": "openai",
        "status": "completed",
        "input_tokens": 10,
        "output_tokens": 2,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "cost": 0.25,
        "duration_ms": duration_ms,
        "started_at": started_at,
    }


def test_0012_sums_the_day_rows_into_runs_of_days_and_back(empty_database_url: str) -> None:
    """Runs of 3 and 9 days equal what the writer makes, whether or not 0006 made them."""
    engine = sa.create_engine(empty_database_url)
    day = dt.datetime(2026, 11, 3, 12, 30, tzinfo=dt.timezone.utc)
    spans = [
        llm_span_row(trace, model, 100.0 * (1 + n), day + dt.timedelta(days=n, minutes=n))
        for n, (trace, model) in enumerate([(uuid.uuid4(), m) for m in "aabab" * 4])
    ]
    dims = {row["trace_id"]: ("chat", f"user-{n % 3}", "") for n, row in enumerate(spans)}
    everything = aggregate.all_grains(aggregate.minute_sums(spans, dims, {}))
    runs = {g.number for g in aggregate.GRAINS if g.width in aggregate.BLOCK_DAYS}
    before_runs = {key: sums for key, sums in everything.items() if key[0] not in runs}

    def run_rows(connection: sa.Connection) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        table = metrics_table.c
        query = sa.select(
            table.grain, table.bucket, table.model, table.user_id, table.calls, table.cost
        ).add_columns(*(table[name] for name in latency.COLUMNS))
        found = {}
        for row in connection.execute(query.where(table.grain.in_(runs))):
            at = row.bucket if row.bucket.tzinfo else row.bucket.replace(tzinfo=dt.timezone.utc)
            found[(row.grain, at, row.model, row.user_id)] = (
                row.calls,
                float(row.cost),
                {n: row[6 + n] for n in range(latency.BINS) if row[6 + n]},
            )
        return found

    wanted = {
        (grain, key[0], key[1], key[5]): (
            sums.values[0],
            sums.values[6],
            sums.histogram,
        )
        for (grain, key), sums in everything.items()
        if grain in runs
    }
    try:
        for made_by_0006 in (False, True):
            with engine.begin() as connection:
                migrations.upgrade(connection, "0010")
                connection.execute(sa.text("DELETE FROM llm_logs_metrics"))
                upsert = aggregate.upsert(connection.dialect.name)
                aggregate.write_rows(
                    connection, upsert, everything if made_by_0006 else before_runs
                )
                migrations.upgrade(connection, "0012")
                assert run_rows(connection) == wanted
                migrations.downgrade(connection, "0010")
                assert run_rows(connection) == {}
    finally:
        engine.dispose()


def fillfactors(connection: sa.Connection) -> dict[str, list[str] | None]:
    """The storage parameters of the metrics table's plain table or partitions, by name."""
    query = sa.text(
        "SELECT relname, reloptions FROM pg_class"
        " WHERE relkind = 'r' AND relname LIKE 'llm_logs_metrics%'"
    )
    return {name: options for name, options in connection.execute(query)}


@pytest.mark.postgres
def test_0013_indexes_the_twin_an_unfinished_partition_command_left(
    postgres_server: Any,
) -> None:
    """The command's swap keeps the twin's indexes: the twin needs the index too."""
    engine = sa.create_engine(postgres_server.create_database())
    query = sa.text("SELECT indexname FROM pg_indexes WHERE tablename = :table")
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0012")
            twin = partitions.build_twin(connection, "llm_logs_metrics")
            migrations.upgrade(connection, "0013")
            assert "ix_llm_logs_metrics_user__p" in set(connection.scalars(query, {"table": twin}))
            migrations.downgrade(connection, "0012")
            assert "ix_llm_logs_metrics_user__p" not in set(
                connection.scalars(query, {"table": twin})
            )
    finally:
        engine.dispose()


def test_0014_leaves_room_on_the_metrics_pages_and_back(empty_database_url: str) -> None:
    """Every partition gets the fillfactor; the downgrade resets it. SQLite: nothing
    to do, and no error."""
    check_0014(empty_database_url, partitioned=True)


@pytest.mark.postgres
def test_0014_on_a_metrics_table_0011_left_plain(postgres_server: Any) -> None:
    check_0014(postgres_server.create_database(), partitioned=False)


def check_0014(url: str, *, partitioned: bool) -> None:
    """Upgrade to 0014 and back, from a metrics table 0011 partitioned or left plain."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0010")
            if not partitioned:
                # A row makes 0011 leave the table as it is.
                row: dict[str, Any] = {
                    c.name: "" if isinstance(c.type, sa.String) else 0 for c in metrics_table.c
                }
                row["bucket"] = dt.datetime.now(dt.timezone.utc)
                connection.execute(metrics_table.insert().values(row))
            migrations.upgrade(connection, "0013")
            if connection.dialect.name != "postgresql":
                migrations.upgrade(connection, "0014")
                migrations.downgrade(connection, "0013")
                return
            for name in fillfactors(connection):
                connection.execute(sa.text(f'ALTER TABLE "{name}" RESET (fillfactor)'))
            migrations.upgrade(connection, "0014")
            after = fillfactors(connection)
            if partitioned:
                parts = partitions.partitions(connection, "llm_logs_metrics")
                wanted = {p.name for p in parts} | {"llm_logs_metrics_default"}
            else:
                wanted = {"llm_logs_metrics"}
            assert set(after) == wanted
            assert all(options == ["fillfactor=70"] for options in after.values())
            migrations.downgrade(connection, "0013")
            assert all(options is None for options in fillfactors(connection).values())
    finally:
        engine.dispose()


def test_0015_removes_the_oldest_day_an_earlier_purge_left_part_deleted(
    empty_database_url: str,
) -> None:
    """A day whose hours and minutes before a cutoff were purged, while its day row and
    runs kept counting them, goes as a purge now removes a day; a whole day stays."""
    engine = sa.create_engine(empty_database_url)
    day = dt.datetime(2026, 11, 3, tzinfo=dt.timezone.utc)
    trace = uuid.uuid4()
    spans = [
        llm_span_row(trace, "m", 100.0, day + dt.timedelta(hours=hours))
        for hours in (3, 18, 30, 54)
    ]
    rows = aggregate.all_grains(aggregate.minute_sums(spans, {trace: ("chat", "u", "")}, {}))
    c = metrics_table.c

    def calls(connection: sa.Connection, grain: int) -> int:
        query = sa.select(sa.func.coalesce(sa.func.sum(c.calls), 0)).where(c.grain == grain)
        return int(connection.scalar(query) or 0)

    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0014")
            aggregate.write_rows(connection, aggregate.upsert(connection.dialect.name), rows)
            migrations.upgrade(connection, "0015")
            whole = calls(connection, aggregate.BLOCK_BY["9 days"][None].number)
            assert whole == calls(connection, aggregate.MINUTE.number) == 4  # left as it was
            migrations.downgrade(connection, "0014")
            # What the purge before 0015 left with its cutoff at 12:00 on the first day.
            connection.execute(
                sa.delete(metrics_table).where(
                    c.grain.in_(
                        [g.number for g in aggregate.GRAINS if g.width in ("minute", "hour")]
                    ),
                    c.bucket < day + dt.timedelta(hours=12),
                )
            )
            migrations.upgrade(connection, "0015")
            for grain in aggregate.GRAINS:
                assert calls(connection, grain.number) == 2, grain  # the next two days
            first = connection.scalar(sa.select(sa.func.min(c.bucket)).where(c.grain == 3))
            first = first if first.tzinfo else first.replace(tzinfo=dt.timezone.utc)
            assert first == day + dt.timedelta(days=1)
    finally:
        engine.dispose()


def test_0017_fills_the_bounds_of_sessions_and_users_from_the_traces_and_back(
    empty_database_url: str,
) -> None:
    """Each session's and user's first and last trace start, from the traces stored before."""
    engine = sa.create_engine(empty_database_url)
    day = dt.datetime(2026, 11, 3, tzinfo=dt.timezone.utc)

    def at(hours: int) -> dt.datetime:
        return day + dt.timedelta(hours=hours)

    def bounds(connection: sa.Connection, name: str, key: str) -> dict[str, tuple[Any, ...]]:
        times = (sa.column(c, sa.DateTime(timezone=True)) for c in ("first_at", "last_at"))
        rows = connection.execute(sa.select(sa.table(name, sa.column(key), *times)))
        utc = dt.timezone.utc
        return {k: tuple(t if t.tzinfo else t.replace(tzinfo=utc) for t in ts) for k, *ts in rows}

    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0016")
            traces = ((5, "a", "bo"), (0, "a", "ana"), (2, "b", "ana"), (1, None, None))
            for hours, session_id, user_id in traces:
                insert_old_trace(
                    connection,
                    "old",
                    cache_write_tokens=0,
                    tags="[]",
                    started_at=at(hours),
                    session_id=session_id,
                    user_id=user_id,
                )
            migrations.upgrade(connection, "0017")
            assert bounds(connection, "llm_logs_sessions", "session_id") == {
                "a": (at(0), at(5)),
                "b": (at(2), at(2)),
            }
            assert bounds(connection, "llm_logs_users", "user_id") == {
                "ana": (at(0), at(2)),
                "bo": (at(5), at(5)),
            }
            migrations.downgrade(connection, "0016")
            assert not TABLES_OF_HEAD & set(sa.inspect(connection).get_table_names())
            # Up again: filled anew, with what was stored meanwhile (docs/partitions.rst).
            insert_old_trace(
                connection, "new", cache_write_tokens=0, tags="[]", started_at=at(9), user_id="bo"
            )
            migrations.upgrade(connection, "0017")
            assert bounds(connection, "llm_logs_users", "user_id")["bo"] == (at(5), at(9))
    finally:
        engine.dispose()
