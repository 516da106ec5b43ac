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
import functools
import operator
import uuid
from collections.abc import Callable
from collections.abc import Container
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from typing import NamedTuple
from typing import TypeVar
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from ..models import Trace
from ..models.metrics import DIMENSIONS
from ..models.metrics import MEASURES
from ..models.metrics import metrics_table
from . import arrays
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
        # ``map`` adds the eight in C: half the time of a loop over them.
        self.values[:] = map(operator.add, self.values, other.values)
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
_Row = TypeVar("_Row", bound=tuple[Any, ...])


def add_to(rows: dict[_Row, Sums], row: _Row, sums: Sums) -> None:
    """Add ``sums`` to ``row`` (a grain number and key, or a key) of the rows to upsert,
    made if new."""
    target = rows.get(row)
    if target is None:
        target = rows[row] = Sums()
    target.add(sums)


_MINUTE = dt.timedelta(minutes=1)


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
    # A batch's spans come a trace at a time and minute by minute: the last
    # trace's dimensions and the last minute are looked up again only when
    # they change (a UUID's hash is Python code, a datetime's ``replace`` slow).
    trace_id: Any = None
    dims = ("", "", "")
    minute: Any = None
    next_minute: Any = None
    for row in spans:
        if row["kind"] != "llm":
            continue
        if row["trace_id"] is not trace_id:
            trace_id = row["trace_id"]
            dims = trace_dims.get(trace_id, ("", "", ""))
        started_at = row["started_at"]
        if minute is None or not minute <= started_at < next_minute:
            minute = started_at.replace(second=0, microsecond=0)
            next_minute = minute + _MINUTE
        status = row["status"] or ""
        key = (
            minute,
            row["model"] or "",
            row["provider"] or "",
            dims[0],
            prompt_versions.get(row["id"], 0) if prompt_versions else 0,
            dims[1],
            dims[2],
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


def _projection(name: str | None) -> tuple[tuple[Any, ...], int | None, tuple[Any, ...]]:
    """How a row keeping only dimension ``name`` (``None``: none) is keyed from a row
    keeping all: the empty values before it, its position in the key, those after it."""
    if name is None:
        return _EMPTY_KEY, None, ()
    position = DIMENSIONS.index(name)
    return _EMPTY_KEY[:position], position + 1, _EMPTY_KEY[position + 1 :]


_PROJECTIONS = {name: _projection(name) for name in HOUR_BY}


def _coarser(rows: Mapping[Key, Sums], width: str) -> dict[Key, Sums]:
    """``rows`` summed into the buckets of ``width`` their buckets fall in."""
    starts: dict[dt.datetime, dt.datetime] = {}
    coarser: dict[Key, Sums] = {}
    for key, sums in rows.items():
        start = starts.get(key[0])
        if start is None:
            start = starts[key[0]] = truncate(key[0], width)
        add_to(coarser, (start, *key[1:]), sums)
    return coarser


#: Where a key holds the user: the dimension with most values (a batch has a row per user
#: and combination of the others, of which there are a handful).
_USER = 1 + DIMENSIONS.index("user_id")


def _project(
    rows: Mapping[Key, Sums], names: Iterable[str | None], into: dict[str | None, dict[Key, Sums]]
) -> None:
    """Add ``rows`` to their rows keeping only dimension ``name`` (or none), for each of
    ``names``."""
    for key, sums in rows.items():
        bucket = key[0]
        for name in names:
            before, position, after = _PROJECTIONS[name]
            if position is None:
                derived = (bucket, *before)
            else:
                derived = (bucket, *before, key[position], *after)
            add_to(into[name], derived, sums)


def _projected(rows: Mapping[Key, Sums]) -> dict[str | None, dict[Key, Sums]]:
    """``rows`` (keeping every dimension) summed by each dimension alone and by none.

    By user from ``rows``; by the others, and by none, from ``rows`` summed
    over their users first: their few combinations, not a row per user.
    """
    projected: dict[str | None, dict[Key, Sums]] = {name: {} for name in _PROJECTIONS}
    _project(rows, ["user_id"], projected)
    combinations: dict[Key, Sums] = {}
    for key, sums in rows.items():
        add_to(combinations, (*key[:_USER], EMPTY["user_id"], *key[_USER + 1 :]), sums)
    _project(combinations, [name for name in _PROJECTIONS if name != "user_id"], projected)
    return projected


def all_grains(minutes: Mapping[Key, Sums]) -> dict[tuple[int, Key], Sums]:
    """The rows of every grain that ``minutes`` add to, keyed by grain number and key.

    Each grain is summed from the coarsest rows it can be: the hours from the
    minutes, the days from the hours, the hours keeping one dimension (or
    none) from the hours, the days keeping one from those, the runs of days
    from those days. A batch of 50 users' minute rows takes 378 additions of
    a row's sums, where adding each minute row to its row of every grain
    took 1,700.
    """
    hours = _coarser(minutes, "hour")
    by_grain = {MINUTE: minutes, HOUR: hours, DAY: _coarser(hours, "day")}
    for name, projected in _projected(hours).items():
        days = _coarser(projected, "day")
        by_grain[HOUR_BY[name]] = projected
        by_grain[DAY_BY[name]] = days
        for width, grains in BLOCK_BY.items():
            by_grain[grains[name]] = _coarser(days, width)
    return {
        (grain.number, key): sums for grain, rows in by_grain.items() for key, sums in rows.items()
    }


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


#: The dimensions stored as text (the others are numbers).
_TEXTS = frozenset(DIMENSIONS) - {"prompt_version_id"}


def by_column(rows: Mapping[tuple[int, Key], Sums]) -> dict[str, str]:
    """The upsert's parameters on PostgreSQL: an array literal per column, rows in key order.

    The histogram's bins that no row counts in are left out: the statement
    writes them as ``0`` (see :class:`UnnestUpsert`); a batch counts in a few
    of the 85.
    """
    keys = sorted(rows)
    grains, buckets, *dimensions = zip(*((grain, *key) for grain, key in keys), strict=True)
    starts = {bucket: bucket.isoformat() for bucket in set(buckets)}
    values = {"grain": arrays.numbers(grains), "bucket": arrays.texts([starts[b] for b in buckets])}
    for name, column in zip(DIMENSIONS, dimensions, strict=True):
        values[name] = arrays.texts(column) if name in _TEXTS else arrays.numbers(column)
    sums = [rows[key] for key in keys]
    measures = zip(*(entry.values for entry in sums), strict=True)
    for name, column in zip(MEASURES, measures, strict=True):
        values[name] = arrays.numbers(column)
    # Mostly zeros: start from them and fill in the few bins each row has.
    bins: dict[int, list[str]] = {}
    for row, entry in enumerate(sums):
        for number, count in entry.histogram.items():
            cells = bins.get(number)
            if cells is None:
                cells = bins[number] = ["0"] * len(sums)
            cells[row] = str(count)
    for number, cells in bins.items():
        values[latency.COLUMNS[number]] = "{" + ",".join(cells) + "}"
    return values


class UnnestUpsert(NamedTuple):
    """PostgreSQL's upsert, as pieces of its text put together per batch.

    The rows go as one array literal per column into ``unnest``: one
    statement of about 100 text parameters, where a multi-row ``VALUES`` of
    a few hundred rows has tens of thousands, which psycopg2 and SQLAlchemy
    spend several times longer on than the server does on the upsert. One
    ``unnest`` per column in the select list, run in lockstep (all arrays
    are as long): ``FROM unnest(a, b, ..)`` stored each column in a
    tuplestore of its own first, four times the server's time of this.

    A histogram bin no row of the batch counts in is the constant ``0``
    and is not added to on conflict: the server neither reads an array of
    zeros for it nor adds them, and the writer neither writes the array
    nor has SQLAlchemy compile a statement per set of bins (the text is
    put together here, with psycopg2's ``%(name)s`` parameters).

    The rows are inserted in the order of the arrays, key order
    (:func:`by_column` sorts them): two transactions lock the rows they
    share in the same order. The ``unnest`` of a select list yields its
    array's elements in order and nothing between it and the insert
    reorders them; an ``ORDER BY`` of the key sorted them again (1 to
    1.5 ms of the server's 9 for 378 rows).
    """

    #: ``INSERT INTO .. (every column) SELECT ``
    insert: str
    #: Each column's values, in the table's order: the ``unnest`` of its parameter.
    unnest: tuple[tuple[str, str], ...]
    #: `` ON CONFLICT (the key) DO UPDATE SET ``
    conflict: str
    #: Each measure's and bin's addition to the stored row's.
    additions: tuple[tuple[str, str], ...]

    def text(self, sent: Container[str]) -> str:
        """The statement for the columns ``sent``: the others are histogram bins, all zero."""
        select = ", ".join(unnest if name in sent else "0" for name, unnest in self.unnest)
        additions = ", ".join(addition for name, addition in self.additions if name in sent)
        return f"{self.insert}{select}{self.conflict}{additions}"


def _unnest_upsert(table: sa.Table) -> UnnestUpsert:
    """The pieces of ``table``'s upsert, quoted and typed as PostgreSQL has them."""
    quote = arrays.quote
    name = arrays.table_name(table)
    columns = ", ".join(quote(column.name) for column in table.c)
    keys = ", ".join(quote(column.name) for column in table.primary_key.columns)
    return UnnestUpsert(
        insert=f"INSERT INTO {name} ({columns}) SELECT ",
        unnest=tuple((column.name, arrays.unnest(column)) for column in table.c),
        conflict=f" ON CONFLICT ({keys}) DO UPDATE SET ",
        additions=tuple(
            (column, f"{quote(column)} = {name}.{quote(column)} + excluded.{quote(column)}")
            for column in (*MEASURES, *latency.COLUMNS)
        ),
    )


#: Adds rows (see :func:`all_grains`) to the metrics table: one function per dialect.
Upsert = Callable[[Connection, Mapping[tuple[int, Key], Sums]], None]


def _add_by_columns(
    pieces: UnnestUpsert, connection: Connection, rows: Mapping[tuple[int, Key], Sums]
) -> None:
    """PostgreSQL's :data:`Upsert`: the statement for the columns sent, one array each."""
    values = by_column(rows)
    connection.exec_driver_sql(pieces.text(values), values)


def _add_by_rows(
    statement: Any, connection: Connection, rows: Mapping[tuple[int, Key], Sums]
) -> None:
    """SQLite's :data:`Upsert`: SQLAlchemy's statement, given one dict per row."""
    connection.execute(statement, parameters(rows))


def upsert(dialect_name: str, table: sa.Table = metrics_table) -> Upsert:
    """``INSERT .. ON CONFLICT DO UPDATE`` adding to the rows, for ``dialect_name``.

    ``table``: the migration that fills the table passes its own definition of it.
    """
    if dialect_name == "postgresql":
        return functools.partial(_add_by_columns, _unnest_upsert(table))
    # RETURNING makes SQLAlchemy send one multi-row statement (insertmanyvalues).
    insert: Any = sqlite.insert(table).returning(table.c.grain)
    statement = insert.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={
            name: table.c[name] + insert.excluded[name] for name in (*MEASURES, *latency.COLUMNS)
        },
    )
    return functools.partial(_add_by_rows, statement)


def write_rows(
    connection: Connection, upsert: Upsert, rows: Mapping[tuple[int, Key], Sums]
) -> None:
    """Add ``rows`` (see :func:`all_grains`) to the metrics table."""
    if rows:
        upsert(connection, rows)


def dimensions(trace: Mapping[Any, Any]) -> tuple[str, str, str]:
    """Name, user and environment of a trace's row (``''`` for none)."""
    return trace["name"] or "", trace["user_id"] or "", trace["environment"] or ""


def trace_dims(
    connection: Connection, trace_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str, str]]:
    """Name, user and environment of the stored traces ``trace_ids``."""
    ids = list(trace_ids)
    query = sa.select(traces.c.id, traces.c.name, traces.c.user_id, traces.c.environment).where(
        traces.c.id.in_(ids)
    )
    return {row.id: dimensions(row._mapping) for row in connection.execute(query)}


def add(
    connection: Connection,
    statement: Upsert,
    spans: list[dict[str, Any]],
    prompt_versions: Mapping[uuid.UUID, int],
    stored_traces: Mapping[uuid.UUID, tuple[str, str, str]],
) -> None:
    """Add the LLM spans among ``spans`` (just stored) to the metrics table.

    :param stored_traces: name, user and environment of the traces this
        transaction stored (inserted, or updated over what was there): the
        rows as they now are. The others are read from the table.
    """
    trace_ids = {row["trace_id"] for row in spans if row["kind"] == "llm"}
    if not trace_ids:
        return
    dims = stored_traces
    if unknown := trace_ids - stored_traces.keys():
        dims = {**stored_traces, **trace_dims(connection, unknown)}
    write_rows(connection, statement, all_grains(minute_sums(spans, dims, prompt_versions)))
