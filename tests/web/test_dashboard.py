"""The dashboard: ranges, filters, totals, charts, breakdowns, sorting, links and CSVs."""

from __future__ import annotations

import csv
import datetime as dt
import html as html_module
import io
import re
import sys
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_llm_logs.insights.metrics import metrics
from flask_llm_logs.models import PromptRecord
from flask_llm_logs.models import PromptVersion
from flask_llm_logs.models import Trace
from flask_llm_logs.tracing.records import TraceRecord
from flask_llm_logs.web import dashboard_queries
from flask_llm_logs.web.dashboard_queries import DashboardRange
from flask_llm_logs.web.span_metrics import span_metrics
from tests.helpers.tracing import flush
from tests.helpers.web import CountQueries
from tests.helpers.web import Store
from tests.helpers.web import Url
from tests.helpers.web import html_of
from tests.helpers.writer import span_record
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record

NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture(autouse=True)
def now_is_the_tests_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Place the calls relative to the test's start, not to the module's import.

    The dashboard's ranges end at the real now: a long suite once ran half an hour
    between the two, and the "1h" range lost two of its three calls.
    """
    monkeypatch.setattr(sys.modules[__name__], "NOW", dt.datetime.now(dt.timezone.utc))


def call(trace: TraceRecord, minutes_ago: float, model: str = "gpt-4.1-mini", **fields: Any) -> Any:
    """An LLM call's span record, ``minutes_ago`` before now."""
    fields.setdefault("provider", "openai")
    fields.setdefault("input_tokens", 100)
    fields.setdefault("output_tokens", 20)
    fields.setdefault("cost", 0.001)
    fields.setdefault("duration_ms", 500.0)
    at = (NOW - dt.timedelta(minutes=minutes_ago)).timestamp()
    return span_record(
        trace.id, name=f"chat {model}", kind="llm", model=model, started_at=at, **fields
    )


def trace(name: str, minutes_ago: float, **fields: Any) -> TraceRecord:
    at = (NOW - dt.timedelta(minutes=minutes_ago)).timestamp()
    return trace_record(name=name, status="completed", started_at=at, **fields)


def record(app: Flask, *records: Any) -> None:
    """Through the writer, which keeps the metrics table as it stores the spans."""
    submit(app, *records)
    flush()


@pytest.fixture
def calls(app: Flask) -> dict[str, Any]:
    """Calls of the last 24 hours (and one 3 days ago), two prompt versions."""
    session = app.extensions["llm_logs"].session
    prompt = PromptRecord(slug="support", name="Support")
    v1 = PromptVersion(prompt=prompt, version_number=1, messages=[])
    v2 = PromptVersion(prompt=prompt, version_number=2, messages=[])
    session.add_all([prompt, v1, v2])
    session.commit()
    ana = trace("support_reply", 30, user_id="ana", environment="production", tags=["vip"])
    bob = trace("classify", 120, user_id="bob", environment="staging")
    old = trace("support_reply", 3 * 24 * 60, user_id="ana", environment="production")
    claude = {"model": "claude-sonnet-4", "provider": "anthropic"}
    record(
        app,
        ana,
        bob,
        old,
        *(
            call(ana, 30 - n, metadata={"prompt_version_id": v1.id}, duration_ms=100.0 * (n + 1))
            for n in range(3)
        ),
        call(bob, 120, cost=0.5, metadata={"prompt_version_id": v2.id}, **claude),
        call(
            bob,
            119,
            status="error",
            error="RateLimitError",
            cost=0.0,
            input_tokens=None,
            output_tokens=None,
            metadata={"prompt_version_id": v2.id},
            **claude,
        ),
        span_record(bob.id, name="tool", kind="tool", started_at=bob.started_at),
        call(old, 3 * 24 * 60, cost=2.0),
    )
    return {"v1": v1, "v2": v2}


def cards(html: str) -> dict[str, str]:
    found = re.search(r'<section class="totals"[^>]*>(.*?)</section>', html, re.S)
    assert found
    pairs = re.findall(
        r'card-label">(.*?)</div>\s*<div class="card-value">(.*?)</div>', found.group(1)
    )
    return {label: html_module.unescape(value) for label, value in pairs}


def table(html: str, key: str) -> list[list[str]]:
    found = re.search(rf'id="by-{key}">(.*?)</section>', html, re.S)
    assert found, key
    rows = re.findall(r"<tr>(.*?)</tr>", found.group(1).split("<tbody>")[1], re.S)
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in rows
    ]


def test_dashboard_is_the_first_item_of_the_navigation(client: FlaskClient, url: Url) -> None:
    html = html_of(client.get(url("/traces")))
    links = re.findall(r'<nav aria-label="Sections">\s*<a href="([^"]+)"', html)
    assert links == [url("/dashboard")]


def test_totals_of_the_last_24_hours(client: FlaskClient, url: Url, calls: dict[str, Any]) -> None:
    html = html_of(client.get(url("/dashboard")))
    totals = cards(html)
    # Five LLM calls in 24 hours (the tool span is no call; the one 3 days ago is out).
    assert totals["Calls"] == "5"
    assert totals["Errors"] == "1"
    assert "20.0% of calls" in html
    assert totals["Input tokens"] == "400"
    assert totals["Cost"] == "$0.5030"
    # Read from the latency histogram: within 10% of the exact 300 ms.
    assert 270 <= int(totals["p50"].removesuffix(" ms")) <= 330
    assert 'aria-current="page">24 hours' in html.replace("\n", "").replace("  ", "")


def test_ranges_choose_their_bucket(client: FlaskClient, url: Url, calls: dict[str, Any]) -> None:
    for name, bucket, count in [
        ("1h", "minute", "3"),
        ("24h", "hour", "5"),
        ("7d", "hour", "6"),
        ("30d", "day", "6"),
    ]:
        html = html_of(client.get(url("/dashboard"), query_string={"range": name}))
        assert f"by {bucket}</p>" in html
        assert cards(html)["Calls"] == count, name
        assert html.count('<figure class="chart') == 5


def test_a_range_ends_with_the_bucket_now_falls_in() -> None:
    now = dt.datetime(2026, 12, 5, 14, 37, 12, tzinfo=dt.timezone.utc)
    day = DashboardRange.from_args({"range": "24h"}, now)
    assert (day.start, day.end) == (
        dt.datetime(2026, 12, 4, 15),
        dt.datetime(2026, 12, 5, 14, 37, 12),
    )
    assert len(day.axis.buckets) == 24
    month = DashboardRange.from_args({"range": "30d"}, now)
    assert month.bucket == "day" and len(month.axis.buckets) == 30
    hour = DashboardRange.from_args({"range": "1h"}, now)
    assert hour.bucket == "minute" and len(hour.axis.buckets) == 60


def test_custom_ranges(client: FlaskClient, url: Url, calls: dict[str, Any]) -> None:
    now = dt.datetime(2026, 12, 5, 14, 0, tzinfo=dt.timezone.utc)
    short = DashboardRange.from_args(
        {"since": "2026-12-05T12:30", "until": "2026-12-05T14:00"}, now
    )
    assert (short.name, short.bucket) == ("custom", "minute")
    week = DashboardRange.from_args({"range": "custom", "since": "2026-12-01T00:00"}, now)
    assert week.bucket == "hour" and week.end == dt.datetime(2026, 12, 5, 14, 0)
    year = DashboardRange.from_args({"since": "2026-01-01"}, now)
    assert year.bucket == "day"
    since = (NOW - dt.timedelta(hours=2, minutes=5)).replace(tzinfo=None).isoformat()
    html = html_of(client.get(url("/dashboard"), query_string={"range": "custom", "since": since}))
    assert cards(html)["Calls"] == "5"
    assert "by minute</p>" in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"range": "2w"}, "range: must be one of"),
        ({"range": "custom"}, "since: a custom range needs its start"),
        ({"since": "2026-12-05", "until": "2026-12-01"}, "since: later than until"),
        ({"since": "yesterday"}, "since:"),
        ({"sort_model": "-nothing"}, "sort_model: cannot sort by"),
    ],
)
def test_bad_arguments_are_400_pages(
    client: FlaskClient, url: Url, query: dict[str, str], message: str
) -> None:
    html = html_of(client.get(url("/dashboard"), query_string=query), 400)
    assert message in html_module.unescape(html)


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ({"environment": "staging"}, "2"),
        ({"model": "claude-sonnet-4"}, "2"),
        ({"name": "support_reply"}, "3"),
        ({"user": "ana"}, "3"),
        ({"prompt": "support"}, "5"),
        ({"tag": "vip"}, "3"),
        ({"tag": "vip", "user": "bob"}, "0"),
        ({"environment": "nowhere"}, "0"),
    ],
)
def test_filters_narrow_everything(
    client: FlaskClient, url: Url, calls: dict[str, Any], query: dict[str, str], count: str
) -> None:
    html = html_of(client.get(url("/dashboard"), query_string=query))
    assert cards(html)["Calls"] == count
    users = table(html, "user")
    assert sum(int(row[1]) for row in users if len(row) > 2) == int(count)


def test_breakdowns(client: FlaskClient, url: Url, calls: dict[str, Any]) -> None:
    html = html_of(client.get(url("/dashboard")))
    models = table(html, "model")
    assert [row[0] for row in models] == ["gpt-4.1-mini", "claude-sonnet-4"]
    assert models[0][1:4] == ["3", "0", "0.0%"]
    assert models[1][1:4] == ["2", "1", "50.0%"]
    assert [row[0] for row in table(html, "provider")] == ["openai", "anthropic"]
    assert [row[0] for row in table(html, "name")] == ["support_reply", "classify"]
    # Top spenders first.
    assert [row[0] for row in table(html, "user")] == ["bob", "ana"]
    assert [row[0] for row in table(html, "environment")] == ["production", "staging"]
    assert [row[0] for row in table(html, "prompt")] == ["support"]


def test_a_prompt_version_beside_the_previous_one(
    client: FlaskClient, url: Url, calls: dict[str, Any]
) -> None:
    html = html_of(client.get(url("/dashboard")))
    rows = table(html, "prompt_version")
    # prompt, version, then each of calls, cost per call, p50, p95, error rate with the
    # previous version's beside it.
    assert rows[0][:4] == ["support", "v2", "2", "3"]
    assert rows[0][4:6] == ["$0.2500", "$0.0010"]
    assert rows[0][-2:] == ["50.0%", "0.0%"]
    assert rows[1][:4] == ["support", "v1", "3", "\u2013"]


def test_breakdown_rows_link_to_the_filtered_traces(
    client: FlaskClient, url: Url, calls: dict[str, Any]
) -> None:
    html = html_of(client.get(url("/dashboard"), query_string={"environment": "staging"}))
    found = re.search(r'id="by-model">.*?<th scope="row"><a href="([^"]+)">claude', html, re.S)
    assert found
    link = html_module.unescape(found.group(1))
    assert link.startswith(url("/traces?"))
    assert "model=claude-sonnet-4" in link and "environment=staging" in link
    assert "since=" in link and "until=" in link
    listed = html_of(client.get(link))
    assert "classify" in listed and "support_reply" not in listed


def test_sorting_is_a_link_per_column(client: FlaskClient, url: Url, calls: dict[str, Any]) -> None:
    html = html_of(client.get(url("/dashboard")))
    header = re.search(r'id="by-model">.*?<a href="([^"]+)">Cost', html, re.S)
    assert header
    link = html_module.unescape(header.group(1))
    assert "sort_model=-cost" in link and link.endswith("#by-model")
    html = html_of(client.get(link))
    assert [row[0] for row in table(html, "model")] == ["claude-sonnet-4", "gpt-4.1-mini"]
    assert 'aria-sort="descending"' in html
    html = html_of(client.get(url("/dashboard"), query_string={"sort_model": "cost"}))
    assert [row[0] for row in table(html, "model")] == ["gpt-4.1-mini", "claude-sonnet-4"]
    html = html_of(client.get(url("/dashboard"), query_string={"sort_model": "model"}))
    assert [row[0] for row in table(html, "model")] == ["claude-sonnet-4", "gpt-4.1-mini"]


def test_charts_have_every_bucket(client: FlaskClient, url: Url, calls: dict[str, Any]) -> None:
    html = html_of(client.get(url("/dashboard"), query_string={"range": "24h"}))
    assert html.count('<rect class="hit"') == 5 * 24
    assert "no calls" in html  # percentiles of empty hours
    assert "style=" not in html.split("<main>")[1]


def test_breakdown_csv(client: FlaskClient, url: Url, calls: dict[str, Any], app: Flask) -> None:
    hostile = trace("=HYPERLINK(1)", 5, user_id="@bob")
    record(app, hostile, call(hostile, 5))
    response = client.get(url("/dashboard/user.csv"), query_string={"range": "24h"})
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Disposition"] == 'attachment; filename="user.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["user"] for row in rows] == ["bob", "ana", "'@bob"]
    assert rows[0]["cost"] == "0.5" and rows[0]["calls"] == "2"
    names = client.get(url("/dashboard/name.csv")).get_data(as_text=True)
    assert "'=HYPERLINK(1)" in names
    versions = client.get(url("/dashboard/prompt_version.csv")).get_data(as_text=True)
    assert versions.splitlines()[0].startswith("prompt,version,prompt_version,calls")
    assert client.get(url("/dashboard/nothing.csv")).status_code == 404


def test_every_breakdown_has_its_csv_link(
    client: FlaskClient, url: Url, calls: dict[str, Any]
) -> None:
    html = html_module.unescape(
        html_of(client.get(url("/dashboard"), query_string={"user": "ana"}))
    )
    for key in ("model", "provider", "name", "prompt", "prompt_version", "user", "environment"):
        assert f'href="{url(f"/dashboard/{key}.csv")}?user=ana"' in html


def test_constant_queries(
    client: FlaskClient, url: Url, calls: dict[str, Any], app: Flask, count_queries: CountQueries
) -> None:
    client.get(url("/dashboard"))
    with count_queries() as counter:
        client.get(url("/dashboard"))
    few = counter.count
    for n in range(10):
        more = trace(f"route_{n}", n, user_id=f"user-{n}", environment=f"env-{n}")
        record(app, more, call(more, n, model=f"model-{n}"))
    with count_queries() as counter:
        client.get(url("/dashboard"))
    # Nine reads (totals, series, seven breakdowns); a breakdown counts its histogram's
    # bins first (``Query.bins``), and on PostgreSQL each read sets its plan (``plan_for_sums``).
    postgresql = app.extensions["llm_logs"].engine.dialect.name == "postgresql"
    assert counter.count == few <= 12 + 7 + (9 if postgresql else 0)
    with count_queries() as counter:
        client.get(url("/dashboard?tag=vip"))
    assert counter.count <= few


def test_span_metrics_percentiles_and_buckets(app: Flask, store: Store) -> None:
    """The nearest-rank percentiles and the buckets of the spans' own numbers."""
    session = app.extensions["llm_logs"].session
    start = dt.datetime(2026, 12, 5, 10, 0, tzinfo=dt.timezone.utc)
    parent = Trace(name="t", status="completed", started_at=start)
    store.add_all([parent])
    for n in range(1, 101):
        store.span(
            parent,
            "chat",
            kind="llm",
            model="m",
            duration_ms=float(n),
            started_at=start + dt.timedelta(minutes=n % 3 * 61),
        )
    store.span(parent, "chat", kind="llm", model="m", duration_ms=None, started_at=start)
    (total,) = span_metrics(session, start, start + dt.timedelta(hours=4), ())
    assert (total["calls"], total["p50_ms"], total["p95_ms"], total["p99_ms"]) == (101, 50, 95, 99)
    hours = span_metrics(session, start, start + dt.timedelta(hours=4), (), bucket="hour")
    assert [(row["bucket"], row["calls"]) for row in hours] == [
        (start, 34),
        (start + dt.timedelta(hours=1), 34),
        (start + dt.timedelta(hours=2), 33),
    ]
    by_model = span_metrics(
        session, start, start + dt.timedelta(hours=4), ("model",), {"model": "x"}
    )
    assert by_model == []


def test_a_tag_counts_the_calls_of_traces_that_started_before_the_range(
    app: Flask, store: Store
) -> None:
    """The spans' traces are read from ``LLM_LOGS_INCOMPLETE_AFTER`` (and an hour of clock
    slack) before the range on, a range on the partitioned traces: a call of a trace
    started earlier counts, one of a trace running longer than that does not."""
    session = app.extensions["llm_logs"].session
    start = NOW - dt.timedelta(hours=1)
    limit = app.extensions["llm_logs"].settings.incomplete_after
    for started in (start - dt.timedelta(hours=2), start - 2 * limit):
        parent = Trace(name="agent", status="running", started_at=started, tags=["vip"])
        store.add_all([parent])
        store.span(parent, "chat", kind="llm", model="m", started_at=start)

    [row] = span_metrics(session, start, NOW, ("name",), tag="vip")

    assert (row["name"], row["calls"]) == ("agent", 1)


@pytest.mark.parametrize(
    "group_by",
    [
        (),
        ("model",),
        ("provider",),
        ("name",),
        ("prompt",),
        ("prompt_version",),
        ("user",),
        ("environment",),
        ("status",),
        ("model", "user"),
    ],
)
@pytest.mark.parametrize("bucket", [None, "hour"])
def test_the_spans_say_what_the_metrics_table_says(
    app: Flask, calls: dict[str, Any], group_by: tuple[str, ...], bucket: str | None
) -> None:
    """A tag reads the spans instead of the table: the same rows, keys and numbers
    (percentiles within the table's histogram bound)."""
    since, until = NOW - dt.timedelta(days=2), NOW + dt.timedelta(minutes=1)
    session = app.extensions["llm_logs"].session
    table = metrics(since, until, group_by, bucket=bucket)
    spans = span_metrics(session, since, until, group_by, bucket=bucket)
    assert len(spans) == len(table) > 0
    for from_spans, from_table in zip(spans, table, strict=True):
        assert from_spans.keys() == from_table.keys()
        for key, value in from_table.items():
            if key in ("p50_ms", "p95_ms", "p99_ms"):
                assert from_spans[key] == pytest.approx(value, rel=0.1)
            elif isinstance(value, float):
                assert from_spans[key] == pytest.approx(value)
            else:
                assert from_spans[key] == value, key


def test_a_long_breakdown_shows_its_first_rows(
    client: FlaskClient, url: Url, calls: dict[str, Any], app: Flask, monkeypatch: Any
) -> None:
    """Thousands of users would make a page of megabytes: the page shows the first rows
    (the top spenders), the CSV every one."""
    monkeypatch.setattr(dashboard_queries, "SHOWN_ROWS", 1)
    html = html_of(client.get(url("/dashboard")))
    assert [row[0] for row in table(html, "user")] == ["bob"]
    assert "The first 1 of 2; the CSV has them all." in html
    rows = client.get(url("/dashboard/user.csv")).get_data(as_text=True).splitlines()
    assert len(rows) == 3
