"""The writer's JSON text (``serialize.dumps``, encoded by orjson where it can) means what
the standard encoder's meant, for every kind of value a span carries; the ``COPY`` line
that carries it to PostgreSQL writes every column of the row."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import decimal
import enum
import io
import json
import math
import uuid
from typing import Any

import pytest
from flask import Flask

import flask_llm_logs
from flask_llm_logs.models import Span
from flask_llm_logs.tracing import store
from flask_llm_logs.tracing.serialize import dumps
from flask_llm_logs.tracing.serialize import to_json
from tests.helpers.writer import span_record
from tests.helpers.writer import stored
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Mode(str, enum.Enum):
    FAST = "fast"


@dataclasses.dataclass
class Point:
    x: float
    when: dt.datetime


WHEN = dt.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=dt.timezone.utc)

VALUES: list[Any] = [
    [{"role": "user", "content": "Zürich 25°C \u201cquoted\u201d 下午 \U0001f389 \\theta\n\t"}],
    {"float": 0.1, "small": 1e-7, "big": 1e16, "neg": -0.0, "int": 2**63 - 1},
    {"huge": 2**64 + 1, "negative huge": -(2**70)},
    [math.nan, math.inf, -math.inf, {"deep": [math.nan]}],
    {"none": None, "true": True, "false": False, "empty": [], "obj": {}},
    "nul\x00inside",
    "lone \ud800 surrogate",
    "\x01\x1f\x7f\u2028\u2029 controls",
    {1: "int key", None: "none key", 2.5: "float key", False: "bool key"},
    {"when": WHEN, "date": WHEN.date(), "time": WHEN.time(), "naive": WHEN.replace(tzinfo=None)},
    Point(1.5, WHEN),
    [Point(math.nan, WHEN)],
    {"id": uuid.UUID(int=7), "dec": decimal.Decimal("1.10"), "set": {"b", "a"}, "bytes": b"\xff"},
    [Colour.RED, Level.HIGH, Mode.FAST],
    ("a", ("tuple", 1)),
]


def standard(value: Any) -> Any:
    """What the standard encoder stored (the writer's JSON before orjson), read back."""
    try:
        text = json.dumps(value, default=to_json, ensure_ascii=False, allow_nan=False)
        if "\\u0000" not in text:
            text.encode("utf-8")
            return json.loads(text)
    except (ValueError, TypeError, RecursionError):
        pass
    return json.loads(json.dumps(to_json(value), ensure_ascii=False))


@pytest.mark.parametrize("value", VALUES)
def test_same_meaning_as_the_standard_encoder(value: Any) -> None:
    text = dumps(value)
    assert json.loads(text) == standard(value)
    text.encode("utf-8")  # no lone surrogate
    assert "\\u0000" not in text  # PostgreSQL refuses NUL


def test_nan_and_infinity_stay_text_not_null() -> None:
    assert json.loads(dumps([math.nan, {"x": -math.inf}])) == ["nan", {"x": "-inf"}]


def test_a_cycle_is_cut_not_raised() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert json.loads(dumps(loop))[0] == 1


@pytest.mark.parametrize("value", VALUES)
def test_stored_as_meant(app: Flask, value: Any) -> None:
    """Through ``COPY`` (several spans) and ``INSERT`` alike, on both databases."""
    trace = trace_record()
    records = [span_record(trace.id, input=value, output=[value]) for _ in range(2)]
    submit(app, trace, *records)
    assert flask_llm_logs.flush(10)
    expected = standard(value)
    for record in records:
        [span] = stored(app, Span, id=record.id)
        assert (span.input, span.output) == (expected, [expected])


def test_the_copy_line_writes_every_column_of_a_span_row() -> None:
    """``COPY`` names :data:`store.SPAN_COLUMNS`; a row's key left out of it would be
    stored by ``INSERT`` (SQLite, single rows) and lost by ``COPY``."""
    policy = store.ContentPolicy(redact=None, pricing_provider=None, max_content_bytes=2**20)
    record = span_record(trace_record().id, input='a "quoted", text', error="x,\ny")
    row = store.span_row(record, policy, dt.datetime.now(dt.timezone.utc))
    assert tuple(row) == store.SPAN_COLUMNS
    [line] = csv.reader(io.StringIO(store.copy_text([row])))
    assert len(line) == len(store.SPAN_COLUMNS)
    assert line[store.SPAN_COLUMNS.index("input")] == row["input"]
    assert line[store.SPAN_COLUMNS.index("error")] == "x,\ny"
