"""The extension's own Alembic environment.

Our tables are versioned apart from the host's: revisions ship inside the
package, the version is kept in ``llm_logs_alembic_version``, and the host's
Flask-Migrate is told to look away from our tables. So the host's
``flask db upgrade`` never meets a second head, and its ``flask db migrate``
never proposes to create or drop a table of ours.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from flask import Flask
from flask import appcontext_pushed
from sqlalchemy.engine import Connection

from .. import partitions
from ..models import Base

VERSION_TABLE = "llm_logs_alembic_version"
#: The PostgreSQL advisory lock our upgrades and downgrades take turns with:
#: "llm-logs" read as a 64-bit number.
MIGRATION_LOCK_KEY = int.from_bytes(b"llm-logs", "big")
#: Where Alembic finds our ``env.py`` and revisions: inside the package.
SCRIPT_LOCATION = "flask_llm_logs:migrations"
OWN_TABLES = frozenset(Base.metadata.tables) | {VERSION_TABLE}


def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """An Alembic ``include_name`` filter that hides the extension's tables and partitions.

    Installed on the host's Flask-Migrate automatically; exported for hosts
    that run Alembic without Flask-Migrate.
    """
    if type_ != "table" or name is None:
        return True
    return name not in OWN_TABLES and not partitions.is_part(name)


def _chain(existing: Callable[..., bool] | None) -> Callable[..., bool]:
    if existing is None or getattr(existing, "_llm_logs", False):
        return existing or include_name

    def chained(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
        return include_name(name, type_, parent_names) and existing(name, type_, parent_names)

    chained._llm_logs = True  # type: ignore[attr-defined]
    return chained


def _install_filter(app: Flask) -> bool:
    migrate = app.extensions.get("migrate")
    if migrate is None:
        return False
    args = migrate.configure_args
    args["include_name"] = _chain(args.get("include_name"))
    return True


def hide_tables_from_host_migrations(app: Flask) -> None:
    """Add :func:`include_name` to the host's Flask-Migrate, now or once it exists.

    Flask-Migrate may be initialised before or after us; its ``flask db``
    commands always push an app context, so waiting for the first push covers
    the second order.
    """
    if _install_filter(app):
        return

    def on_push(sender: Flask, **kwargs: Any) -> None:
        if _install_filter(sender):
            appcontext_pushed.disconnect(on_push, sender=app)

    appcontext_pushed.connect(on_push, sender=app, weak=False)


def alembic_config(connection: Connection, output: io.StringIO | None = None) -> Config:
    config = Config(stdout=output) if output is not None else Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


@contextlib.contextmanager
def _one_at_a_time(connection: Connection) -> Iterator[None]:
    """Run the block in one transaction, after any other migration of ours committed.

    Replicas deploying at once all run ``flask llm-logs db upgrade``: without
    the lock each sees an empty version table, creates it, and all but one
    fail. With it the first upgrades and the others, once it committed, find
    nothing left to do. PostgreSQL only: SQLite has no concurrent DDL to order.
    """
    transaction = None if connection.in_transaction() else connection.begin()
    with transaction or contextlib.nullcontext():
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        yield


def upgrade(connection: Connection, revision: str = "head") -> None:
    with _one_at_a_time(connection):
        command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    with _one_at_a_time(connection):
        command.downgrade(alembic_config(connection), revision)


def current(connection: Connection) -> str:
    output = io.StringIO()
    command.current(alembic_config(connection, output), verbose=False)
    return output.getvalue().strip()
