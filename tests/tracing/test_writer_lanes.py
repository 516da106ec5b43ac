"""The writer's lanes: several threads, one per share of the traces, on real databases."""

from __future__ import annotations

import collections
import random
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.state import get_state
from tests.helpers.writer import span_record
from tests.helpers.writer import stored
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record

on_postgresql = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def records_of_traces(traces: int, spans: int) -> list[list[Any]]:
    """Per trace: its start, ``spans`` spans with tokens and cost, and its end."""
    result = []
    for _ in range(traces):
        start = trace_record()
        steps = [
            span_record(
                start.id,
                input={"trace": str(start.id)},
                input_tokens=number,
                output_tokens=2 * number,
                cost=number / 100,
            )
            for number in range(1, spans + 1)
        ]
        result.append([start, *steps, trace_record(start.id, status="completed")])
    return result


def test_lanes_by_database(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    default = {"sqlite": 1, "postgresql": 2}[get_state(app).engine.dialect.name]
    assert get_state(app).writer.threads == default
    assert get_state(make_app(LLM_LOGS_WRITER_THREADS=3)).writer.threads == 3


@on_postgresql
def test_concurrent_traces_on_several_lanes_get_right_rollups(
    make_app: Callable[..., Flask],
) -> None:
    handled_by: dict[str, set[str]] = collections.defaultdict(set)

    def note_thread(value: Any) -> Any:  # runs on the lane's thread, per span input
        if isinstance(value, dict):
            handled_by[value["trace"]].add(threading.current_thread().name)
        return value

    # Small batches: many transactions, on every lane at once.
    app = make_app(
        LLM_LOGS_WRITER_THREADS=3,
        LLM_LOGS_WRITER_BATCH_SIZE=16,
        LLM_LOGS_WRITER_FLUSH_INTERVAL=0.01,
        LLM_LOGS_REDACT=note_thread,
    )
    producers = [records_of_traces(traces=30, spans=12) for _ in range(6)]
    barrier = threading.Barrier(len(producers), timeout=10)

    def produce(traces: list[list[Any]]) -> None:
        # Interleave the traces of this producer, keeping each trace's order.
        pending = [collections.deque(records) for records in traces]
        barrier.wait()
        while pending:
            records = random.choice(pending)
            submit(app, records.popleft())
            if not records:
                pending.remove(records)

    threads = [threading.Thread(target=produce, args=(p,)) for p in producers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    writer = get_state(app).writer
    assert writer.flush(60)

    rows = {row.id: row for row in stored(app, Trace)}
    assert len(rows) == 6 * 30
    for trace in rows.values():
        assert trace.status == "completed"
        assert trace.spans_count == 12
        assert (trace.input_tokens, trace.output_tokens) == (78, 156)
        assert trace.cost == pytest.approx(0.78)
    assert len(stored(app, Span)) == 6 * 30 * 12
    stats = writer.stats()
    assert (stats["written_spans"], stats["dropped"], stats["errors"]) == (6 * 30 * 12, 0, 0)
    # Each trace on one thread, and the traces spread over all of them.
    assert all(len(names) == 1 for names in handled_by.values())
    assert len(set.union(*handled_by.values())) == 3


def test_a_trace_stays_on_one_lane_and_flush_waits_for_every_lane(
    make_app: Callable[..., Flask],
) -> None:
    # Nothing goes out by itself: only flush() sends these partial batches.
    app = make_app(
        LLM_LOGS_WRITER_THREADS=4,
        LLM_LOGS_WRITER_BATCH_SIZE=10_000,
        LLM_LOGS_WRITER_FLUSH_INTERVAL=30,
    )
    traces = records_of_traces(traces=40, spans=3)
    for records in traces:
        submit(app, *records)
    writer = get_state(app).writer
    lanes = [list(lane.queue) for lane in writer._lanes]
    for records in traces:
        [lane] = [lane for lane in lanes if records[0] in lane]
        assert [r for r in lane if r.trace_id == records[0].id] == records
    assert all(lanes)

    assert writer.flush(10)
    assert writer.stats()["queued"] == 0
    assert len(stored(app, Span)) == 40 * 3
    assert {row.status for row in stored(app, Trace)} == {"completed"}


@pytest.mark.parametrize("trace_id", [None, "not a uuid", 12, ["unhashable"]])
def test_any_trace_id_finds_a_lane(make_app: Callable[..., Flask], trace_id: Any) -> None:
    """``submit`` never raises, whatever a (buggy) record carries as its trace id."""
    app = make_app(LLM_LOGS_WRITER_THREADS=2)
    good = span_record(uuid.uuid4())
    submit(app, span_record(trace_id), "not a record", good)
    assert get_state(app).writer.flush(10)
    assert [row.id for row in stored(app, Span)] == [good.id]
