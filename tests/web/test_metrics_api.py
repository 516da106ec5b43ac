"""``/llm_logs/api/metrics``: ``metrics()`` as JSON, behind the UI's access control."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.tracing import flush
from tests.helpers.web import Url
from tests.helpers.writer import span_record
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record

NOON = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.timezone.utc)


def record_calls(app: Flask) -> None:
    alice = trace_record(name="report", user_id="alice")
    bob = trace_record(name="report", user_id="bob")
    at = NOON.timestamp()
    submit(
        app,
        alice,
        bob,
        span_record(alice.id, kind="llm", model="a", cost=0.5, duration_ms=100.0, started_at=at),
        span_record(alice.id, kind="llm", model="b", cost=0.25, duration_ms=50.0, started_at=at),
        span_record(bob.id, kind="llm", model="a", duration_ms=10.0, started_at=at + 3600),
    )
    flush()


def test_grouped_bucketed_and_filtered(app: Flask, client: FlaskClient, url: Url) -> None:
    record_calls(app)
    query = "since=2026-12-01T00:00&until=2026-12-03&group_by=model,user&bucket=hour"
    response = client.get(url(f"/api/metrics?{query}"))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    rows = response.get_json()
    assert [(row["bucket"], row["model"], row["user"], row["calls"]) for row in rows] == [
        ("2026-12-02T12:00:00+00:00", "a", "alice", 1),
        ("2026-12-02T12:00:00+00:00", "b", "alice", 1),
        ("2026-12-02T13:00:00+00:00", "a", "bob", 1),
    ]
    assert rows[0]["cost"] == 0.5 and rows[0]["p50_ms"] > 0

    only_a = client.get(url("/api/metrics?since=2026-12-01&group_by=user&model=a")).get_json()
    assert {row["user"]: row["calls"] for row in only_a} == {"alice": 1, "bob": 1}
    totals = client.get(url("/api/metrics?since=2026-12-01&group_by=")).get_json()
    assert [row["calls"] for row in totals] == [3]
    assert "bucket" not in totals[0]


def test_bad_parameters_are_a_json_400(app: Flask, client: FlaskClient, url: Url) -> None:
    for query, message in [
        ("group_by=route", "group_by: unknown dimension 'route'"),
        ("bucket=week", "bucket: must be one of"),
        ("since=yesterday", "since: 'yesterday' is not a date"),
        ("since=2026-12-02&until=2026-12-01", "until: must be after since"),
    ]:
        response = client.get(url(f"/api/metrics?{query}"))
        assert response.status_code == 400, query
        assert message in response.get_json()["error"], query


def test_closed_like_the_rest_of_the_ui(make_app: Callable[..., Flask]) -> None:
    app = make_app(TESTING=False)
    assert app.test_client().get("/llm_logs/api/metrics").status_code == 403
