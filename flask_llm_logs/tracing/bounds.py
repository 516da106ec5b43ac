"""The time bounds of sessions and users (:mod:`flask_llm_logs.models.bounds`), kept
by the writer.

:func:`add` runs in the writer's transaction, with the batch's trace rows:
it finds each session's and each user's first and last start in the batch
in Python, and widens the stored bounds to them with one upsert per table
(``first_at = LEAST(stored, new)``, ``last_at = GREATEST(stored, new)``).
Widening commutes and repeats harmlessly, so retried batches, records out
of order and concurrent writers leave the bounds of every trace stored;
the rows are upserted in key order, so two transactions lock them in the
same order and never deadlock each other. A batch whose bounds change
nothing updates no row.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from ..models import SessionBounds
from ..models import Trace
from ..models import UserBounds
from . import arrays

traces = cast(sa.Table, Trace.__table__)

#: The bounds tables by their key, the trace column of that name.
TABLES = {
    "session_id": cast(sa.Table, SessionBounds.__table__),
    "user_id": cast(sa.Table, UserBounds.__table__),
}


def _upsert_text(table: sa.Table, key: str) -> str:
    """The upsert on PostgreSQL: the rows as one array per column (:mod:`.arrays`)."""
    name, quote = arrays.table_name(table), arrays.quote
    first, last = quote("first_at"), quote("last_at")
    return (
        arrays.insert_into(table, (table.c[key], table.c.first_at, table.c.last_at))
        + f" ON CONFLICT ({quote(key)}) DO UPDATE SET"
        + f" {first} = LEAST({name}.{first}, excluded.{first}),"
        + f" {last} = GREATEST({name}.{last}, excluded.{last})"
        + f" WHERE excluded.{first} < {name}.{first} OR excluded.{last} > {name}.{last}"
    )


def _widening(insert: Any, table: sa.Table, key: str, dialect_name: str) -> Any:
    """``insert`` (of rows or of a select) into ``table``, widening the stored bounds of
    a key it has: ``LEAST`` and ``GREATEST`` (SQLite's ``min`` and ``max`` of two
    values), and no update where they would not change."""
    least, greatest = (
        (sa.func.least, sa.func.greatest)
        if dialect_name == "postgresql"
        else (sa.func.min, sa.func.max)
    )
    stored, new = table.c, insert.excluded
    return insert.on_conflict_do_update(
        index_elements=[stored[key]],
        set_={
            "first_at": least(stored.first_at, new.first_at),
            "last_at": greatest(stored.last_at, new.last_at),
        },
        where=sa.or_(new.first_at < stored.first_at, new.last_at > stored.last_at),
    )


#: A key's first and last trace start.
_KeyBounds = tuple[str, dt.datetime, dt.datetime]

#: Widens one table's bounds: given its key column and the keys' bounds (:func:`_of_rows`).
_Widen = Callable[[Connection, str, list[_KeyBounds]], None]


def _widen_by_columns(
    statement: str, connection: Connection, key: str, bounds: list[_KeyBounds]
) -> None:
    """PostgreSQL's: :func:`_upsert_text` given one array per column."""
    keys, firsts, lasts = zip(*bounds, strict=True)
    parameters = {
        key: arrays.texts(keys),
        "first_at": arrays.times(firsts),
        "last_at": arrays.times(lasts),
    }
    connection.exec_driver_sql(statement, parameters)


def _widen_by_rows(
    statement: Any, connection: Connection, key: str, bounds: list[_KeyBounds]
) -> None:
    """SQLite's: SQLAlchemy's upsert given one dict per row."""
    values = [{key: k, "first_at": first, "last_at": last} for k, first, last in bounds]
    connection.execute(statement, values)


@functools.cache
def _widens(dialect_name: str) -> dict[str, _Widen]:
    """Each table's widening upsert, by its key."""
    if dialect_name == "postgresql":
        return {
            key: functools.partial(_widen_by_columns, _upsert_text(table, key))
            for key, table in TABLES.items()
        }
    return {
        key: functools.partial(
            _widen_by_rows, _widening(sqlite.insert(table), table, key, "sqlite")
        )
        for key, table in TABLES.items()
    }


def _of_rows(rows: Iterable[Mapping[str, Any]], key: str) -> list[_KeyBounds]:
    """The first and last ``started_at`` of ``rows`` (traces) of each value of their
    ``key``, in key order."""
    found: dict[str, list[dt.datetime]] = {}
    for row in rows:
        value = row[key]
        if value is None:
            continue
        at = row["started_at"]
        seen = found.get(value)
        if seen is None:
            found[value] = [at, at]
        elif at < seen[0]:
            seen[0] = at
        elif at > seen[1]:
            seen[1] = at
    return [(value, first, last) for value, (first, last) in sorted(found.items())]


def add(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Widen the bounds of the sessions and users of trace ``rows`` to their starts: a
    statement per table that any of them names."""
    for key, widen in _widens(connection.dialect.name).items():
        found = _of_rows(rows, key)
        if found:
            widen(connection, key, found)


def widen_from_traces(engine: sa.Engine, since: dt.datetime) -> None:
    """Widen the bounds to the traces started since ``since``, read from the traces
    table (its partitions from ``since`` on): one statement per table.

    A process of an earlier version, still running during a rolling deploy,
    stores traces without widening the bounds; a session it began, continued
    by an upgraded writer, would have bounds that leave its first traces
    out. Each writer runs this with its hourly maintenance over the last
    two hours, so such traces are in their bounds an hour after they were
    stored at the latest.
    """
    dialect = engine.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    started_at = traces.c.started_at
    with engine.begin() as connection:
        for key, table in TABLES.items():
            grouped = (
                sa.select(
                    traces.c[key],
                    sa.func.min(started_at).label("first_at"),
                    sa.func.max(started_at).label("last_at"),
                )
                .where(started_at >= since, traces.c[key].is_not(None))
                .group_by(traces.c[key])
                .subquery()
            )
            # Only the keys whose bounds leave a trace out: in steady state none,
            # so the upsert locks no row (every forked RQ work-horse runs this).
            covered = sa.exists().where(
                table.c[key] == grouped.c[key],
                table.c.first_at <= grouped.c.first_at,
                table.c.last_at >= grouped.c.last_at,
            )
            started = (
                sa.select(grouped.c[key], grouped.c.first_at, grouped.c.last_at)
                .where(~covered)
                .order_by(_in_key_order(grouped.c[key], dialect))
            )
            upsert = insert(table).from_select([key, "first_at", "last_at"], started)
            connection.execute(_widening(upsert, table, key, dialect))


def _in_key_order(key: sa.ColumnElement[str], dialect_name: str) -> sa.ColumnElement[str]:
    """``key`` to order the rows a statement locks by: as :func:`add` locks them.

    ``add`` sorts the keys in Python (by code point), the "C" collation's
    order, not the column's, which may be a locale's (``en_US`` has "a" <
    "B"). Every statement that locks several bounds rows locks them in
    that order, so none waits for a row another holds while holding one it
    waits for: no deadlock with the writer, whose lanes upsert them all day.
    """
    return key.collate("C") if dialect_name == "postgresql" else key


def forget_ended(engine: sa.Engine, cutoff: dt.datetime) -> None:
    """Delete the bounds whose last trace started before ``cutoff``, once the purge has
    deleted the traces started before it, but of a key with a trace kept.

    A trace a batch request links to is kept whatever its age, and may have
    a session and a user (a request's): their bounds stay, or a later trace
    of theirs would start bounds that leave the kept one out. Finding one
    is a probe of the ``(key, started_at)`` index of each partition the
    cutoff leaves (the default one and the cutoff's), for each row to go;
    the rows are found by the index on ``last_at``, locked in key order
    (:func:`_in_key_order`), then deleted by their key. A transaction a
    table: the writer waits for one table's locks at a time.
    """
    dialect = engine.dialect.name
    for key, table in TABLES.items():
        kept = sa.exists().where(traces.c[key] == table.c[key], traces.c.started_at < cutoff)
        ended = (
            sa.select(table.c[key])
            .where(table.c.last_at < cutoff, ~kept)
            .order_by(_in_key_order(table.c[key], dialect))
            .with_for_update()
            .scalar_subquery()
        )
        # PostgreSQL: ``= ANY (ARRAY(..))``, probes of the primary key; ``IN (..)``
        # joined every row of the table (all sessions ever) with those found.
        found = (
            table.c[key] == sa.any_(sa.func.array(ended))
            if dialect == "postgresql"
            else table.c[key].in_(ended)
        )
        with engine.begin() as connection:
            connection.execute(sa.delete(table).where(found))
