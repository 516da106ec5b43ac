"""``metrics()``: calls, errors, tokens, cost and latency percentiles, grouped and bucketed.

It reads the metrics table the writer keeps (see
:mod:`flask_llm_logs.tracing.aggregate`), never the spans. A range is read
from the coarsest buckets that fit it: whole days from day rows, hours from
hour rows, minutes from minute rows; without ``bucket``, runs of 3 and 9
days from their rows too (those keeping one dimension or none). At either
end, a bucket the range only partly covers is read whole when the part
outside the range is the shorter, and that part, read from finer rows, is
taken away (see :func:`_cover`): a month by user reads half the rows.
When at most one dimension is asked for (grouped by or filtered on), the
hour and day rows that keep only that dimension are read, a few rows per
bucket; otherwise those that keep every dimension.

The range covers every minute that starts in ``[since, until)``, minutes
being the finest bucket: ``since`` is rounded down to its minute and the
minute ``until`` falls in is counted too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import NamedTuple
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .. import postgres
from ..models import PromptRecord
from ..models import PromptVersion
from ..models.base import as_utc
from ..models.base import utcnow
from ..models.metrics import MEASURES
from ..models.metrics import QUERY_DIMENSIONS
from ..models.metrics import metrics_table as table
from ..state import get_state
from ..tracing import aggregate
from ..tracing import latency

#: The dimensions of ``group_by`` and ``filters``, and their columns.
DIMENSIONS = QUERY_DIMENSIONS
#: ``bucket``: ``None`` for one row per group over the whole range.
BUCKETS = (None, *aggregate.WIDTHS)
#: The percentiles of each row: its key, and the fraction.
PERCENTILES = (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99))
_PERCENTILE_KEYS = tuple(key for key, _ in PERCENTILES)
_FRACTIONS = tuple(fraction for _, fraction in PERCENTILES)
#: The type each measure's sum is cast to in SQL: PostgreSQL's ``sum()`` of a
#: ``bigint``, and of the cost's ``numeric``, is a ``numeric``, which the driver makes
#: a ``Decimal``, a slower object (5,000 of each per month by user), which
#: ``int()`` and ``float()`` then converted again. Both roundings to a float are
#: correct ones, so the cost is the same float. (A bin's ``sum()`` is a ``bigint``.)
_SUM_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    name: sa.Float() if name in ("cost", "duration_ms_sum") else sa.BigInteger()
    for name in MEASURES
}

#: The slug and number of a prompt version not found.
_NO_PROMPT = (None, None)

_UNIT = {"minute": dt.timedelta(minutes=1), "hour": dt.timedelta(hours=1)}

versions = cast(sa.Table, PromptVersion.__table__)
prompts = cast(sa.Table, PromptRecord.__table__)


def metrics(
    since: dt.datetime,
    until: dt.datetime | None = None,
    group_by: Iterable[str] = ("model",),
    filters: Mapping[str, Any] | None = None,
    bucket: str | None = None,
) -> list[dict[str, Any]]:
    """The metrics of the LLM calls that started from ``since`` to ``until``, one dict per group.

    ::

        flask_llm_logs.metrics(since=now - timedelta(days=30), group_by=("user",))
        # [{"user": "42", "calls": 310, "cost": 1.92, "p95_ms": 2480.3, ...}, ...]

    Needs an app context (or an app initialised in the process).

    :param since: aware, or naive in UTC.
    :param until: aware, or naive in UTC; default now.
    :param group_by: dimension names among ``model``, ``provider``, ``name``
        (the trace's), ``prompt`` (the prompt's slug), ``prompt_version``,
        ``user``, ``environment``, ``status``; ``()`` for the totals.
    :param filters: dimension name to the one value to count (``None``
        for "not recorded"); ``prompt`` takes a slug, ``prompt_version`` an id.
    :param bucket: ``None``, ``"minute"``, ``"hour"`` or ``"day"``: one row
        per group and bucket, with the bucket's start (aware, UTC) under ``"bucket"``.
    :return: dicts with the ``group_by`` keys (a missing value is ``None``;
        grouped by ``prompt_version``, also ``prompt``, the slug, and
        ``version``, its number), then ``calls``, ``errors``, ``error_rate``,
        ``input_tokens``, ``output_tokens``, ``cached_tokens``,
        ``cache_write_tokens``, ``cost``, ``duration_ms_sum`` and ``p50_ms``,
        ``p95_ms``, ``p99_ms`` (from the latency histogram, within 9.6%, see
        :mod:`flask_llm_logs.tracing.latency`). Ordered by bucket, then by
        calls, most first.
    :raises ValueError: naming the argument, for an unknown dimension or
        bucket, or a time that is not a datetime.
    """
    query = Query.parse(since, until, group_by, filters, bucket)
    with get_state().read_engine.connect() as connection:
        plan_for_sums(connection)
        return query.run(connection)


def plan_for_sums(connection: Connection) -> None:
    """On PostgreSQL, for the rest of ``connection``'s transaction: no JIT, no parallel
    workers, and room to hash the groups in memory.

    A read sums 93 columns per row (85 of them the latency histogram). With
    the server's defaults, the planner's cost for a month by user passes
    ``jit_above_cost``, and compiling those sums took 0.7 s, longer than
    summing them; parallel workers each hand the leader a partial sum of
    every group (93 states apiece for 5,000 users), which took longer to
    merge than one process takes to sum the rows (0.5 s against 0.33 s);
    and 5,000 users' sums overflow the default ``work_mem`` of 4 MB, so
    they were sorted on disk.
    """
    postgres.set_local(connection, **PLAN_SETTINGS)


#: See :func:`plan_for_sums`.
PLAN_SETTINGS = {"jit": "off", "max_parallel_workers_per_gather": "0", "work_mem": "64MB"}


def _utc(argument: str, value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise ValueError(f"{argument}: must be a datetime, got {value!r}")
    return as_utc(value)


def _dimension(argument: str, name: object) -> str:
    if name not in DIMENSIONS:
        known = ", ".join(DIMENSIONS)
        raise ValueError(f"{argument}: unknown dimension {name!r} (known: {known})")
    return name


def _filter_value(name: str, value: object) -> object:
    """A filter's value as stored: ``''`` (``0``) for "not recorded"."""
    if value is None:
        return 0 if name in ("prompt", "prompt_version") else ""
    if name == "prompt_version":
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"filters: prompt_version must be a version id, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"filters: {name} must be a string or None, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Query:
    since: dt.datetime
    until: dt.datetime
    group_by: tuple[str, ...]
    filters: dict[str, object]
    bucket: str | None
    #: When the query was made: no rows are stored after it.
    now: dt.datetime

    @classmethod
    def parse(
        cls,
        since: object,
        until: object,
        group_by: Iterable[str],
        filters: Mapping[str, Any] | None,
        bucket: object,
    ) -> Query:
        """The arguments of :func:`metrics`, checked; ``ValueError`` names the wrong one."""
        start = _utc("since", since)
        now = utcnow()
        end = now if until is None else _utc("until", until)
        if end <= start:
            raise ValueError(f"until: must be after since ({start.isoformat()})")
        if isinstance(group_by, str):
            raise ValueError(f"group_by: must be a tuple of dimension names, got {group_by!r}")
        names = tuple(dict.fromkeys(_dimension("group_by", name) for name in group_by))
        if filters is not None and not isinstance(filters, Mapping):
            raise ValueError(f"filters: must be a mapping of dimension to value, got {filters!r}")
        checked = {
            _dimension("filters", name): _filter_value(name, value)
            for name, value in (filters or {}).items()
        }
        if bucket not in BUCKETS:
            raise ValueError(f"bucket: must be one of None, minute, hour, day; got {bucket!r}")
        return cls(start, end, names, checked, bucket, now)

    # -- which rows -------------------------------------------------------------

    def columns(self) -> set[str]:
        """The table's dimension columns this query groups by or filters on."""
        return {DIMENSIONS[name] for name in (*self.group_by, *self.filters)}

    def segments(self) -> list[Segment]:
        """The range as whole buckets of the coarsest grains that fit (and the bucket
        allows), each end cut finer: see :func:`_cover`."""
        start = aggregate.truncate(self.since, "minute")
        end = aggregate.truncate(self.until, "minute")
        if end < self.until:
            end += _UNIT["minute"]
        columns = self.columns()
        projected = len(columns) <= 1
        key = next(iter(columns), None)
        coarse = {
            "hour": aggregate.HOUR_BY[key] if projected else aggregate.HOUR,
            "day": aggregate.DAY_BY[key] if projected else aggregate.DAY,
        }
        widths = {None: ("hour", "day"), "day": ("hour", "day"), "hour": ("hour",)}
        chain = widths.get(self.bucket, ())
        if projected and self.bucket is None:
            # Runs of days: only the one-dimension rows have them.
            chain = (*chain, *aggregate.BLOCK_DAYS)
            coarse.update({width: aggregate.BLOCK_BY[width][key] for width in aggregate.BLOCK_DAYS})
        grains = [*(coarse[width] for width in reversed(chain)), aggregate.MINUTE]
        return _cover(start, end, grains, 1, self.now)

    def where(self, segments: Iterable[Segment]) -> list[sa.ColumnElement[bool]]:
        """The rows of ``segments`` that the filters keep."""
        clauses = [_within(segments)]
        for name, value in self.filters.items():
            column = table.c[DIMENSIONS[name]]
            if name == "prompt" and value:
                slug_versions = (
                    sa.select(versions.c.id)
                    .join(prompts, prompts.c.id == versions.c.prompt_id)
                    .where(prompts.c.slug == value)
                )
                clauses.append(column.in_(slug_versions.scalar_subquery()))
            else:
                clauses.append(column == value)
        return clauses

    # -- reading ------------------------------------------------------------------

    def run(self, connection: Connection) -> list[dict[str, Any]]:
        keys = sorted({DIMENSIONS[name] for name in self.group_by})
        group = [table.c[column] for column in keys]
        if self.bucket is not None:
            group.insert(0, table.c.bucket)
        bins = self.bins(connection) if keys else range(latency.BINS)
        sums = [
            *(sa.cast(sa.func.sum(table.c[name]), _SUM_TYPES[name]) for name in MEASURES),
            *(sa.func.sum(table.c[latency.COLUMNS[number]]) for number in bins),
        ]
        segments = self.segments()
        taken = [segment for segment in segments if segment.sign < 0]
        columns: list[sa.ColumnElement[Any]] = list(group)
        if taken:
            # The rows taken away are summed apart (-1) and subtracted below; no row is in
            # two segments. (One read: the dashboard makes nine, each with a part after now.)
            columns.append(sa.case((_within(taken), -1), else_=1).label("sign"))
        query = sa.select(*columns, *sums).where(*self.where(segments))
        if columns:
            query = query.group_by(*columns)
        found = connection.execute(query).all()
        first_key = len(group) - len(keys)
        first_sum = len(columns)
        # Where each ``group_by`` name's value is in a row, and whether it is a prompt's
        # (its version's id there, its slug in the result).
        fields = [
            (first_key + keys.index(DIMENSIONS[name]), name == "prompt") for name in self.group_by
        ]
        ids = set()
        if "prompt_version_id" in keys:
            ids = {row[first_key + keys.index("prompt_version_id")] for row in found}
        prompt_names = self._prompt_names(connection, ids)
        merged: dict[tuple[Any, ...], Sequence[Any]] = {}
        for row in found:
            if row[first_sum] is None:  # SUM over no rows at all
                continue
            key: tuple[Any, ...] = tuple(
                (prompt_names.get(row[at], _NO_PROMPT)[0] if slug else row[at]) or None
                for at, slug in fields
            )
            if self.bucket is not None:
                key = (_bucket(row[0], self.bucket), *key)
            # No sum is NULL here: the group has rows, and every column is NOT NULL.
            # The measures, then the sums of ``bins`` only: widening thousands of rows
            # to the 85 bins took longer than the server's read.
            numbers: Sequence[Any] = row[first_sum:]
            if taken and row[len(group)] < 0:
                numbers = [-number for number in numbers]
            total = merged.get(key)
            if total is not None:
                numbers = [a + b for a, b in zip(total, numbers, strict=True)]
            merged[key] = numbers
        # The names of a group's key, as in the result: the bucket first, if any.
        names = self.group_by if self.bucket is None else ("bucket", *self.group_by)
        results = self._results(names, merged, bins, prompt_names)
        # Most calls first, then by bucket: each sort keeps the order of equal keys.
        results.sort(key=operator.itemgetter("calls"), reverse=True)
        if self.bucket is not None:
            results.sort(key=operator.itemgetter("bucket"))
        return results

    def bins(self, connection: Connection) -> Sequence[int]:
        """The histogram's bins that may count calls of the range, to sum only those.

        The bins the day totals of the days the range touches count in (a
        superset: whole days, every dimension, and counts never go below
        zero). LLM calls' durations span a few dozen of the 85 bins (13 in
        ``bench/metrics_query.py``), and summing the 85 columns was most of
        the server's time for a month by user.
        """
        query = sa.select(*(sa.func.sum(table.c[name]) for name in latency.COLUMNS)).where(
            table.c.grain == aggregate.DAY_BY[None].number,
            table.c.bucket >= aggregate.truncate(self.since, "day"),
            table.c.bucket <= self.until,
        )
        counts = connection.execute(query).one()
        return [number for number, count in enumerate(counts) if count]

    @staticmethod
    def _prompt_names(connection: Connection, ids: set[Any]) -> dict[int, tuple[str, int]]:
        """Slug and number of the prompt versions ``ids`` (``0``: none), by id."""
        ids = ids - {0, None}
        if not ids:
            return {}
        query = (
            sa.select(versions.c.id, prompts.c.slug, versions.c.version_number)
            .join(prompts, prompts.c.id == versions.c.prompt_id)
            .where(versions.c.id.in_(ids))
        )
        return {row.id: (row.slug, row.version_number) for row in connection.execute(query)}

    @staticmethod
    def _results(
        names: tuple[str, ...],
        merged: Mapping[tuple[Any, ...], Sequence[Any]],
        bins: Sequence[int],
        prompt_names: dict[int, tuple[str, int]],
    ) -> list[dict[str, Any]]:
        """Each group's dict from its key and sums (the measures, then the counts of
        ``bins``), but for groups whose calls were all taken away (outside the range).

        A month by user makes 5,000 of them, which took longer than the server's
        read: each is zipped from its names and values in one go.
        """
        keys = names
        if "prompt_version" in names:
            keys = (*names, *(("prompt",) if "prompt" not in names else ()), "version")
        fields = (*keys, "calls", "errors", "error_rate", *MEASURES[2:], *_PERCENTILE_KEYS)
        version = names.index("prompt_version") if "prompt_version" in names else None
        prompt = names.index("prompt") if "prompt" in names else None
        first_bin = len(MEASURES)
        results = []
        for key, numbers in merged.items():
            calls = numbers[0]
            if not calls:
                continue
            if version is not None:
                slug, number = prompt_names.get(key[version], _NO_PROMPT)
                key = (*key, number) if prompt is not None else (*key, slug, number)
            found = latency.percentiles(numbers[first_bin:], _FRACTIONS, bins)
            errors = numbers[1]
            # In the order of ``MEASURES``; each sum already an int or a float (cast in SQL).
            values = (*key, calls, errors, errors / calls, *numbers[2:first_bin], *found)
            results.append(dict(zip(fields, values, strict=True)))
        return results


class Segment(NamedTuple):
    """The rows of ``grain`` whose bucket starts in ``[low, high)``, added or taken away."""

    grain: aggregate.Grain
    low: dt.datetime
    high: dt.datetime
    #: ``1``: added; ``-1``: taken away (the part of a bucket read whole outside the range).
    sign: int


def _cover(
    low: dt.datetime,
    high: dt.datetime,
    grains: Sequence[aggregate.Grain],
    sign: int,
    now: dt.datetime,
) -> list[Segment]:
    """``[low, high)`` (whole minutes) as whole buckets of ``grains[0]``, the coarsest,
    and the finer ``grains`` at either end, each segment with ``sign``.

    A bucket the range only partly covers at one end is left to the finer
    grains for the part inside the range, or read whole with the part
    outside taken away, whichever reads less. What a read costs is
    estimated from the time it covers: read whole, a bucket costs half its
    time, as rows of the finer grains (a value active for several of their
    buckets has one row in it); time after ``now`` costs nothing, no rows
    are stored there. A month by user, its ends at 06:47, so reads four
    9-day runs, 20,000 rows in ``bench/metrics_query.py``, less 7 hours
    before its start, where adding two days, three 3-day runs and 17 hours
    at the start and three days and 7 hours at the end read 38,000; a day by
    user reads the run of days that started today whole, and yesterday's 17
    hours from hour rows (yesterday's row has as many users as those
    hours). Exact because every row of a bucket is the sum of the finer
    rows inside it, kept or purged together (see ``tracing.retention``).
    """
    grain, finer = grains[0], grains[1:]
    if not finer:
        return [Segment(grain, low, high, sign)]
    width = grain.width
    best: tuple[dt.datetime, dt.datetime] | None = None
    least = _length(low, high, now)  # nothing of this grain: all of it finer
    for first in {aggregate.truncate(low, width), _ceil(low, width)}:
        for last in {aggregate.truncate(high, width), _ceil(high, width)}:
            if first >= last:
                continue
            cost = _length(first, last, now) / 2
            cost += _length(min(first, low), max(first, low), now)
            cost += _length(min(high, last), max(high, last), now)
            if cost < least:
                best, least = (first, last), cost
    if best is None:
        return _cover(low, high, finer, sign, now)
    first, last = best
    segments = [Segment(grain, first, last, sign)]
    if first != low:
        inside = first > low
        segments += _cover(min(first, low), max(first, low), finer, sign if inside else -sign, now)
    if last != high:
        inside = last < high
        segments += _cover(min(high, last), max(high, last), finer, sign if inside else -sign, now)
    return segments


def _within(segments: Iterable[Segment]) -> sa.ColumnElement[bool]:
    """The rows of ``segments``: their grain, and a bucket in their range."""
    bucket = table.c.bucket
    return sa.or_(
        *(
            sa.and_(table.c.grain == grain.number, bucket >= low, bucket < high)
            for grain, low, high, _ in segments
        )
    )


def _length(low: dt.datetime, high: dt.datetime, now: dt.datetime) -> dt.timedelta:
    """How much of ``[low, high)`` is before ``now``: what reading it costs."""
    return max(min(high, now) - low, dt.timedelta(0))


def _ceil(moment: dt.datetime, width: str) -> dt.datetime:
    start = aggregate.truncate(moment, width)
    if start == moment:
        return start
    if width in _UNIT:
        return start + _UNIT[width]
    return start + dt.timedelta(days=aggregate.BLOCK_DAYS.get(width, 1))


def _bucket(value: dt.datetime, width: str) -> dt.datetime:
    """A row's bucket, in UTC (SQLite gives it back naive), truncated to ``width``."""
    return aggregate.truncate(as_utc(value), width)
