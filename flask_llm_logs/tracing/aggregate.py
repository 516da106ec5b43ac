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
scan of 30 rows per user rather than of every minute of every route.
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
from sqlalchemy.engine import Connection

from ..models import Trace
from ..models.metrics import DIMENSIONS
from ..models.metrics import MEASURES
from ..models.metrics import metrics_table
from . import latency

traces = cast(sa.Table, Trace.__table__)

#: Bucket widths, by name: the ``bucket`` argument of ``metrics()``.
WIDTHS = ("minute", "hour", "day")


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
GRAINS = (MINUTE, HOUR, DAY, *HOUR_BY.values(), *DAY_BY.values())

#: What a dimension not kept (or not recorded) is stored as.
EMPTY: dict[str, Any] = {name: "" for name in DIMENSIONS} | {"prompt_version_id": 0}
_EMPTY_KEY = tuple(EMPTY[name] for name in DIMENSIONS)


def truncate(moment: dt.datetime, width: str) -> dt.datetime:
    """The start of the bucket of ``width`` that ``moment`` falls in."""
    if width == "minute":
        return moment.replace(second=0, microsecond=0)
    if width == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


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


#: A minute row's key: the bucket, then each of ``DIMENSIONS``.
Key = tuple[Any, ...]


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


def all_grains(minutes: Mapping[Key, Sums]) -> dict[tuple[int, Key], Sums]:
    """The rows of every grain that ``minutes`` add to, keyed by grain number and key."""
    rows = {(MINUTE.number, key): sums for key, sums in minutes.items()}
    kept_positions = {
        grain.number: [DIMENSIONS.index(name) for name in grain.keeps] for grain in GRAINS[1:]
    }
    for key, sums in minutes.items():
        for grain in GRAINS[1:]:
            bucket = truncate(key[0], grain.width)
            if grain.keeps is DIMENSIONS:
                derived = (bucket, *key[1:])
            else:
                dims = list(_EMPTY_KEY)
                for position in kept_positions[grain.number]:
                    dims[position] = key[1 + position]
                derived = (bucket, *dims)
            target = rows.get((grain.number, derived))
            if target is None:
                target = rows[(grain.number, derived)] = Sums()
            target.add(sums)
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


def upsert_statement(insert: Any, table: sa.Table = metrics_table) -> Any:
    """``INSERT .. ON CONFLICT DO UPDATE`` adding to the row; ``insert`` is the dialect's.

    ``table``: the migration that fills the table passes its own definition of it.
    """
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={
            name: table.c[name] + statement.excluded[name] for name in (*MEASURES, *latency.COLUMNS)
        },
    )


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
    upsert: Any,
    spans: list[dict[str, Any]],
    prompt_versions: Mapping[uuid.UUID, int],
) -> None:
    """Add the LLM spans among ``spans`` (just stored) to the metrics table."""
    trace_ids = {row["trace_id"] for row in spans if row["kind"] == "llm"}
    if not trace_ids:
        return
    dims = trace_dims(connection, trace_ids)
    rows = all_grains(minute_sums(spans, dims, prompt_versions))
    connection.execute(upsert, parameters(rows))
