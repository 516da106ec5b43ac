"""A batch's rows sent to PostgreSQL as one array literal per column.

A multi-row ``VALUES`` of a batch has a parameter per value, and SQLAlchemy
and psycopg2 spend a few microseconds on each (its bind processing, a
placeholder rendered, the value adapted and quoted): for the traces of a
500-span batch that was 4 to 5 µs of the writer's CPU per span, an eighth
of all it spends. With a text parameter per column, ``{a,b,c}``, that the
statement casts to an array and ``unnest``\\ s, the writer makes each value's
text once and psycopg2 quotes a few strings. Both upserts of the writer
(the traces', the metrics table's) are written this way.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
#: A column's name as PostgreSQL's statements write it.
quote = _DIALECT.identifier_preparer.quote
#: A table's name as PostgreSQL's statements write it.
table_name = _DIALECT.identifier_preparer.format_table


def numbers(values: Iterable[int | float | None]) -> str:
    """A literal of numbers: ``{1,2.5,NULL}``."""
    return "{" + ",".join("NULL" if value is None else str(value) for value in values) + "}"


def texts(values: Sequence[str | None]) -> str:
    """A literal of texts, each quoted (``{"a","b \\"c\\"",NULL}``).

    Each distinct value is quoted once: a batch's rows repeat a few (``''``,
    a route, a model).
    """
    quoted = {
        value: "NULL"
        if value is None
        else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for value in set(values)
    }
    return "{" + ",".join(map(quoted.__getitem__, values)) + "}"


def uuids(values: Iterable[uuid.UUID | None]) -> str:
    """A literal of UUIDs, as 32 hex digits each."""
    return "{" + ",".join("NULL" if value is None else value.hex for value in values) + "}"


def times(values: Iterable[dt.datetime | None]) -> str:
    """A literal of times, in ISO 8601 with their offset."""
    return "{" + ",".join("NULL" if value is None else value.isoformat() for value in values) + "}"


def unnest(column: sa.Column[Any]) -> str:
    """``column``'s values from its parameter (named as the column): the ``unnest`` of
    the literal cast to an array of the column's type, for a select list."""
    type_name = _DIALECT.type_compiler_instance.process(column.type)
    return f"unnest(CAST(%({column.name})s AS {type_name}[]))"


def insert_into(table: sa.Table, columns: Iterable[sa.Column[Any]]) -> str:
    """``INSERT INTO table (columns) SELECT `` and the ``unnest`` of each, rows in the
    arrays' order (an ``unnest`` of a select list yields its elements in order, all in
    lockstep as the arrays are as long)."""
    columns = list(columns)
    names = ", ".join(quote(column.name) for column in columns)
    select = ", ".join(unnest(column) for column in columns)
    return (
        f"INSERT INTO {_DIALECT.identifier_preparer.format_table(table)} ({names}) SELECT {select}"
    )


def literal_of(column: sa.Column[Any]) -> Callable[[Sequence[Any]], str]:
    """The function that makes ``column``'s literal from its values (JSON as its text)."""
    if isinstance(column.type, sa.Uuid):
        return uuids
    if isinstance(column.type, sa.DateTime):
        return times
    if isinstance(column.type, (sa.Integer, sa.Float, sa.Numeric)):
        return numbers
    return texts
