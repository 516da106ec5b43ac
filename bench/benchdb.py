"""The PostgreSQL databases the benchmarks run in.

Shared by the scripts in this folder (run as ``python bench/<script>.py``,
which puts this folder on ``sys.path``). The server is
``LLM_LOGS_BENCH_POSTGRES``, default postgres@127.0.0.1:5432.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import sqlalchemy as sa

from flask_llm_logs import migrations
from flask_llm_logs.tracing import aggregate

SERVER = os.environ.get(
    "LLM_LOGS_BENCH_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


def database_url(name: str) -> str:
    """The URL of database ``name`` on the benchmark server."""
    return sa.make_url(SERVER).set(database=name).render_as_string(hide_password=False)


def kept_database(name: str) -> str:
    """The URL of database ``name``, created if it is not there yet.

    It is kept between runs, so that a script filled once (which takes
    minutes) is timed again at once.
    """
    server = sa.create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        exists = connection.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).scalar()
        if not exists:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    return database_url(name)


@contextlib.contextmanager
def throwaway_database(template: str | None = None) -> Iterator[str]:
    """A new database for one run, dropped afterwards even if the run fails: empty, or
    a copy of database ``template`` (a kept one, filled once, that the run changes).

    The copy is of the files (``STRATEGY FILE_COPY``), a checkpoint before and after:
    seconds for gigabytes, where writing them through the WAL took minutes.
    """
    server = sa.create_engine(SERVER, isolation_level="AUTOCOMMIT")
    name = f"llm_logs_bench_{uuid.uuid4().hex[:8]}"
    copy = "" if template is None else f' TEMPLATE "{template}" STRATEGY FILE_COPY'
    with server.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield database_url(name)
    finally:
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def create_tables(url: str, *host_metadata: sa.MetaData) -> None:
    """The extension's tables (through its migrations), plus any of the bench's own."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        migrations.upgrade(connection)
        for metadata in host_metadata:
            metadata.create_all(connection)
    engine.dispose()


def bucket_start(width: str, column: str = "bucket") -> str:
    """SQL for the start of the bucket of ``width`` (``aggregate.ALL_WIDTHS``) ``column`` is in,
    as ``aggregate.truncate`` has it: ``date_trunc``, or a run of days counted from the epoch."""
    if width not in aggregate.BLOCK_DAYS:
        return f"date_trunc('{width}', {column})"
    seconds = aggregate.BLOCK_DAYS[width] * 86400
    return f"to_timestamp(floor(extract(epoch FROM {column}) / {seconds}) * {seconds})"
