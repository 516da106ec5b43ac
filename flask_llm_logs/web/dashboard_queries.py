"""The dashboard's reads: a range, its filters, totals, series over time and breakdowns.

Every number comes from :func:`read_metrics`, the numbers of
``flask_llm_logs.metrics()``: totals and one row per bucket for the charts,
then one read per breakdown, so the page runs the same number of queries
whatever the range or the data (see ``BREAKDOWNS``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from werkzeug.exceptions import BadRequest

from ..insights.metrics import metrics
from ..models.base import naive_utc
from ..models.base import utcnow
from ..tracing.aggregate import truncate
from .charts import Chart
from .charts import Series
from .charts import TimeAxis
from .charts import Unit
from .params import datetime_arg
from .params import text_arg
from .span_metrics import span_metrics
from .trace_queries import DbSession

_MINUTE = dt.timedelta(minutes=1)
_HOUR = dt.timedelta(hours=1)
_DAY = dt.timedelta(days=1)

#: The range picker's choices: name -> (label, length, bucket).
RANGES: dict[str, tuple[str, dt.timedelta, str]] = {
    "1h": ("Last hour", _HOUR, "minute"),
    "24h": ("24 hours", _DAY, "hour"),
    "7d": ("7 days", 7 * _DAY, "hour"),
    "30d": ("30 days", 30 * _DAY, "day"),
}
DEFAULT_RANGE = "24h"
_WIDTHS = {"minute": _MINUTE, "hour": _HOUR, "day": _DAY}
#: A custom range gets the finest bucket that keeps its charts at this many
#: buckets or fewer (minutes up to 3 hours, hours up to 8 days, then days).
MAX_BUCKETS = 200


@dataclasses.dataclass(frozen=True)
class DashboardRange:
    """The time the dashboard covers, ``[start, end)`` in naive UTC, in buckets of ``bucket``.

    A preset ends with the bucket now falls in (so the last bar grows as
    calls come in) and is as long as its name says; a custom range runs
    from the start of the bucket ``since`` falls in to ``until``.
    """

    name: str
    start: dt.datetime
    end: dt.datetime
    bucket: str

    @classmethod
    def from_args(cls, args: Mapping[str, str], now: dt.datetime | None = None) -> DashboardRange:
        now = naive_utc(now or utcnow())
        since, until = datetime_arg(args, "since"), datetime_arg(args, "until")
        name = text_arg(args, "range") or ("custom" if since or until else DEFAULT_RANGE)
        if name == "custom":
            if since is None:
                raise BadRequest("since: a custom range needs its start.")
            until = until or now
            if since >= until:
                raise BadRequest("since: later than until.")
            length = until - since
            bucket = next(
                (b for b in ("minute", "hour") if length / _WIDTHS[b] <= MAX_BUCKETS), "day"
            )
            return cls("custom", truncate(since, bucket), until, bucket)
        if name not in RANGES:
            raise BadRequest(f"range: must be one of {', '.join(RANGES)} or custom.")
        _, length, bucket = RANGES[name]
        end = truncate(now, bucket) + _WIDTHS[bucket]
        return cls(name, end - length, now, bucket)

    @property
    def axis(self) -> TimeAxis:
        return TimeAxis(self.start, self.end, _WIDTHS[self.bucket])

    def args(self) -> dict[str, str]:
        """The range as query arguments, for links that keep it."""
        if self.name != "custom":
            return {"range": self.name}
        return {"range": "custom", "since": self.start.isoformat(), "until": self.end.isoformat()}


#: The traces list's filters that narrow the dashboard, in the form's order.
FILTERS = ("environment", "model", "name", "user", "prompt", "tag")


@dataclasses.dataclass(frozen=True)
class DashboardFilters:
    values: dict[str, str]

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> DashboardFilters:
        values = {name: text_arg(args, name) for name in FILTERS}
        return cls({name: value for name, value in values.items() if value is not None})

    @property
    def dimensions(self) -> dict[str, str]:
        """The filters ``metrics()`` takes (the metrics keep every one but the tag)."""
        return {name: value for name, value in self.values.items() if name != "tag"}

    @property
    def tag(self) -> str | None:
        return self.values.get("tag")


def read_metrics(
    session: DbSession,
    span: DashboardRange,
    filters: DashboardFilters,
    group_by: Sequence[str] = (),
    bucket: str | None = None,
) -> list[dict[str, Any]]:
    """The metrics of the range, narrowed by the filters: what ``metrics()`` returns.

    From the metrics table, except with a tag: the table keeps no tags, so
    the tagged traces' spans are read instead (see :mod:`.span_metrics`).
    """
    if filters.tag is None:
        return metrics(span.start, span.end, group_by, filters.dimensions, bucket)
    return span_metrics(
        session, span.start, span.end, group_by, filters.dimensions, bucket, tag=filters.tag
    )


@dataclasses.dataclass(frozen=True)
class Breakdown:
    """One table under the charts: a dimension's rows with its columns."""

    #: Its URL name (``/dashboard/<key>.csv``) and the ``sort_<key>`` argument.
    key: str
    title: str
    #: The heading of its first column.
    label: str
    group_by: tuple[str, ...]
    #: The sort without a ``sort_<key>`` argument: a column, ``-`` first for the largest first.
    default_sort: str


BREAKDOWNS = (
    Breakdown("model", "Models", "Model", ("model",), "-calls"),
    Breakdown("provider", "Providers", "Provider", ("provider",), "-calls"),
    Breakdown("name", "Trace names (routes)", "Trace name", ("name",), "-calls"),
    Breakdown("prompt", "Prompts", "Prompt", ("prompt",), "-calls"),
    Breakdown("prompt_version", "Prompt versions", "Prompt", ("prompt_version",), "prompt"),
    # Top spenders first.
    Breakdown("user", "Users", "User", ("user",), "-cost"),
    Breakdown("environment", "Environments", "Environment", ("environment",), "-calls"),
)
BREAKDOWN_KEYS = {breakdown.key: breakdown for breakdown in BREAKDOWNS}

#: The columns of a breakdown (and its CSV), after its dimension's: key -> label.
COLUMNS = {
    "calls": "Calls",
    "errors": "Errors",
    "error_rate": "Error rate",
    "input_tokens": "Input tokens",
    "output_tokens": "Output tokens",
    "cached_tokens": "Cached tokens",
    "cost": "Cost",
    "cost_per_call": "Cost per call",
    "p50_ms": "p50",
    "p95_ms": "p95",
    "p99_ms": "p99",
}
#: A prompt version's numbers shown beside its previous version's.
COMPARED = ("calls", "cost_per_call", "p50_ms", "p95_ms", "error_rate")


def sort_key(breakdown: Breakdown, args: Mapping[str, str]) -> str:
    """The ``sort_<key>`` argument: a column, ``-`` first for the largest first."""
    value = text_arg(args, f"sort_{breakdown.key}") or breakdown.default_sort
    column = value.removeprefix("-")
    if column not in COLUMNS and column not in (*breakdown.group_by, "prompt", "version"):
        raise BadRequest(f"sort_{breakdown.key}: cannot sort by {column!r}.")
    return value


def _with_cost_per_call(row: dict[str, Any]) -> dict[str, Any]:
    row["cost_per_call"] = row["cost"] / row["calls"] if row["calls"] else None
    return row


def sorted_rows(rows: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    """``rows`` by ``sort``; missing values (no calls, not recorded) always last."""
    column = sort.removeprefix("-")
    descending = sort.startswith("-")
    if column == "prompt":  # a prompt's versions together, the newest first
        return sorted(
            rows,
            key=lambda r: (
                r.get("prompt") is None,
                r.get("prompt") or "",
                -(r.get("version") or 0),
            ),
        )
    present = [r for r in rows if r.get(column) is not None]
    missing = [r for r in rows if r.get(column) is None]
    present.sort(key=lambda r: r[column], reverse=descending)
    return present + missing


def with_previous_versions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each prompt version row with ``previous``: the row of the same prompt's closest
    older version that was called in the range (``None`` if none was)."""
    by_prompt: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        by_prompt.setdefault(row.get("prompt"), []).append(row)
    for versions in by_prompt.values():
        versions.sort(key=lambda r: r.get("version") or 0)
        for older, newer in zip([None, *versions], versions, strict=False):
            newer["previous"] = older
    return rows


#: Rows a breakdown shows on the page, after sorting; its CSV has them all. Thousands
#: of users made a page of megabytes that took seconds to render.
SHOWN_ROWS = 25


@dataclasses.dataclass
class Dashboard:
    range: DashboardRange
    filters: DashboardFilters
    totals: dict[str, Any]
    charts: list[Chart]
    #: Breakdown key -> its first :data:`SHOWN_ROWS` rows, sorted as asked.
    tables: dict[str, list[dict[str, Any]]]
    #: Breakdown key -> how many rows it has in all.
    counts: dict[str, int]
    sorts: dict[str, str]


EMPTY_TOTALS: dict[str, Any] = {
    "calls": 0,
    "errors": 0,
    "error_rate": 0.0,
    "input_tokens": 0,
    "output_tokens": 0,
    "cached_tokens": 0,
    "cache_write_tokens": 0,
    "cost": 0.0,
    "duration_ms_sum": 0.0,
    "p50_ms": None,
    "p95_ms": None,
    "p99_ms": None,
}


def charts(span: DashboardRange, rows: list[dict[str, Any]]) -> list[Chart]:
    """The charts over time from one row per bucket; buckets without calls count zero."""
    by_bucket = {naive_utc(row["bucket"]): row for row in rows}
    axis = span.axis
    filled = [by_bucket.get(bucket, EMPTY_TOTALS) for bucket in axis.buckets]

    def values(key: str) -> list[float | None]:
        return [row[key] for row in filled]

    calls = values("calls")
    errors = values("errors")
    return [
        Chart(
            "Calls",
            axis,
            [
                Series(
                    "succeeded", [(c or 0) - (e or 0) for c, e in zip(calls, errors, strict=True)]
                ),
                Series("errors", errors, tone="error"),
            ],
            Unit.COUNT,
            kind="bar",
        ),
        Chart(
            "Error rate",
            axis,
            [
                Series(
                    "error rate",
                    [row["error_rate"] if row["calls"] else None for row in filled],
                    tone="error",
                )
            ],
            Unit.PERCENT,
            missing="no calls",
        ),
        Chart(
            "Tokens",
            axis,
            [
                Series("input", values("input_tokens")),
                Series("output", values("output_tokens")),
                Series("cached", values("cached_tokens")),
            ],
            Unit.COUNT,
        ),
        Chart("Cost", axis, [Series("cost", values("cost"))], Unit.USD, kind="bar"),
        Chart(
            "Duration of LLM calls",
            axis,
            [
                Series("p50", values("p50_ms")),
                Series("p95", values("p95_ms")),
                Series("p99", values("p99_ms")),
            ],
            Unit.MS,
            missing="no calls",
        ),
    ]


def breakdown_rows(
    session: DbSession, span: DashboardRange, filters: DashboardFilters, breakdown: Breakdown
) -> list[dict[str, Any]]:
    """A breakdown's rows, each with its cost per call (and previous version, for versions)."""
    rows = [
        _with_cost_per_call(row) for row in read_metrics(session, span, filters, breakdown.group_by)
    ]
    if breakdown.key == "prompt_version":
        with_previous_versions(rows)
    return rows


def dashboard(
    session: DbSession,
    span: DashboardRange,
    filters: DashboardFilters,
    args: Mapping[str, str],
) -> Dashboard:
    """Everything the page shows: totals, charts and every breakdown, sorted as asked."""
    sorts = {b.key: sort_key(b, args) for b in BREAKDOWNS}
    totals = read_metrics(session, span, filters)
    series = read_metrics(session, span, filters, bucket=span.bucket)
    tables = {
        b.key: sorted_rows(breakdown_rows(session, span, filters, b), sorts[b.key])
        for b in BREAKDOWNS
    }
    return Dashboard(
        span,
        filters,
        _with_cost_per_call(dict(totals[0] if totals else EMPTY_TOTALS)),
        charts(span, series),
        {key: rows[:SHOWN_ROWS] for key, rows in tables.items()},
        {key: len(rows) for key, rows in tables.items()},
        sorts,
    )
