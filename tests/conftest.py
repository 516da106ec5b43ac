"""Fixtures shared by the whole suite.

Database tests run twice: on SQLite (a file per test) and on PostgreSQL (a
database made for this pytest process, so parallel runs never meet). Without
a reachable PostgreSQL or Redis those tests skip with a message, except in CI
(``CI`` set), where they fail: there they are required.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import scoped_session

from flask_llm_logs import LlmLogs
from flask_llm_logs import migrations
from flask_llm_logs.models import Base
from flask_llm_logs.state import get_state

POSTGRES_SERVER = os.environ.get(
    "LLM_LOGS_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("LLM_LOGS_TEST_REDIS", "redis://127.0.0.1:6379/0")
# ``import litellm`` fetches a price map from the internet unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

#: ``recorder_errors`` fails a test during which the recorder logged an
#: internal error; ``web`` and ``browser`` hold the UI tests' fixtures.
pytest_plugins = [
    "pytester",
    "tests.helpers.instrumentation",
    "tests.helpers.recorder_errors",
    "tests.helpers.web",
    "tests.helpers.browser",
    "tests.helpers.alerts",
    "tests.helpers.otel",
]


def unavailable(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({error.__class__.__name__}: {error})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; it is required in CI")
    pytest.skip(message)


class PostgresServer:
    """Makes throw-away databases on the test PostgreSQL server."""

    def __init__(self, server_url: str) -> None:
        self.server_url = sa.make_url(server_url)
        self.engine = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create_database(self) -> str:
        name = f"llm_logs_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with self.engine.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.engine.connect() as connection:
            for name in self.created:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.engine.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer(POSTGRES_SERVER)
    try:
        with server.engine.connect():
            pass
    except sa.exc.OperationalError as error:
        unavailable(f"PostgreSQL at {POSTGRES_SERVER}", error)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """A database of this session with the extension's tables, migrated once."""
    url = postgres_server.create_database()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        migrations.upgrade(connection)
    engine.dispose()
    return url


def _empty_tables(url: str) -> None:
    engine = sa.create_engine(url)
    tables = ", ".join(Base.metadata.tables)
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session: each test gets a copy of it.

    Running the ten migrations took half a second a test, over a thousand
    tests; copying the file takes a millisecond.
    """
    path = tmp_path_factory.mktemp("template") / "logs.sqlite3"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        migrations.upgrade(connection)
    engine.dispose()
    return path


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: each test runs once per backend."""
    if request.param == "sqlite":
        path = tmp_path / "logs.sqlite3"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        return f"sqlite:///{path}"
    postgres_url: str = request.getfixturevalue("postgres_url")
    _empty_tables(postgres_url)
    return postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A database without the extension's tables: before ``flask llm-logs db upgrade``."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    return request.getfixturevalue("postgres_server").create_database()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError as error:
        unavailable(f"Redis at {REDIS_URL}", error)
    finally:
        connection.close()
    return REDIS_URL


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build a test app with the extension; keyword arguments go to ``app.config``."""
    apps: list[Flask] = []

    def make(**config: Any) -> Flask:
        app = Flask(f"test_app_{len(apps)}", instance_path=str(tmp_path / "instance"))
        app.config.update(
            TESTING=True,
            SECRET_KEY="test-secret",
            SQLALCHEMY_DATABASE_URI=database_url,
            LLM_LOGS_REDIS_URL=REDIS_URL,
            LLM_LOGS_QUEUE=f"llm_logs_test_{uuid.uuid4().hex[:8]}",
        )
        app.config.update(config)
        LlmLogs(app)
        apps.append(app)
        return app

    yield make
    for app in apps:
        state = app.extensions["llm_logs"]
        state.shutdown()
        with app.app_context():
            for engine in state.db.engines.values():
                engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def db_session(app: Flask) -> scoped_session[Any]:
    return get_state(app).session
