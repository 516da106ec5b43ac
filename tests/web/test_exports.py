"""CSV downloads: streamed by keyset pages, formulas neutralised, the list's filter kept."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_llm_logs.web import exports
from flask_llm_logs.web import trace_queries
from flask_llm_logs.web.params import encode_cursor
from flask_llm_logs.web.trace_queries import TraceFilters
from tests.helpers.web import CountQueries
from tests.helpers.web import Store
from tests.helpers.web import Url


def rows_of(response: object) -> list[dict[str, str]]:
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain = text", "plain = text"),
        ("", ""),
        (None, ""),
        (-5, -5),
        (1.5, "1.5"),
        (0.00001, "0.00001"),
        (True, "true"),
        (dt.datetime(2026, 12, 5, 14, 0, 1, 250), "2026-12-05 14:00:01.000250"),
        (
            dt.datetime(2026, 12, 5, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "2026-12-05 14:00:00",
        ),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_neutralised(value: object, cell: object) -> None:
    assert exports.cell(value) == cell


def test_stream_yields_chunks_not_one_string() -> None:
    rows = ([n, f"row {n}"] for n in range(20_000))
    chunks = list(exports.stream(["n", "text"], rows))
    assert len(chunks) > 2
    assert max(len(c) for c in chunks) <= exports.CHUNK_CHARS + 100
    assert "".join(chunks).startswith("n,text\r\n0,row 0\r\n")


def test_traces_csv_keeps_the_list_filter(client: FlaskClient, url: Url, store: Store) -> None:
    store.trace("kept", minutes=1, status="error", error="boom", input_tokens=10, cost=0.5)
    store.trace("kept", minutes=2, status="error", models=["gpt-4.1", "gpt-4.1-mini"])
    store.trace("other", minutes=3, status="error")
    store.trace("kept", minutes=4, status="completed")
    response = client.get(url("/traces.csv"), query_string={"name": "kept", "status": "error"})
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="traces.csv"'
    assert "nosniff" in response.headers["X-Content-Type-Options"]
    rows = rows_of(response)
    assert [(r["name"], r["status"]) for r in rows] == [("kept", "error")] * 2
    assert rows[0]["models"] == "gpt-4.1, gpt-4.1-mini"
    assert rows[1]["error"] == "boom"
    assert rows[1]["input_tokens"] == "10"
    assert rows[1]["cost"] == "0.5"
    assert rows[1]["started_at_utc"] == "2026-11-28 12:01:00"


def test_traces_csv_neutralises_stored_formulas(
    client: FlaskClient, url: Url, store: Store
) -> None:
    store.trace(
        "=cmd|' /C calc'!A0",
        user_id="@evil",
        tags=["-1+2"],
        error="+SUM(1)",
        metadata_={"note": "=1+1"},
    )
    (row,) = rows_of(client.get(url("/traces.csv")))
    assert row["name"] == "'=cmd|' /C calc'!A0"
    assert row["user_id"] == "'@evil"
    assert row["tags"] == "'-1+2"
    assert row["error"] == "'+SUM(1)"
    assert row["metadata"] == '{"note": "=1+1"}'


def test_traces_csv_ignores_the_page_cursor(client: FlaskClient, url: Url, store: Store) -> None:
    """The download is the whole filter, not the page the link was on."""
    traces = [store.trace(f"t{n}", minutes=n) for n in range(3)]
    page = client.get(url("/traces")).get_data(as_text=True)
    assert 'href="/llm_logs/traces.csv"' in page
    cursor = encode_cursor(traces[2].started_at, traces[2].id)
    rows = rows_of(client.get(url("/traces.csv"), query_string={"after": cursor}))
    assert len(rows) == 3


def test_export_reads_keyset_pages(app: Flask, store: Store, count_queries: CountQueries) -> None:
    """Seven traces, three at the same instant, in pages of two: each once, newest first,
    one query a page (a million rows are never in memory at once); on PostgreSQL one more
    for a page the day before its start does not fill (the first, these traces being days
    old, and the last)."""
    session = app.extensions["llm_logs"].session
    traces = [store.trace(f"t{n}", minutes=n) for n in range(4)]
    traces += [store.trace(f"twin{n}", minutes=2) for n in range(3)]
    expected = sorted(traces, key=lambda t: (t.started_at, str(t.id)), reverse=True)
    with count_queries() as counter:
        rows = list(trace_queries.export_traces(session, TraceFilters(), page_rows=2))
    assert [row[0] for row in rows] == [t.id for t in expected]
    assert counter.count == (6 if session.get_bind().dialect.name == "postgresql" else 4)


def test_export_pages_keep_search_filters(app: Flask, store: Store) -> None:
    session = app.extensions["llm_logs"].session
    for n in range(5):
        trace = store.trace(f"t{n}", minutes=n)
        store.span(trace, input="needle" if n % 2 else "hay")
    rows = list(trace_queries.export_traces(session, TraceFilters(q="needle"), page_rows=1))
    assert [row[1] for row in rows] == ["t3", "t1"]


def test_trace_csv_of_nothing_is_a_header(client: FlaskClient, url: Url) -> None:
    text = client.get(url("/traces.csv"), query_string={"name": "none"}).get_data(as_text=True)
    assert text.splitlines() == [",".join(trace_queries.EXPORT_COLUMNS)]


def test_bad_filters_are_a_400_not_a_broken_download(client: FlaskClient, url: Url) -> None:
    response = client.get(url("/traces.csv"), query_string={"status": "nope"})
    assert response.status_code == 400
    assert "status" in response.get_data(as_text=True)


def test_export_columns_match_the_rows(app: Flask, store: Store) -> None:
    store.trace("one")
    session = app.extensions["llm_logs"].session
    (row,) = trace_queries.export_traces(session, TraceFilters())
    assert len(row) == len(trace_queries.EXPORT_COLUMNS)


def test_a_closed_ui_gives_no_csv(make_app: Callable[..., Flask], url: Url) -> None:
    app = make_app(TESTING=False)
    with app.app_context():
        assert app.test_client().get(url("/traces.csv")).status_code == 403
