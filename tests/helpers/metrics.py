"""What the metrics table should say, computed the slow way: from the stored spans."""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import Flask

from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.state import get_state
from flask_llm_logs.tracing import latency
from flask_llm_logs.tracing.records import SpanRecord
from flask_llm_logs.tracing.records import TraceRecord
from tests.helpers.writer import span_record
from tests.helpers.writer import trace_record

#: What raw spans are grouped by, per ``metrics()`` dimension.
RAW_KEYS = {"model": "model", "user": "user_id", "name": "trace_name", "status": "status"}


def raw_llm_spans(app: Flask) -> list[dict[str, Any]]:
    """Every stored LLM span with its trace's name and user, and its start as aware UTC."""
    spans, traces = Span.__table__, Trace.__table__
    query = sa.select(
        spans.c.model,
        spans.c.status,
        spans.c.input_tokens,
        spans.c.output_tokens,
        spans.c.cached_tokens,
        spans.c.cache_write_tokens,
        spans.c.cost,
        spans.c.duration_ms,
        spans.c.started_at,
        traces.c.name.label("trace_name"),
        traces.c.user_id,
    ).select_from(spans.outerjoin(traces, traces.c.id == spans.c.trace_id))
    with get_state(app).engine.connect() as connection:
        rows = [row._asdict() for row in connection.execute(query.where(spans.c.kind == "llm"))]
    for row in rows:
        started = row["started_at"]
        if started.tzinfo is None:
            row["started_at"] = started.replace(tzinfo=dt.timezone.utc)
    return rows


def nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def expected(
    rows: Iterable[dict[str, Any]], group_by: tuple[str, ...]
) -> dict[tuple[Any, ...], Any]:
    """Sums and exact percentiles of ``rows`` per group, keyed like ``metrics()`` rows."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        key = tuple(row[RAW_KEYS[name]] for name in group_by)
        groups.setdefault(key, []).append(row)
    result = {}
    for key, members in groups.items():
        durations = [row["duration_ms"] for row in members]
        result[key] = {
            "calls": len(members),
            "errors": sum(row["status"] == "error" for row in members),
            "input_tokens": sum(row["input_tokens"] or 0 for row in members),
            "output_tokens": sum(row["output_tokens"] or 0 for row in members),
            "cached_tokens": sum(row["cached_tokens"] or 0 for row in members),
            "cache_write_tokens": sum(row["cache_write_tokens"] or 0 for row in members),
            "cost": sum(float(row["cost"] or 0) for row in members),
            "duration_ms_sum": sum(durations),
            **{name: nearest_rank(durations, fraction) for name, fraction in PERCENTILES},
        }
    return result


PERCENTILES = (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99))
EXACT = ("calls", "errors", "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens")


def assert_matches(
    actual: list[dict[str, Any]], wanted: dict[tuple[Any, ...], Any], group_by: tuple[str, ...]
) -> None:
    """``metrics()`` rows equal the raw sums, and their percentiles are within the bound."""
    by_key = {tuple(row[name] for name in group_by): row for row in actual}
    assert set(by_key) == set(wanted)
    for key, sums in wanted.items():
        row = by_key[key]
        for name in EXACT:
            assert row[name] == sums[name], (key, name)
        assert row["error_rate"] == sums["errors"] / sums["calls"]
        assert math.isclose(row["cost"], sums["cost"], rel_tol=1e-9, abs_tol=1e-9), key
        assert math.isclose(row["duration_ms_sum"], sums["duration_ms_sum"], rel_tol=1e-9), key
        for name, _ in PERCENTILES:
            assert abs(row[name] - sums[name]) <= latency.RELATIVE_ERROR * sums[name], (key, name)


MODELS = ("gpt-4.1-mini", "gpt-4.1", "claude-sonnet-4")
USERS = ("alice", "bob", None)
NAMES = ("chat", "POST /ask")


def random_trace(
    rng: random.Random, spans: int, started_at: float | None = None
) -> list[TraceRecord | SpanRecord]:
    """A trace's records (start, LLM and tool spans, end) with random dimensions and numbers."""
    started = time.time() - 600 if started_at is None else started_at
    start = trace_record(
        name=rng.choice(NAMES),
        user_id=rng.choice(USERS),
        environment="production",
        started_at=started,
    )
    records: list[TraceRecord | SpanRecord] = [start]
    for number in range(spans):
        kind = "llm" if number % 4 else "tool"
        records.append(
            span_record(
                start.id,
                kind=kind,
                model=rng.choice(MODELS) if kind == "llm" else None,
                provider="openai",
                status="error" if rng.random() < 0.1 else "completed",
                started_at=started + rng.uniform(0, 120),
                duration_ms=rng.lognormvariate(6, 1.2),
                input_tokens=rng.randrange(2000),
                output_tokens=rng.randrange(500),
                cached_tokens=rng.randrange(100),
                cache_write_tokens=rng.randrange(10),
                cost=round(rng.uniform(0, 0.01), 8),
            )
        )
    records.append(trace_record(start.id, status="completed", started_at=started, **_same(start)))
    return records


def _same(start: TraceRecord) -> dict[str, Any]:
    return {"name": start.name, "user_id": start.user_id, "environment": start.environment}
