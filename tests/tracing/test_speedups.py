"""The writer's C helpers (``tracing/_speedups.c``) give what the Python they stand in for gives.

``pip install`` builds them where a C compiler is found (CI has one); the
writer falls back to the Python (``search.python_ascii_literal``,
``store.copy_text``) without them, so the two must agree byte for byte.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import random
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from flask_llm_logs.models import Span
from flask_llm_logs.tracing import search
from flask_llm_logs.tracing import speedups
from flask_llm_logs.tracing import store
from tests.helpers.writer import span_record
from tests.helpers.writer import trace_record


def test_the_c_helpers_are_built() -> None:
    """A failure here means the package was installed without its C helpers
    (no compiler): the writer works, with several times the CPU per span."""
    assert speedups.ascii_literal is not None
    assert speedups.csv_rows is not None


def _words(literal: str) -> list[str]:
    return [word[1:-1] for word in literal.split(" ")] if literal else []


def _first_occurrences(*texts: str) -> list[str]:
    """The Python tokenizer's words of ``texts``, in the order they first occur."""
    data = search._ASCII_ESCAPE.sub(b" ", " ".join(texts).encode())
    occurrences = data.translate(search._ASCII_WORDS).decode().split()
    return [word for word in dict.fromkeys(occurrences) if len(word) <= search.MAX_WORD_LENGTH]


#: Bytes that make the cases: letters of both cases, digits, white space the
#: two splitters disagree on, separators, quotes and backslashes (escapes).
ALPHABET = "aAbBzZ09_ \t\n\r\x0b\x0c\x1c\x1f\x00\x7f.-,:;'\"\\{}[]()/"


@pytest.mark.parametrize("seed", range(5))
def test_ascii_literal_finds_the_python_words_in_their_order(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2_000):
        texts = tuple(
            "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40))).replace("\\u", "\\v")
            for _ in range(rng.randint(0, 3))
        )  # ``\u`` escapes take the ``str`` path
        assert speedups.ascii_literal is not None
        found = _words(search.ascii_literal(texts))
        assert found == _first_occurrences(*texts), texts
        assert sorted(found) == sorted(_words(search.python_ascii_literal(texts))), texts


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ((), []),
        (("",), []),
        ((" ,.;\\n\\t\\\\",), []),
        (("Hello hello", "HELLO"), ["hello"]),
        (('{"content":"line one\\nline two"}',), ["content", "line", "one", "two"]),
        (("\\\\theta",), ["theta"]),  # an escaped backslash, then a word
        (("end\\", "next"), ["end", "next"]),  # a backslash that ends a text
        (("a\\\nb",), ["a", "b"]),  # ``\\.`` does not take a newline
        (("ab", "cd"), ["ab", "cd"]),  # a word never runs on into the next text
        (("keep " + "x" * 512 + " this " + "y" * 511,), ["keep", "this", "y" * 511]),
    ],
)
def test_ascii_literal_cases(texts: tuple[str, ...], expected: list[str]) -> None:
    assert _words(search.ascii_literal(texts)) == expected
    assert sorted(_words(search.python_ascii_literal(texts))) == sorted(expected)


def test_ascii_literal_of_a_long_text_without_the_interpreter_lock() -> None:
    """Past 64 KB the scan lets other threads run; its words are the same."""
    rng = random.Random(7)
    texts = (" ".join(f"w{rng.randrange(50_000)}" for _ in range(200_000)), "tail")
    assert sorted(_words(search.ascii_literal(texts))) == sorted(
        _words(search.python_ascii_literal(texts))
    )


def test_ascii_literal_refuses_what_is_not_ascii_text() -> None:
    assert speedups.ascii_literal is not None
    with pytest.raises(ValueError, match="not ASCII"):
        speedups.ascii_literal(("Zürich",), search._ASCII_WORDS, search.MAX_WORD_LENGTH)
    with pytest.raises(TypeError):
        speedups.ascii_literal(["a list"], search._ASCII_WORDS, search.MAX_WORD_LENGTH)  # type: ignore[arg-type]


class Mode(str, enum.Enum):
    FAST = 'fa"st'


class ChildId(uuid.UUID):
    pass


#: Values of every kind a span row's columns hold, by how ``copy_text`` writes them.
TEXTS: list[Any] = [
    None,
    "",
    'a "quoted", text',
    "line\nbreak\r\n and , comma",
    "Zürich 下午 \U0001f389",
    Mode.FAST,
]
PLAIN: list[Any] = [
    None,
    0,
    -7,
    2**70,
    True,
    0.1,
    1e-300,
    math.inf,
    math.nan,
    dt.datetime(2026, 12, 6, 9, 5, 1, tzinfo=dt.timezone.utc),
    dt.datetime(2026, 12, 6, 9, 5, 1, 7, tzinfo=dt.timezone.utc),
    dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc),
    dt.datetime(2026, 12, 6, 9, 5, 1, 250_000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    dt.datetime(2026, 12, 6, 9, 5, 1),
]
IDS: list[Any] = [uuid.UUID(int=1), ChildId(int=2**127), uuid.uuid4()]
_SPANS = Span.__table__.c
ID_COLUMNS = {name for name in store.SPAN_COLUMNS if isinstance(_SPANS[name].type, sa.Uuid)}
#: Numbers and times: what ``copy_text`` writes as ``str`` does.
PLAIN_COLUMNS = {
    name
    for name in store.SPAN_COLUMNS
    if isinstance(_SPANS[name].type, (sa.Integer, sa.Float, sa.Numeric, sa.DateTime))
}


def _rows(rng: random.Random, count: int) -> list[dict[str, Any]]:
    policy = store.ContentPolicy(redact=None, pricing_provider=None, max_content_bytes=2**20)
    created_at = dt.datetime.now(dt.timezone.utc)
    rows = []
    for _ in range(count):
        record = span_record(trace_record().id, input=rng.choice(TEXTS))
        row = store.span_row(record, policy, created_at)
        for column in rng.sample(store.SPAN_COLUMNS, 8):
            if column in ID_COLUMNS:
                row[column] = rng.choice(IDS)
            else:
                row[column] = rng.choice(PLAIN if column in PLAIN_COLUMNS else TEXTS)
        rows.append(row)
    return rows


@pytest.mark.parametrize("seed", range(3))
def test_csv_rows_is_the_copy_text(seed: int) -> None:
    rows = _rows(random.Random(seed), 300)
    assert speedups.csv_rows is not None
    assert speedups.csv_rows(rows, store.SPAN_COLUMNS) == store.copy_text(rows).encode()


def test_copy_data_in_another_encoding_is_the_copy_text() -> None:
    policy = store.ContentPolicy(redact=None, pricing_provider=None, max_content_bytes=2**20)
    record = span_record(trace_record().id, name="Zürich", input='a "Straße"')
    rows = [store.span_row(record, policy, dt.datetime.now(dt.timezone.utc))]
    assert store.copy_data(rows, "latin-1") == store.copy_text(rows).encode("latin-1")
    assert store.copy_data(rows, "utf_8") == store.copy_text(rows).encode("utf-8")


def test_csv_rows_refuses_what_copy_text_refuses() -> None:
    assert speedups.csv_rows is not None
    [row] = _rows(random.Random(4), 1)
    with pytest.raises(KeyError, match="search"):
        speedups.csv_rows([{key: row[key] for key in row if key != "search"}], store.SPAN_COLUMNS)
    row["error"] = "lone \ud800 surrogate"
    with pytest.raises(UnicodeEncodeError):
        store.copy_text([row]).encode()
    with pytest.raises(UnicodeEncodeError):
        speedups.csv_rows([row], store.SPAN_COLUMNS)


class _EmptiesTheBatch:
    """A value whose ``str`` empties the batch it is read from, then makes a dict: the
    freed row's memory, reused, would be read in its place."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.made: list[dict[str, Any]] = []

    def __str__(self) -> str:
        self.rows.clear()
        self.made.append(dict.fromkeys(store.SPAN_COLUMNS, 12345))
        return "7"


def _batch_emptied_while_read(row: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [{**row, **dict.fromkeys(PLAIN_COLUMNS, None)}]
    rows[0]["input_tokens"] = _EmptiesTheBatch(rows)
    return rows


def test_csv_rows_holds_the_row_it_reads() -> None:
    """A row stays alive while its values are converted, as in ``copy_text``, even
    if a value's ``str`` drops the batch's reference to it."""
    assert speedups.csv_rows is not None
    [row] = _rows(random.Random(5), 1)
    expected = store.copy_text(_batch_emptied_while_read(row)).encode()
    assert speedups.csv_rows(_batch_emptied_while_read(row), store.SPAN_COLUMNS) == expected
