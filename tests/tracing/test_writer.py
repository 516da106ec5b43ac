"""The background writer against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from flask import Flask

import flask_llm_logs
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.models.base import new_id
from flask_llm_logs.state import get_state
from flask_llm_logs.tracing.pricing import cost_of
from flask_llm_logs.tracing.records import Deferred
from flask_llm_logs.tracing.records import SpanRecord
from flask_llm_logs.tracing.records import TraceRecord
from tests.helpers.writer import span_record
from tests.helpers.writer import stored
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record


def test_trace_and_spans_are_stored_with_rollups(app: Flask) -> None:
    start = trace_record()
    spans = [
        span_record(
            start.id,
            kind="llm",
            model="gpt-4.1-mini",
            input_tokens=10,
            output_tokens=5,
            cached_tokens=2,
            reasoning_tokens=1,
            cost=0.25,
        ),
        span_record(
            start.id, kind="llm", model="gpt-4.1", input_tokens=1, output_tokens=1, cost=0.5
        ),
        span_record(start.id, kind="tool", name="tool.lookup"),
    ]
    submit(app, start, *spans, trace_record(start.id, status="completed"))
    assert flask_llm_logs.flush(timeout=10)

    [trace] = stored(app, Trace, id=start.id)
    assert trace.status == "completed"
    assert trace.duration_ms == 1000.0
    assert (trace.input_tokens, trace.output_tokens) == (11, 6)
    assert (trace.cached_tokens, trace.reasoning_tokens) == (2, 1)
    assert trace.cost == pytest.approx(0.75)
    assert trace.spans_count == 3
    assert sorted(trace.models) == ["gpt-4.1", "gpt-4.1-mini"]
    assert len(stored(app, Span, trace_id=start.id)) == 3
    stats = flask_llm_logs.stats()
    assert stats["written_spans"] == 3
    assert stats["written_traces"] == 1  # start and end of one trace: one upsert
    assert stats["queued"] == stats["dropped"] == stats["errors"] == 0


def test_rollups_stay_right_when_spans_arrive_late_or_first(app: Flask) -> None:
    start = trace_record()
    writer = get_state().writer
    # A span lands before its trace, and another after the trace ended.
    submit(app, span_record(start.id, input_tokens=3, output_tokens=4, cost=0.1))
    assert writer.flush(10)
    submit(app, start, trace_record(start.id, status="error", error="boom"))
    assert writer.flush(10)
    submit(app, span_record(start.id, input_tokens=5, output_tokens=6, cost=0.2))
    assert writer.flush(10)

    [trace] = stored(app, Trace, id=start.id)
    assert (trace.status, trace.error) == ("error", "boom")
    assert (trace.input_tokens, trace.output_tokens, trace.spans_count) == (8, 10, 2)
    assert trace.cost == pytest.approx(0.3)


def test_a_late_start_record_does_not_undo_the_end(app: Flask) -> None:
    start = trace_record()
    submit(app, trace_record(start.id, status="completed", started_at=start.started_at))
    assert flask_llm_logs.flush(10)
    submit(app, start)
    assert flask_llm_logs.flush(10)
    [trace] = stored(app, Trace, id=start.id)
    assert trace.status == "completed"


class Answer(pydantic.BaseModel):
    text: str
    score: float


@dataclasses.dataclass
class Point:
    x: int
    when: dt.datetime


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"


def test_values_that_are_not_json_are_stored_not_dropped(app: Flask) -> None:
    start = trace_record(metadata={"tags": {"b", "a"}, "when": dt.date(2026, 1, 2)})
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    odd = span_record(
        start.id,
        input={"answer": Answer(text="hi\x00there", score=0.5), "point": Point(1, when)},
        output=[b"bytes \xff", float("nan"), Opaque(), Unprintable(), "lone \ud800"],
        metadata={"nested": {1: (1, 2)}},
    )
    submit(app, start, odd)
    assert flask_llm_logs.flush(10)

    [span] = stored(app, Span, id=odd.id)
    assert span.input == {
        "answer": {"text": "hi\ufffdthere", "score": 0.5},
        "point": {"x": 1, "when": "2026-01-02T03:04:05+00:00"},
    }
    assert span.output == [
        "bytes \\xff",
        "nan",
        "<Opaque>",
        "<unrepresentable Unprintable>",
        "lone ?",
    ]
    assert span.metadata == {"nested": {"1": [1, 2]}}
    [trace] = stored(app, Trace, id=start.id)
    assert trace.metadata == {"tags": ["a", "b"], "when": "2026-01-02"}
    assert flask_llm_logs.stats()["dropped"] == 0


def test_redact_applies_to_input_and_output(make_app: Callable[..., Flask]) -> None:
    def redact(value: Any) -> Any:
        return str(value).replace("4111-1111", "[card]")

    app = make_app(LLM_LOGS_REDACT=redact)
    record = span_record(trace_record().id, input={"card": "4111-1111"}, output="4111-1111 ok")
    submit(app, record)
    assert get_state(app).writer.flush(10)
    [span] = stored(app, Span, id=record.id)
    assert span.input == "{'card': '[card]'}"
    assert span.output == "[card] ok"


def test_a_failing_redact_stores_no_content(make_app: Callable[..., Flask]) -> None:
    def redact(value: Any) -> Any:
        raise ValueError("redactor bug")

    app = make_app(LLM_LOGS_REDACT=redact)
    record = span_record(trace_record().id, input="secret", output="secret")
    submit(app, record)
    assert get_state(app).writer.flush(10)
    [span] = stored(app, Span, id=record.id)
    assert (span.input, span.output) == ("[redacted]", "[redacted]")


def test_capture_content_false_keeps_everything_but_content(
    make_app: Callable[..., Flask],
) -> None:
    """The caller decides once, when the span starts; the record leaves the content out."""
    app = make_app(LLM_LOGS_CAPTURE_CONTENT="off")
    with app.app_context(), flask_llm_logs.span("step", input="prompt") as step:
        step.output = "answer"
        step.metadata["model"] = "gpt-4.1-mini"
    assert get_state(app).writer.flush(10)
    [span] = stored(app, Span, id=step.id)
    assert (span.input, span.output) == (None, None)
    assert span.metadata == {"model": "gpt-4.1-mini"}


def test_the_writer_stores_what_the_record_holds(make_app: Callable[..., Flask]) -> None:
    """Switching capture off after a call started does not reach back into its record."""
    app = make_app(LLM_LOGS_CAPTURE_CONTENT=False)
    record = span_record(trace_record().id, input="prompt", output="answer", input_tokens=7)
    submit(app, record)
    assert get_state(app).writer.flush(10)
    [span] = stored(app, Span, id=record.id)
    assert (span.input, span.output, span.input_tokens) == ("prompt", "answer", 7)


def test_api_keys_and_auth_headers_are_never_stored(app: Flask) -> None:
    start = trace_record(metadata={"api_key": "sk-abcdefghijklmnopqrstuvwx", "user": "ann"})
    record = span_record(
        start.id,
        metadata={
            "headers": {"Authorization": "Bearer xyz", "X-Request": "1"},
            "note": "key was sk-abcdefghijklmnopqrstuvwx",
            "gen_ai.usage.input_tokens": 3,
        },
    )
    submit(app, start, record)
    assert flask_llm_logs.flush(10)
    [span] = stored(app, Span, id=record.id)
    assert span.metadata == {
        "headers": {"X-Request": "1"},
        "note": "key was [redacted]",
        "gen_ai.usage.input_tokens": 3,
    }
    [trace] = stored(app, Trace, id=start.id)
    assert trace.metadata == {"user": "ann"}


def test_spans_without_cost_are_priced(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_PRICING_PROVIDER="openai")
    trace_id = trace_record().id
    priced = span_record(
        trace_id,
        model="gpt-4.1-mini",
        provider="127.0.0.1:8000",
        input_tokens=1000,
        output_tokens=500,
        cached_tokens=200,
    )
    unknown = span_record(trace_id, model="no-such-model", input_tokens=10, output_tokens=10)
    given = span_record(trace_id, model="gpt-4.1-mini", input_tokens=1, output_tokens=1, cost=9.0)
    submit(app, priced, unknown, given)
    assert get_state(app).writer.flush(10)
    expected = cost_of("gpt-4.1-mini", "openai", 1000, 500, 200)
    assert expected
    assert stored(app, Span, id=priced.id)[0].cost == pytest.approx(expected)
    assert stored(app, Span, id=unknown.id)[0].cost is None
    assert stored(app, Span, id=given.id)[0].cost == 9.0


def test_disabled_writes_nothing(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_ENABLED=False)
    start = trace_record()
    submit(app, start, span_record(start.id))
    writer = get_state(app).writer
    assert writer.flush(1)
    assert writer.stats()["queued"] == 0
    assert stored(app, Trace) == []
    assert stored(app, Span) == []


def test_a_rejected_record_costs_only_itself(app: Flask) -> None:
    start = trace_record()
    bad = span_record(start.id, name=None)  # NOT NULL: the database refuses it
    good = [span_record(start.id) for _ in range(5)]
    submit(app, start, good[0], bad, *good[1:], "not a record")
    assert flask_llm_logs.flush(10)

    assert {row.id for row in stored(app, Span)} == {r.id for r in good}
    assert stored(app, Trace, id=start.id)[0].spans_count == 5
    stats = flask_llm_logs.stats()
    assert stats["dropped"] == 2
    assert stats["errors"] >= 2
    assert stats["written_spans"] == 5


def test_submit_is_fast_and_batches_fill_up(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_WRITER_BATCH_SIZE=100, LLM_LOGS_WRITER_FLUSH_INTERVAL=30)
    start = trace_record()
    records = [span_record(start.id, input="x" * 1000) for _ in range(1000)]
    writer = get_state(app).writer
    began = time.perf_counter()
    for record in records:
        writer.submit(record)
    per_call = (time.perf_counter() - began) / len(records)
    assert per_call < 200e-6
    # Full batches go out without waiting for the 30 s interval or a flush.
    deadline = time.monotonic() + 10
    while writer.stats()["written_spans"] < 1000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.stats()["written_spans"] == 1000


def test_flush_interval_sends_a_partial_batch(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_WRITER_FLUSH_INTERVAL=0.05)
    record = span_record(trace_record().id)
    submit(app, record)
    deadline = time.monotonic() + 10
    while not stored(app, Span, id=record.id) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stored(app, Span, id=record.id)


def test_close_stores_what_is_queued(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_WRITER_FLUSH_INTERVAL=30)
    records = [span_record(trace_record().id) for _ in range(10)]
    submit(app, *records)
    writer = get_state(app).writer
    writer.close()
    assert len(stored(app, Span)) == 10
    writer.submit(span_record(trace_record().id))  # after close: dropped, no error
    assert writer.stats()["dropped"] == 1


def test_llm_logs_object_flush_and_stats(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    llm_logs = flask_llm_logs.LlmLogs()
    submit(app, span_record(trace_record().id))
    with app.app_context():
        assert llm_logs.flush(10) is True
        assert llm_logs.stats()["written_spans"] == 1


def test_a_span_stored_twice_is_kept_once(app: Flask) -> None:
    """A retry after a lost commit acknowledgement sends rows already stored."""
    trace_id = trace_record().id
    again = span_record(trace_id)
    submit(app, again)
    assert flask_llm_logs.flush(10)
    others = [span_record(trace_id) for _ in range(3)]
    submit(app, again, *others)
    assert flask_llm_logs.flush(10)
    assert {row.id for row in stored(app, Span)} == {again.id, *(r.id for r in others)}
    assert flask_llm_logs.stats()["dropped"] == 0


def test_text_with_separators_and_quotes_round_trips(app: Flask) -> None:
    """On PostgreSQL a batch of spans goes through COPY: nothing may be mangled."""
    tricky = 'a,"b"\n\tc\\d\r,,\\N ""'
    trace_id = trace_record().id
    records = [
        span_record(trace_id, name=tricky, error=tricky, input={tricky: [tricky]}, output="")
        for _ in range(3)
    ]
    submit(app, *records)
    assert flask_llm_logs.flush(10)
    for row in stored(app, Span, trace_id=trace_id):
        assert (row.name, row.error) == (tricky, tricky)
        assert row.input == {tricky: [tricky]}
        assert row.output == ""
        assert (row.model, row.parent_id, row.cost) == (None, None, None)


def test_empty_text_stays_empty_and_none_stays_null(app: Flask) -> None:
    """In COPY's CSV an empty field is NULL: an empty string must arrive as one."""
    trace_id = trace_record().id
    records = [
        span_record(trace_id, model="", error="", operation=None, cached_tokens=0) for _ in range(3)
    ]
    submit(app, *records)
    assert flask_llm_logs.flush(10)
    rows = stored(app, Span, trace_id=trace_id)
    assert {row.id for row in rows} == {record.id for record in records}
    for row in rows:
        assert (row.model, row.error, row.operation, row.cached_tokens) == ("", "", None, 0)
        assert row.created_at == rows[0].created_at  # one batch, one time


def test_rollups_pass_two_to_the_31_tokens(app: Flask) -> None:
    """A long pipeline's totals outgrow 32 bits; its later spans are still stored."""
    start = trace_record()
    big = 2**30
    spans = [
        span_record(start.id, kind="llm", input_tokens=big, output_tokens=big, cost=0.0)
        for _ in range(3)
    ]
    submit(app, start, *spans)
    assert flask_llm_logs.flush(timeout=10)
    late = span_record(start.id, kind="llm", input_tokens=big, output_tokens=1, cost=0.0)
    submit(app, late, trace_record(start.id, status="completed"))
    assert flask_llm_logs.flush(timeout=10)

    [trace] = stored(app, Trace, id=start.id)
    assert (trace.input_tokens, trace.output_tokens) == (4 * big, 3 * big + 1)
    assert (trace.spans_count, trace.status) == (4, "completed")
    assert flask_llm_logs.stats()["dropped"] == 0


def test_big_content_is_cut_to_max_content_bytes(make_app: Callable[..., Flask]) -> None:
    from flask_llm_logs.tracing.limits import MARKER

    limit = 50_000
    app = make_app(LLM_LOGS_MAX_CONTENT_BYTES=limit)
    start = trace_record()
    messages = [{"role": "user", "content": f"message {n} " + "x" * 1000} for n in range(500)]
    reply = "é" * limit  # two bytes each in UTF-8
    big = span_record(
        start.id, input=messages, output={"role": "assistant", "content": reply}, metadata={"a": 1}
    )
    small = span_record(start.id, input="hello", output={"role": "assistant", "content": "hi"})
    submit(app, start, big, small)
    assert get_state(app).writer.flush(10)

    [big_row] = stored(app, Span, id=big.id)
    assert big_row.metadata == {"a": 1, "llm_logs.truncated": ["input", "output"]}
    content = big_row.output["content"]
    assert content.endswith(MARKER) and content.startswith("éé")
    assert len(content.removesuffix(MARKER).encode()) <= limit
    kept = big_row.input
    assert 10 < len(kept) < 100 and kept[:2] == messages[:2]
    assert kept[-1] == f"{500 - len(kept) + 1} more items {MARKER}"
    assert len(json.dumps(big_row.input)) < 2 * limit
    [small_row] = stored(app, Span, id=small.id)
    assert (small_row.input, small_row.metadata) == ("hello", {})


def test_max_content_bytes_is_validated(make_app: Callable[..., Flask]) -> None:
    from flask_llm_logs import ConfigurationError

    for bad in (0, -1, "1MB", True):
        with pytest.raises(ConfigurationError, match="LLM_LOGS_MAX_CONTENT_BYTES"):
            make_app(LLM_LOGS_MAX_CONTENT_BYTES=bad)


def test_cache_writes_are_stored_rolled_up_and_priced(app: Flask) -> None:
    """Anthropic bills a cache write at 1.25x the input price: the cost must see it."""
    start = trace_record()
    model, provider = "claude-sonnet-4-20250514", "anthropic"
    spans = [
        span_record(
            start.id,
            kind="llm",
            model=model,
            provider=provider,
            input_tokens=2000,
            output_tokens=100,
            cache_write_tokens=writes,
        )
        for writes in (1000, 500)
    ]
    submit(app, start, *spans)
    assert flask_llm_logs.flush(timeout=10)
    [first] = stored(app, Span, id=spans[0].id)
    assert first.cache_write_tokens == 1000
    assert first.cost == cost_of(model, provider, 2000, 100, 0, 1000)
    assert first.cost > cost_of(model, provider, 2000, 100)
    [trace] = stored(app, Trace, id=start.id)
    assert trace.cache_write_tokens == 1500


class _Later(Deferred):
    """Records made on the writer's thread, which it notes."""

    __slots__ = ("made", "made_on")

    def __init__(self, trace_id: uuid.UUID, made: list[SpanRecord | TraceRecord]) -> None:
        super().__init__(trace_id)
        self.made = made
        self.made_on: str | None = None

    def records(self) -> list[SpanRecord | TraceRecord]:
        self.made_on = threading.current_thread().name
        if not self.made:
            raise ValueError("nothing to make")
        return self.made


def test_deferred_records_are_made_on_the_writers_thread(app: Flask) -> None:
    end = trace_record(status="completed")
    spans = [span_record(end.id, kind="llm", input_tokens=3) for _ in range(3)]
    later = _Later(end.id, [*spans, end])
    submit(app, later)
    assert flask_llm_logs.flush(timeout=10)

    assert later.made_on is not None and later.made_on.startswith("flask-llm-logs-writer")
    [trace] = stored(app, Trace, id=end.id)
    assert (trace.status, trace.spans_count, trace.input_tokens) == ("completed", 3, 9)
    stats = flask_llm_logs.stats()
    assert (stats["written_spans"], stats["queued"], stats["dropped"]) == (3, 0, 0)


@pytest.mark.recorder_errors("a deferred record's records() raises on purpose")
def test_deferred_records_that_fail_cost_only_themselves(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    broken = _Later(new_id(), [])
    good = span_record(trace_record().id)
    submit(app, broken, good)
    assert flask_llm_logs.flush(timeout=10)

    assert stored(app, Span, id=good.id)
    stats = flask_llm_logs.stats()
    assert (stats["dropped"], stats["errors"], stats["queued"]) == (1, 1, 0)
    assert "could not make the records" in caplog.text


def test_a_trace_with_a_whole_float_prompt_version_is_stored(app: Flask) -> None:
    """A prompt version id of ``3.0`` (an id read from JSON) is 3; the trace must not be
    dropped for it (PostgreSQL's ``integer[]`` refuses ``3.0``), nor for an id that is
    no whole number, which is left out."""
    start = trace_record(status="completed", prompt_version_id=3.0)
    submit(app, start)
    assert flask_llm_logs.flush(timeout=10)
    [trace] = stored(app, Trace, id=start.id)
    assert trace.prompt_version_id == 3
    for odd in (3.5, "3", True):
        record = trace_record(status="completed", prompt_version_id=odd)
        submit(app, record)
        assert flask_llm_logs.flush(timeout=10)
        [trace] = stored(app, Trace, id=record.id)
        assert trace.prompt_version_id is None


def test_an_engine_that_fails_the_maintenance_leaves_the_writer_running(app: Flask) -> None:
    writer = get_state(app).writer
    engine, failures = get_state(app).engine, [RuntimeError("no engine yet")] * 2

    def engine_getter() -> Any:
        if failures:
            raise failures.pop()
        return engine

    writer._engine, writer._engine_getter = None, engine_getter
    submit(app, trace_record())  # the batch fails too (the second failure): dropped
    assert flask_llm_logs.flush(10)
    later = trace_record()
    submit(app, later)
    assert flask_llm_logs.flush(10)
    assert [row.id for row in stored(app, Trace)] == [later.id]
