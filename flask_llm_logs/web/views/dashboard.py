"""The dashboard: totals and charts over a range, breakdowns under them, their CSVs."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.exceptions import NotFound

from ...state import get_state
from .. import dashboard_queries as queries
from .. import exports
from ..blueprint import blueprint

#: The traces list's filter for each breakdown's dimension.
TRACE_FILTERS = {
    "model": "model",
    "provider": "provider",
    "name": "name",
    "prompt": "prompt",
    "prompt_version": "prompt_version",
    "user": "user",
    "environment": "environment",
}


def _page_args(**changes: Any) -> dict[str, Any]:
    """This page's arguments with ``changes`` (``None`` drops one): range, filters, sorts."""
    args: dict[str, Any] = {k: v for k, v in request.args.items() if v}
    args.update(changes)
    return {k: v for k, v in args.items() if v is not None}


def traces_url(
    span: queries.DashboardRange,
    filters: queries.DashboardFilters,
    breakdown: queries.Breakdown,
    row: dict[str, Any],
) -> str | None:
    """The traces list narrowed to a breakdown row: the range, the page's filters and the
    row's value; ``None`` for the row of calls that recorded no value."""
    values = [row.get(name) for name in breakdown.group_by]
    if any(value is None for value in values):
        return None
    args: dict[str, Any] = dict(filters.values)
    for name, value in zip(breakdown.group_by, values, strict=True):
        args[TRACE_FILTERS[name]] = value
    return url_for(
        "llm_logs.traces", since=span.start.isoformat(), until=span.end.isoformat(), **args
    )


def sort_url(breakdown: queries.Breakdown, sort: str, column: str) -> str:
    """The link of a column's header: by it, the largest first; again for the smallest."""
    flipped = column if sort == f"-{column}" else f"-{column}"
    if column in (*breakdown.group_by, "prompt", "version"):
        flipped = column if sort != column else f"-{column}"
    args = _page_args(**{f"sort_{breakdown.key}": flipped})
    return url_for("llm_logs.dashboard", _anchor=f"by-{breakdown.key}", **args)


@blueprint.get("/dashboard")
def dashboard() -> str:
    span = queries.DashboardRange.from_args(request.args)
    filters = queries.DashboardFilters.from_args(request.args)
    data = queries.dashboard(get_state().session, span, filters, request.args)
    return render_template(
        "llm_logs/dashboard/index.html",
        data=data,
        ranges=queries.RANGES,
        breakdowns=queries.BREAKDOWNS,
        columns=queries.COLUMNS,
        compared=queries.COMPARED,
        filter_names=queries.FILTERS,
        traces_url=traces_url,
        sort_url=sort_url,
        page_args=_page_args,
    )


@blueprint.get("/dashboard/<key>.csv")
def dashboard_csv(key: str) -> Response:
    """A breakdown of the page's range and filters, every row, as CSV."""
    breakdown = queries.BREAKDOWN_KEYS.get(key)
    if breakdown is None:
        raise NotFound(f"There is no breakdown {key!r}.")
    span = queries.DashboardRange.from_args(request.args)
    filters = queries.DashboardFilters.from_args(request.args)
    sort = queries.sort_key(breakdown, request.args)
    rows = queries.sorted_rows(
        queries.breakdown_rows(get_state().session, span, filters, breakdown), sort
    )
    keys = [*breakdown.group_by]
    if breakdown.key == "prompt_version":
        keys = ["prompt", "version", "prompt_version"]
    header = [*keys, *queries.COLUMNS]
    table = ([row.get(name) for name in header] for row in rows)
    return exports.csv_response(f"{breakdown.key}.csv", header, table)
