"""The words a span is found by: cut in Python, matched by PostgreSQL's full-text index."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask import Flask

import flask_llm_logs
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.models.base import new_id
from flask_llm_logs.state import get_state
from flask_llm_logs.tracing import search
from tests.helpers.writer import span_record
from tests.helpers.writer import stored
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", {"hello", "world"}),
        ("gpt-4.1-mini", {"gpt", "4", "1", "mini"}),
        ("lookup_price(symbol='AAPL')", {"lookup", "price", "symbol", "aapl"}),
        ("\u201cQuoted\u201d \u2014 dash\u2026", {"quoted", "dash"}),
        ("Zürich Straße ÉTÉ", {"zürich", "straße", "été"}),
        ("25°C for 5€ \u2022 item", {"25°c", "for", "5€", "item"}),
        ("下午\uff0c你好\u3002再见", {"下午", "你好", "再见"}),
        ("nul\x00separated", {"nul", "separated"}),
        ("  \n\t ", set()),
    ],
)
def test_words(text: str, expected: set[str]) -> None:
    assert search.words(text) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # The escape's letter does not stick to the next word.
        ("line one\nline two\tend", {"line", "one", "two", "end"}),
        # An escaped backslash is one escape: \theta is still the word theta.
        ("\\theta and C:\\new", {"theta", "and", "c", "new"}),
        ("\x1b[0mcolour", {"0mcolour"}),
        ('say "hi"', {"say", "hi"}),
        # JSON written with ensure_ascii (SQLAlchemy's default serializer).
        ("Zürich \U0001f389party", {"zürich", "party"}),
    ],
)
def test_document_reads_json_escapes(content: str, expected: set[str]) -> None:
    literal = search.document(json.dumps(content, ensure_ascii=True))
    assert literal is not None
    assert {word.strip("'") for word in literal.split()} == expected


@pytest.mark.parametrize(
    "content",
    [
        "Summarise THE Quarterly figures, for the board.",
        'line one\nline two\tend \\theta "quoted" C:\\new',
        "ctrl\x01inside \x1c\x1dsplit\x1e\x1f del\x7fword nul\x00cut",
        "gpt-4.1-mini lookup_price(symbol='AAPL') {a: [1, 2.5]}",
        "keep " + "x" * 600 + " this " + "y" * 511,
        "Zürich \u201cquoted\u201d \u2014 ÉTÉ 25°C, \\u0041 下午\uff0c你好",
    ],
)
def test_document_cuts_json_as_words_cuts_its_text(content: str) -> None:
    """The writer's JSON (``ensure_ascii=False``), ASCII or not: the same words as the text.

    Control characters other than white space are JSON escapes, and so separators.
    """
    literal = search.document(json.dumps({"content": content}, ensure_ascii=False))
    assert literal is not None
    text = "content " + "".join(" " if c < " " and not c.isspace() else c for c in content)
    assert {word[1:-1] for word in literal.split(" ")} == search.words(text)


def test_words_leave_out_runs_too_long_for_postgresql() -> None:
    blob = "x" * (search.MAX_WORD_LENGTH + 1)
    assert search.words(f"keep {blob} this") == {"keep", "this"}
    assert search.query(blob) is None


def test_document_and_query_literals() -> None:
    assert search.document(None, "") is None
    assert search.document('"Done"', None) == "'done'"
    words = search.document("b a", "c a")
    assert words is not None
    assert sorted(words.split()) == ["'a'", "'b'", "'c'"]
    assert search.query("Gpt-4.1 mini") == "'1' & '4' & 'gpt' & 'mini'"
    assert search.query("?! ...") is None


@pytest.mark.parametrize("alphabet", ["w", "中文", "\U0001f389"])
def test_a_huge_document_is_cut_under_the_tsvector_limit(alphabet: str) -> None:
    """The limit is in bytes: CJK text and emoji take three and four a character."""
    literal = search.document(" ".join(f"{alphabet}{number}" for number in range(200_000)))
    assert literal is not None
    assert len(literal.encode()) <= search.MAX_DOCUMENT_BYTES
    assert literal.startswith("'") and literal.endswith("'")
    assert literal.count("'") % 2 == 0


def test_each_text_of_a_huge_span_is_cut_on_its_own() -> None:
    padding = "x " * search.MAX_TEXT_LENGTH
    literal = search.document("early " + padding + " late", "output")
    assert literal is not None
    assert "'early'" in literal and "'late'" not in literal
    assert "'output'" in literal  # a huge input leaves the output its words


@pytest.mark.postgres
def test_postgresql_accepts_every_document_and_query(postgres_url: str) -> None:
    texts = [
        'it\'s a "quote" and a back\\slash: C:\\temp',
        "tabs\tand\nnewlines, émoji 🎉 and 中文字符",
        " ".join(f"w{number}" for number in range(200_000)),
        " ".join(f"\U0001f389{number}" for number in range(200_000)),
        "中" * search.MAX_WORD_LENGTH,
        "ctrl\x01chars\x7f survive",
    ]
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            for text in texts:
                literal = search.document(json.dumps(text, ensure_ascii=False))
                assert literal is not None
                first_word = literal.split()[0].strip("'")
                matched = connection.execute(
                    sa.text("SELECT CAST(:doc AS tsvector) @@ CAST(:q AS tsquery)"),
                    {"doc": literal, "q": search.query(first_word)},
                ).scalar()
                assert matched is True, text[:40]
    finally:
        engine.dispose()


def test_the_writer_stores_search_words(app: Flask) -> None:
    start = trace_record()
    submit(
        app,
        start,
        span_record(
            start.id,
            input=[{"role": "user", "content": "Analyse the Breakout strategy."}],
            output={"role": "assistant", "content": "Momentum looks fine."},
        ),
        span_record(start.id, name="no content"),
    )
    assert flask_llm_logs.flush(timeout=10)
    words = {row.name: row.search for row in stored(app, Span, trace_id=start.id)}
    assert words["no content"] is None
    assert {"breakout", "momentum", "user", "assistant"} <= set(
        word.strip("'") for word in words["step"].split()
    )


def test_spans_added_through_the_orm_get_their_words(app: Flask) -> None:
    """Batch results and any other span added with the ORM are searchable too."""
    session = get_state(app).session
    with app.app_context():
        trace = Trace(id=new_id(), name="orm")
        session.add_all([trace, Span(trace_id=trace.id, name="orm", output={"text": "Nebula"})])
        session.commit()
        session.remove()
    [row] = stored(app, Span, name="orm")
    assert set(row.search.split()) == {"'nebula'", "'text'"}
