"""Whether the database is at the package's migration head, said in one line.

Before ``flask llm-logs db upgrade`` (or after a package upgrade, before the
next one) every query of ours fails with a driver error quoting its SQL. The
UI, the CLI and the writer turn such an error into :func:`describe`'s line
instead; ``flask llm-logs db check`` asks :func:`schema_problem` up front.
Nothing here runs on a path that succeeds: only a failed query pays for the
check.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine

from . import SCRIPT_LOCATION
from . import VERSION_TABLE

UPGRADE_COMMAND = "flask llm-logs db upgrade"

#: PostgreSQL's "undefined table" and "undefined column" (SQLSTATE).
_UNDEFINED_SQLSTATES = frozenset({"42P01", "42703"})
#: SQLite says it in words only.
_SQLITE_MISSING = ("no such table", "no such column", "has no column named")


@functools.cache
def _script() -> ScriptDirectory:
    """The package's revisions (they never change within a process)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return ScriptDirectory.from_config(config)


def schema_problem(connection: Connection) -> str | None:
    """What is wrong with the database's revision, in one line; ``None`` at head."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    current = ", ".join(context.get_current_heads())
    expected = ", ".join(_script().get_heads())
    if current == expected:
        return None
    if not current:
        return f"the flask-llm-logs tables do not exist yet: run `{UPGRADE_COMMAND}`"
    try:
        for revision in context.get_current_heads():
            _script().get_revision(revision)
    except CommandError:
        return (
            f"the flask-llm-logs tables are at revision {current}, which this version of"
            " flask-llm-logs does not know (a newer one migrated them)"
        )
    return (
        f"the flask-llm-logs tables are at revision {current}, this version of"
        f" flask-llm-logs needs {expected}: run `{UPGRADE_COMMAND}`"
    )


def is_missing_schema_error(error: BaseException) -> bool:
    """Whether a driver error says a table or column of ours does not exist."""
    if not isinstance(error, sa.exc.DBAPIError):
        return False
    original = error.orig
    sqlstate = getattr(original, "pgcode", None) or getattr(original, "sqlstate", None)
    if sqlstate in _UNDEFINED_SQLSTATES:
        return True
    message = str(original).lower()
    return any(words in message for words in _SQLITE_MISSING)


def describe(error: BaseException, engine: Engine) -> str | None:
    """The one-line explanation of ``error`` when the tables are missing or behind.

    ``None`` when ``error`` is something else, or when the database is at
    head after all (a table dropped by hand): the caller handles it as
    before. A database that cannot be asked is "something else" too.
    """
    if not is_missing_schema_error(error):
        return None
    try:
        with engine.connect() as connection:
            return schema_problem(connection)
    except sa.exc.SQLAlchemyError:
        return None
