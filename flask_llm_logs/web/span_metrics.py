"""The numbers of ``flask_llm_logs.metrics()``, computed from the stored spans themselves.

The metrics table keeps no tags (a trace has any number of them, and one
dimension more would multiply its rows), so a dashboard narrowed to a tag
reads the spans of the tagged traces instead: the same rows (the LLM calls,
under their trace's name, user and environment and their own model,
provider, status and prompt version), the same keys, in one query.
Percentiles here are exact (nearest rank, by window functions that SQLite
and PostgreSQL both have) where the table's are read from a histogram
within 10%. It reads every LLM span of the range and the tag: on a big
database it is much slower than the table (see docs/performance.rst).

The spans' traces are read from the start of the range less
``LLM_LOGS_INCOMPLETE_AFTER`` (and an hour of clock slack) to its end
(plus the slack): on PostgreSQL only the partitions of the traces that can
have been running then (see :func:`.trace_queries.running_within`). A
call made by a trace that had been running longer than that is left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute

from ..insights.metrics import DIMENSIONS
from ..insights.metrics import PERCENTILES
from ..models import PromptRecord
from ..models import PromptVersion
from ..models import Span
from ..models import Trace
from ..models.base import as_utc
from .trace_queries import DbSession
from .trace_queries import column_time
from .trace_queries import list_condition
from .trace_queries import running_within

BUCKETS = (None, "minute", "hour", "day")
_SQLITE_BUCKETS = {"minute": "%Y-%m-%d %H:%M:00", "hour": "%Y-%m-%d %H:00:00", "day": "%Y-%m-%d"}


def _prompt_version() -> sa.ColumnElement[Any]:
    """The prompt version a call was built from, as its span's metadata records it."""
    version: sa.ColumnElement[Any] = Span.metadata_["prompt_version_id"].as_integer()
    return version


def _columns() -> dict[str, sa.ColumnElement[Any] | InstrumentedAttribute[Any]]:
    return {
        "model": Span.model,
        "provider": Span.provider,
        "name": Trace.name,
        "prompt": PromptRecord.slug,
        "prompt_version": _prompt_version(),
        "user": Trace.user_id,
        "environment": Trace.environment,
        "status": Span.status,
    }


def _bucket(dialect: str, width: str) -> sa.ColumnElement[Any]:
    if dialect == "postgresql":
        return sa.func.date_trunc(width, sa.func.timezone("UTC", Span.started_at))
    return sa.func.strftime(_SQLITE_BUCKETS[width], Span.started_at)


def span_metrics(
    session: DbSession,
    since: dt.datetime,
    until: dt.datetime,
    group_by: Iterable[str] = ("model",),
    filters: Mapping[str, Any] | None = None,
    bucket: str | None = None,
    *,
    tag: str | None = None,
) -> list[dict[str, Any]]:
    """What ``metrics(since, until, group_by, filters, bucket)`` returns, from the spans of
    the traces tagged ``tag`` (all traces without one). Times are naive UTC or aware."""
    dialect = session.get_bind(Span).dialect.name
    columns = _columns()
    names = tuple(group_by)
    for name in (*names, *(filters or {})):
        if name not in DIMENSIONS:
            raise ValueError(f"group_by: unknown dimension {name!r}")
    if bucket not in BUCKETS:
        raise ValueError(f"bucket: must be one of None, minute, hour, day; got {bucket!r}")
    start, end = column_time(session, since), column_time(session, until)
    conditions: list[sa.ColumnElement[bool]] = [
        Span.kind == "llm",
        Span.started_at >= start,
        Span.started_at < end,
        *running_within(session, start, end).of(Trace.started_at),
    ]
    if tag is not None:
        conditions.append(list_condition(dialect, Trace.tags, tag))
    for name, value in (filters or {}).items():
        column = columns[name]
        conditions.append(column.is_(None) if value is None else column == value)
    keys: dict[str, sa.ColumnElement[Any] | InstrumentedAttribute[Any]] = {}
    if bucket is not None:
        keys["bucket"] = _bucket(dialect, bucket)
    for name in names:
        keys[name] = columns[name]
    partition = list(keys.values()) or None
    duration = Span.duration_ms
    spans = (
        sa.select(
            *(column.label(f"k_{n}") for n, column in enumerate(keys.values())),
            Span.status,
            Span.input_tokens,
            Span.output_tokens,
            Span.cached_tokens,
            Span.cache_write_tokens,
            Span.cost,
            duration,
            sa.func.row_number()
            .over(partition_by=partition, order_by=duration.asc().nulls_last())
            .label("rank"),
            sa.func.count(duration).over(partition_by=partition).label("timed"),
        )
        .select_from(Span)
        .join(Trace, Trace.id == Span.trace_id)
        .where(*conditions)
    )
    if "prompt" in (*names, *(filters or {})):
        spans = spans.outerjoin(PromptVersion, PromptVersion.id == columns["prompt_version"])
        spans = spans.outerjoin(PromptRecord, PromptRecord.id == PromptVersion.prompt_id)
    inner = spans.subquery()
    group = [inner.c[f"k_{n}"] for n in range(len(keys))]
    measures = [
        sa.func.count(),
        sa.func.sum(sa.case((inner.c.status == "error", 1), else_=0)),
        *(
            sa.func.coalesce(sa.func.sum(inner.c[c]), 0)
            for c in (
                "input_tokens",
                "output_tokens",
                "cached_tokens",
                "cache_write_tokens",
                "cost",
            )
        ),
        sa.func.coalesce(sa.func.sum(inner.c.duration_ms), 0),
        *(
            sa.func.min(sa.case((inner.c.rank >= fraction * inner.c.timed, inner.c.duration_ms)))
            for _, fraction in PERCENTILES
        ),
    ]
    query = sa.select(*group, *measures)
    if group:
        query = query.group_by(*group)
    rows = list(session.execute(query))
    prompt_names = _prompt_names(session, names, keys, rows)
    results = []
    for row in rows:
        values = dict(zip(keys, row[: len(keys)], strict=True))
        (
            calls,
            errors,
            input_tokens,
            output_tokens,
            cached,
            cache_writes,
            cost,
            total_ms,
            *percentiles,
        ) = row[len(keys) :]
        if not calls:
            continue
        result: dict[str, Any] = {}
        if bucket is not None:
            result["bucket"] = _bucket_value(values.pop("bucket"))
        for name, value in values.items():
            result[name] = value or None
            if name == "prompt_version":
                slug, number = prompt_names.get(value, (None, None))
                result.setdefault("prompt", slug)
                result["version"] = number
        result.update(
            calls=int(calls),
            errors=int(errors),
            error_rate=int(errors) / int(calls),
            input_tokens=int(input_tokens),
            output_tokens=int(output_tokens),
            cached_tokens=int(cached),
            cache_write_tokens=int(cache_writes),
            cost=float(cost),
            duration_ms_sum=float(total_ms),
        )
        for (key, _), value in zip(PERCENTILES, percentiles, strict=True):
            result[key] = None if value is None else float(value)
        results.append(result)
    results.sort(key=lambda result: (result.get("bucket") or 0, -result["calls"]))
    return results


def _bucket_value(value: Any) -> dt.datetime:
    """A bucket's start, aware UTC (SQLite gives text, PostgreSQL a naive UTC time)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return as_utc(value)


def _prompt_names(
    session: DbSession, names: tuple[str, ...], keys: Mapping[str, Any], rows: list[Any]
) -> dict[int, tuple[str, int]]:
    """Slug and number of the prompt versions among ``rows``, by id (one query, if any)."""
    if "prompt_version" not in names:
        return {}
    position = list(keys).index("prompt_version")
    ids = {row[position] for row in rows} - {None}
    if not ids:
        return {}
    found = session.execute(
        sa.select(PromptVersion.id, PromptRecord.slug, PromptVersion.version_number)
        .join(PromptVersion.prompt)
        .where(PromptVersion.id.in_(ids))
    )
    return {row.id: (row.slug, row.version_number) for row in found}
