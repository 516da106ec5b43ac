"""The metrics table, kept by the writer: each batch's LLM spans added to their buckets.

:func:`add` runs in the writer's transaction, after the batch's spans are
stored: it sums the spans it was handed (never re-reading stored spans) per
minute and dimension in Python, derives the coarser grains from those
sums, and adds them to the table with one upsert (``INSERT .. ON CONFLICT
DO UPDATE SET calls = calls + excluded.calls, ...``). Additions commute,
so concurrent writer threads and processes keep the sums exact; the rows
are upserted in key order, so two transactions lock them in the same
order and never deadlock each other.

A span counts under its trace's name, user and environment as stored when
the span is (the trace's start record, or its end record when it came
first): a user set with ``update_current_trace`` after an LLM call does not
move that call. Its prompt version is the one its own call was built from
(``prompt_version_id`` in the span's metadata). Only spans of kind ``llm``
are calls; tool and custom spans are not counted.

The grains (bucket width and dimensions kept) are stored as numbers: never
renumber them. Minute, hour and day rows keep every dimension; hour and day
rows that keep one dimension (or none) make "a month of cost by user" a
scan of 30 rows per user (and of the hours at either end) rather than of
every minute of every route; the same rows summed over runs of 3 and 9
days (:data:`BLOCK_DAYS`) make it about seven. Each grain costs the writer
rows to upsert: those keeping every dimension or the user, one per
combination or user in the batch; the others a handful.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from typing import NamedTuple
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from ..models import Trace
from ..models.metrics import DIMENSIONS
from ..models.metrics import MEASURES
from ..models.metrics import metrics_table
from . import latency

traces = cast(sa.Table, Trace.__table__)

#: Bucket widths, by name: the ``bucket`` argument of ``metrics()``.
WIDTHS = ("minute", "hour", "day")
#: Runs of whole days the one-dimension rows are also kept for, by width name: their
#: length in days. Aligned on :data:`EPOCH`, so a run always starts at the same days.
#: Read only for the whole runs inside a range (``metrics()`` never buckets by them):
#: a month is about two 9-day runs, three 3-day runs and four days, at either end hours
#: and minutes. Fewer rows to read than 30 days, for two more rows per value to write;
#: see docs/performance.rst for the levels measured.
BLOCK_DAYS = {"3 days": 3, "9 days": 9}
#: Where the runs of :data:`BLOCK_DAYS` are counted from.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class Grain(NamedTuple):
    number: int
    width: str
    #: The dimensions a row of this grain keeps; the others are stored empty.
    keeps: tuple[str, ...]


MINUTE = Grain(1, "minute", DIMENSIONS)
HOUR = Grain(2, "hour", DIMENSIONS)
DAY = Grain(3, "day", DIMENSIONS)


def _projections(width: str, first: int) -> dict[str | None, Grain]:
    """The grains of ``width`` keeping no dimension (key ``None``) or one."""
    grains: dict[str | None, Grain] = {None: Grain(first, width, ())}
    for offset, name in enumerate(DIMENSIONS, start=1):
        grains[name] = Grain(first + offset, width, (name,))
    return grains


#: An hour's and a day's totals (key ``None``), and by each dimension.
HOUR_BY = _projections("hour", 20)
DAY_BY = _projections("day", 30)
#: The same over the runs of :data:`BLOCK_DAYS`, by width name.
BLOCK_BY = {
    width: _projections(width, first) for width, first in zip(BLOCK_DAYS, (40, 50), strict=True)
}
GRAINS = (
    MINUTE,
    HOUR,
    DAY,
    *HOUR_BY.values(),
    *DAY_BY.values(),
    *(grain for grains in BLOCK_BY.values() for grain in grains.values()),
)
#: Every width a grain has, finest first.
ALL_WIDTHS = (*WIDTHS, *BLOCK_DAYS)

#: What a dimension not kept (or not recorded) is stored as.
EMPTY: dict[str, Any] = {name: "" for name in DIMENSIONS} | {"prompt_version_id": 0}
_EMPTY_KEY = tuple(EMPTY[name] for name in DIMENSIONS)


def truncate(moment: dt.datetime, width: str) -> dt.datetime:
    """The start of the bucket of ``width`` (any of :data:`ALL_WIDTHS`) that ``moment``
    falls in; naive stays naive (taken as UTC)."""
    if width == "minute":
        return moment.replace(second=0, microsecond=0)
    if width == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if width == "day":
        return day
    return block_start(day, BLOCK_DAYS[width])


def block_start(day: dt.datetime, days: int) -> dt.datetime:
    """The start of the run of ``days`` days that the day starting at ``day`` is in."""
    epoch = EPOCH.replace(tzinfo=day.tzinfo)
    return day - dt.timedelta(days=(day - epoch).days % days)


class Sums:
    """The measures of one row being built: counts and sums, and a sparse histogram."""

    __slots__ = ("histogram", "values")

    def __init__(self) -> None:
        #: In the order of ``MEASURES``.
        self.values = [0, 0, 0, 0, 0, 0, 0.0, 0.0]
        self.histogram: dict[int, int] = {}

    def add(self, other: Sums) -> None:
        values = self.values
        for index, value in enumerate(other.values):
            values[index] += value
        histogram = self.histogram
        for number, count in other.histogram.items():
            histogram[number] = histogram.get(number, 0) + count


def stored_sums(row: Mapping[Any, Any], sign: int = 1) -> Sums:
    """The measures of a stored row of the metrics table (times ``sign``), to add elsewhere."""
    sums = Sums()
    # The cost comes back as a Decimal, which would not add to the writer's float.
    sums.values = [sign * (float(row[n]) if n == "cost" else row[n]) for n in MEASURES]
    sums.histogram = {
        number: sign * row[name] for number, name in enumerate(latency.COLUMNS) if row[name]
    }
    return sums


#: A minute row's key: the bucket, then each of ``DIMENSIONS``.
Key = tuple[Any, ...]


def add_to(rows: dict[tuple[int, Key], Sums], row: tuple[int, Key], sums: Sums) -> None:
    """Add ``sums`` to ``row`` (a grain number and key) of the rows to upsert, made if new."""
    target = rows.get(row)
    if target is None:
        target = rows[row] = Sums()
    target.add(sums)


def minute_sums(
    spans: Iterable[Mapping[str, Any]],
    trace_dims: Mapping[uuid.UUID, tuple[str, str, str]],
    prompt_versions: Mapping[uuid.UUID, int],
) -> dict[Key, Sums]:
    """The LLM spans among ``spans`` (rows as the writer stores them), summed per minute row.

    :param trace_dims: name, user and environment of each span's trace
        (``''`` for unknown); a trace missing here counts with none.
    :param prompt_versions: the prompt version of a span, by span id.
    """
    sums: dict[Key, Sums] = {}
    no_trace = ("", "", "")
    for row in spans:
        if row["kind"] != "llm":
            continue
        name, user, environment = trace_dims.get(row["trace_id"], no_trace)
        status = row["status"] or ""
        key = (
            row["started_at"].replace(second=0, microsecond=0),
            row["model"] or "",
            row["provider"] or "",
            name,
            prompt_versions.get(row["id"], 0),
            user,
            environment,
            status,
        )
        entry = sums.get(key)
        if entry is None:
            entry = sums[key] = Sums()
        values = entry.values
        values[0] += 1
        if status == "error":
            values[1] += 1
        values[2] += row["input_tokens"] or 0
        values[3] += row["output_tokens"] or 0
        values[4] += row["cached_tokens"] or 0
        values[5] += row["cache_write_tokens"] or 0
        values[6] += row["cost"] or 0.0
        duration = row["duration_ms"]
        if duration is not None:
            values[7] += duration
            number = latency.bin_of(duration)
            entry.histogram[number] = entry.histogram.get(number, 0) + 1
    return sums


_Derivation = tuple[int, str, tuple[Any, ...], int | None, tuple[Any, ...]]


def _derivations() -> list[_Derivation]:
    """For each grain but the minute's: its number, width, and how its key is made from a
    minute row's dimensions (all of them, position ``None``; or the one at ``position``
    between the empty values before and after it)."""
    derivations: list[_Derivation] = []
    for grain in GRAINS[1:]:
        if grain.keeps is DIMENSIONS:
            derivations.append((grain.number, grain.width, (), None, ()))
            continue
        position = DIMENSIONS.index(grain.keeps[0]) if grain.keeps else len(DIMENSIONS)
        before, after = _EMPTY_KEY[:position], _EMPTY_KEY[position + 1 :]
        derivations.append((grain.number, grain.width, before, position, after))
    return derivations


_DERIVATIONS = _derivations()


def all_grains(minutes: Mapping[Key, Sums]) -> dict[tuple[int, Key], Sums]:
    """The rows of every grain that ``minutes`` add to, keyed by grain number and key."""
    rows = {(MINUTE.number, key): sums for key, sums in minutes.items()}
    runs: dict[dt.datetime, dict[str, dt.datetime]] = {}
    for key, sums in minutes.items():
        hour = key[0].replace(minute=0)
        starts = runs.get(hour)
        if starts is None:
            day = hour.replace(hour=0)
            starts = runs[hour] = {"hour": hour, "day": day}
            for width, days in BLOCK_DAYS.items():
                starts[width] = block_start(day, days)
        dims = key[1:]
        for number, width, before, position, after in _DERIVATIONS:
            if position is None:
                derived = (starts[width], *dims)
            elif position == len(dims):
                derived = (starts[width], *before)
            else:
                derived = (starts[width], *before, dims[position], *after)
            add_to(rows, (number, derived), sums)
    return rows


def parameters(rows: Mapping[tuple[int, Key], Sums]) -> list[dict[str, Any]]:
    """The upsert's parameters, in key order (the order their row locks are taken)."""
    no_latency = dict.fromkeys(latency.COLUMNS, 0)
    parameters = []
    for (grain, key), sums in sorted(rows.items(), key=lambda item: item[0]):
        row: dict[str, Any] = {"grain": grain, "bucket": key[0]}
        row.update(zip(DIMENSIONS, key[1:], strict=True))
        row.update(zip(MEASURES, sums.values, strict=True))
        row.update(no_latency)
        for number, count in sums.histogram.items():
            row[latency.COLUMNS[number]] = count
        parameters.append(row)
    return parameters


def _array(values: Iterable[Any]) -> str:
    """A PostgreSQL array literal of numbers: ``{1,2,3}``."""
    return "{" + ",".join(map(str, values)) + "}"


def _text_array(values: Iterable[str]) -> str:
    """A PostgreSQL array literal of texts (at least one), each quoted: ``{"a","b \\"c\\""}``."""
    quoted = (value.replace("\\", "\\\\").replace('"', '\\"') for value in values)
    return '{"' + '","'.join(quoted) + '"}'


#: The dimensions stored as text (the others are numbers).
_TEXTS = frozenset(DIMENSIONS) - {"prompt_version_id"}


def by_column(rows: Mapping[tuple[int, Key], Sums]) -> dict[str, str]:
    """The upsert's parameters on PostgreSQL: an array literal per column, rows in key order."""
    keys = sorted(rows)
    values = {"grain": _array(grain for grain, _ in keys)}
    values["bucket"] = _text_array(key[0].isoformat() for _, key in keys)
    for position, name in enumerate(DIMENSIONS, start=1):
        column = (key[position] for _, key in keys)
        values[name] = _text_array(column) if name in _TEXTS else _array(column)
    sums = [rows[key] for key in keys]
    for position, name in enumerate(MEASURES):
        values[name] = _array(entry.values[position] for entry in sums)
    # Mostly zeros: start from them and fill in the few bins each row has.
    bins = [["0"] * len(sums) for _ in latency.COLUMNS]
    for row, entry in enumerate(sums):
        for number, count in entry.histogram.items():
            bins[number][row] = str(count)
    for name, cells in zip(latency.COLUMNS, bins, strict=True):
        values[name] = "{" + ",".join(cells) + "}"
    return values


class Upsert(NamedTuple):
    """The statement that adds rows to the metrics table, and how it takes them."""

    statement: Any
    #: PostgreSQL: one array per column, unnested by the server; else one dict per row.
    by_column: bool


def upsert(dialect_name: str, table: sa.Table = metrics_table) -> Upsert:
    """``INSERT .. ON CONFLICT DO UPDATE`` adding to the rows, for ``dialect_name``.

    On PostgreSQL the rows go as one array literal per column into
    ``unnest``: one statement of 102 text parameters, where a multi-row
    ``VALUES`` of a few hundred rows has tens of thousands, which psycopg2
    and SQLAlchemy spend several times longer on than the server does on
    the upsert. ``table``: the migration that fills the table passes its
    own definition of it.
    """
    if dialect_name == "postgresql":
        names = [column.name for column in table.c]
        # One ``unnest`` per column in the select list, run in lockstep (all arrays are
        # as long): ``FROM unnest(a, b, ..)`` stored each of the 102 columns in a
        # tuplestore of its own first, four times the server's time of this.
        rows = sa.select(
            *(
                sa.func.unnest(
                    sa.cast(sa.bindparam(column.name, type_=sa.Text), postgresql.ARRAY(column.type))
                ).label(column.name)
                for column in table.c
            )
        ).subquery("rows")
        keys = [rows.c[column.name] for column in table.primary_key.columns]
        # In key order: two transactions lock the rows they share in the same order.
        source = sa.select(*(rows.c[name] for name in names)).order_by(*keys)
        insert: Any = postgresql.insert(table).from_select(names, source)
    else:
        # RETURNING makes SQLAlchemy send one multi-row statement (insertmanyvalues).
        insert = sqlite.insert(table).returning(table.c.grain)
    statement = insert.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={
            name: table.c[name] + insert.excluded[name] for name in (*MEASURES, *latency.COLUMNS)
        },
    )
    return Upsert(statement, by_column=dialect_name == "postgresql")


def write_rows(
    connection: Connection, statement: Upsert, rows: Mapping[tuple[int, Key], Sums]
) -> None:
    """Add ``rows`` (see :func:`all_grains`) to the metrics table."""
    if not rows:
        return
    if statement.by_column:
        connection.execute(statement.statement, by_column(rows))
    else:
        connection.execute(statement.statement, parameters(rows))


def trace_dims(
    connection: Connection, trace_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str, str]]:
    """Name, user and environment of the stored traces ``trace_ids``."""
    ids = list(trace_ids)
    query = sa.select(traces.c.id, traces.c.name, traces.c.user_id, traces.c.environment).where(
        traces.c.id.in_(ids)
    )
    return {
        row.id: (row.name or "", row.user_id or "", row.environment or "")
        for row in connection.execute(query)
    }


def add(
    connection: Connection,
    statement: Upsert,
    spans: list[dict[str, Any]],
    prompt_versions: Mapping[uuid.UUID, int],
) -> None:
    """Add the LLM spans among ``spans`` (just stored) to the metrics table."""
    trace_ids = {row["trace_id"] for row in spans if row["kind"] == "llm"}
    if not trace_ids:
        return
    dims = trace_dims(connection, trace_ids)
    write_rows(connection, statement, all_grains(minute_sums(spans, dims, prompt_versions)))
