"""The export takes a span's content JSON and cost from the row the writer made for the
database: the same attributes as making them from the record, made once."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from flask import Flask

from flask_llm_logs.models import Span
from flask_llm_logs.models.base import new_id
from flask_llm_logs.otel import attributes
from flask_llm_logs.testing.otlp import FakeCollector
from flask_llm_logs.tracing import store
from flask_llm_logs.tracing.records import SpanRecord
from flask_llm_logs.tracing.serialize import clean_metadata
from flask_llm_logs.tracing.serialize import scrub_secrets
from flask_llm_logs.tracing.serialize import to_json
from tests.helpers.otel import by_name
from tests.helpers.otel import exported
from tests.helpers.writer import span_record
from tests.helpers.writer import stored
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record

MESSAGES = [{"role": "user", "content": "Zürich, 25°C \u201cquoted\u201d \\theta"}]


def _redact(value: Any) -> Any:
    """A hook that looks at the shape it is handed, not only at strings."""
    if isinstance(value, list):
        return [{"kept": len(value)}]
    return {"redacted": True}


def _policy(redact: Any = None, max_content_bytes: int = 2**20) -> store.ContentPolicy:
    return store.ContentPolicy(
        redact=redact, pricing_provider=None, max_content_bytes=max_content_bytes
    )


def _records() -> list[SpanRecord]:
    trace_id = new_id()
    llm = {"kind": "llm", "operation": "chat", "model": "gpt-4.1-mini", "provider": "openai"}
    return [
        span_record(
            trace_id,
            **llm,
            input=MESSAGES,
            output={"role": "assistant", "content": "ok", "score": math.nan},
            input_tokens=250,
            output_tokens=220,
            metadata={"gen_ai.request.temperature": 0.2, "ratio": math.inf, "api_key": "x"},
        ),
        span_record(trace_id, **llm, input={"input": "hi", "instructions": "be brief"}),
        span_record(trace_id, **llm, input=MESSAGES, output=[{"role": "assistant"}], cost=0.5),
        span_record(trace_id, **llm, input="x" * 5000, output={"content": "y" * 5000}),
        span_record(trace_id, **llm, input=None, output=None, error="RateLimitError: slow"),
        span_record(trace_id, kind="tool", name="tool.lookup", input={"a": 1}, output="7"),
        span_record(trace_id, input=[1, 2], output={"nested": {"deep": [None]}}),
    ]


@pytest.mark.parametrize(
    "policy",
    [_policy(), _policy(max_content_bytes=1000), _policy(redact=_redact)],
    ids=["plain", "cut", "redacted"],
)
def test_attributes_from_the_row_are_those_from_the_record(policy: store.ContentPolicy) -> None:
    records = _records()
    rows, rejected = store.prepare(records, policy)
    assert rejected == 0
    by_id = {row["id"]: row for row in rows.spans}
    for record in records:
        from_row = attributes.span_attributes(record, policy, by_id[record.id])
        assert from_row == attributes.span_attributes(record, policy)


def test_the_row_gives_what_the_record_would_have() -> None:
    """The row's values are used, not recomputed: a cost of the row's is the attribute."""
    record = _records()[0]
    [row] = store.prepare([record], _policy())[0].spans
    row = {**row, "cost": 1.25, "input": '[{"from": "the row"}]'}
    values = attributes.span_attributes(record, _policy(), row)
    assert values["llm_logs.cost"] == 1.25
    assert values["gen_ai.input.messages"] == '[{"from": "the row"}]'


@pytest.mark.parametrize(
    "metadata",
    [
        {"plain": "text", "n": 3, "flag": True, "none": None, "pi": 3.14},
        {"nan": math.nan, "inf": -math.inf, "authorization": "Bearer abc"},
        {"note": "sent with sk-abcdefghijklmnopqrstuv", "nested": {"password": "p", "k": 1}},
        {1: "not a text key", "x\x00y": "nul"},
    ],
)
def test_clean_metadata_is_the_slow_walks_result(metadata: dict[Any, Any]) -> None:
    assert clean_metadata(metadata) == scrub_secrets(to_json(dict(metadata)))


def test_stored_and_exported_content_is_encoded_once(
    export_app: Flask, collector: FakeCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[Any] = []
    content_json = store.content_json

    def counting(value: Any, policy: store.ContentPolicy) -> str | None:
        encoded.append(value)
        return content_json(value, policy)

    monkeypatch.setattr(store, "content_json", counting)
    monkeypatch.setattr(attributes, "content_json", counting)
    record = _records()[0]
    submit(export_app, trace_record(record.trace_id, status="completed"), record)
    span = by_name(exported(collector))["step"]
    [row] = stored(export_app, Span)
    assert len(encoded) == 2  # the input and the output, for both
    assert json.loads(str(span.attributes["gen_ai.input.messages"])) == row.input == MESSAGES
    assert span.attributes["llm_logs.cost"] == row.cost is not None
