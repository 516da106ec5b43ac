"""``/llm_logs/alerts``: the rules, their state, the history, links to the traces behind them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_llm_logs.alerts.check import check_alerts
from tests.helpers.alerts import WebhookReceiver
from tests.helpers.alerts import record_calls
from tests.helpers.browser import shoot
from tests.helpers.web import START
from tests.helpers.web import CountQueries
from tests.helpers.web import Store
from tests.helpers.web import html_of

#: The checks run one hour after the sample traces start.
NOW = START + dt.timedelta(hours=1)


def received(alert: Any) -> None:
    pass


def rules(webhook: WebhookReceiver) -> list[dict[str, Any]]:
    return [
        {
            "name": "spend <b>",
            "metric": "cost",
            "window": "1h",
            "threshold": 5,
            "notify": webhook.url,
            "filters": {"environment": "production"},
        },
        {
            "name": "user spend",
            "metric": "cost",
            "window": "1d",
            "threshold": 1,
            "per": "user",
            "notify": received,
        },
        {
            "name": "errors",
            "metric": "error_rate",
            "window": "15m",
            "threshold": 0.1,
            "notify": received,
        },
    ]


@pytest.fixture
def app(make_app: Callable[..., Flask], webhook: WebhookReceiver) -> Iterator[Flask]:
    app = make_app(LLM_LOGS_ALERTS=rules(webhook), LLM_LOGS_PAGE_SIZE=3)
    with app.app_context():
        yield app


def run_checks(app: Flask) -> None:
    """Spend fires, then resolves; two users fire."""
    record_calls(
        app,
        NOW - dt.timedelta(minutes=10),
        {"environment": "production", "cost": 7.5},
        {"user_id": "ana", "cost": 2.0},
        {"user_id": "bob", "cost": 3.0},
    )
    with app.app_context():
        check_alerts(NOW - dt.timedelta(minutes=5))
        check_alerts(NOW + dt.timedelta(hours=2))


def test_no_rules_and_no_history(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    html = html_of(app.test_client().get("/llm_logs/alerts"))
    assert "No alert rules: set LLM_LOGS_ALERTS" in html
    assert "No alert has fired yet." in html
    assert re.search(r'href="/llm_logs/alerts"\s+aria-current="page"', html)


def test_rules_state_and_history(app: Flask, client: FlaskClient, store: Store) -> None:
    run_checks(app)
    html = html_of(client.get("/llm_logs/alerts"))
    # Rule names are escaped; webhook tokens never shown, only the host.
    assert "spend &lt;b&gt;" in html and "<b>" not in html
    assert "secret-token" not in html and "webhook to 127.0.0.1" in html
    assert "received()" in html
    rows = re.findall(r'<tr class="alert-rule" data-rule="([^"]+)">(.*?)</tr>', html, re.S)
    state = {name: row for name, row in rows}
    assert 'badge status-ok">ok<' in state["spend &lt;b&gt;"]
    assert "for 2 users:" in state["user spend"]
    assert ">ana</a>" in state["user spend"] and ">bob</a>" in state["user spend"]
    assert "user=ana" in state["user spend"]
    assert 'badge status-ok">ok<' in state["errors"]
    # Newest first, three to a page.
    events = re.findall(r'<tr class="alert-event">(.*?)</tr>', html, re.S)
    assert len(events) == 3
    assert "resolved" in events[0] and "$0.0000" in events[0]
    assert [">ana<" in events[2], ">bob<" in events[1]] == [True, True]
    older = re.search(r'href="([^"]+)" rel="next"', html)
    assert older is not None
    html = html_of(client.get(older.group(1).replace("&amp;", "&")))
    (oldest,) = re.findall(r'<tr class="alert-event">(.*?)</tr>', html, re.S)
    assert "fired" in oldest and "$7.5000" in oldest and "above $5.0000" in oldest


def test_history_of_one_rule(app: Flask, client: FlaskClient) -> None:
    run_checks(app)
    html = html_of(client.get("/llm_logs/alerts?rule=user spend"))
    assert len(re.findall(r'<tr class="alert-event">', html)) == 2
    assert "History of user spend" in html


def test_an_event_links_to_the_traces_behind_it(
    app: Flask, client: FlaskClient, store: Store
) -> None:
    inside = store.trace("in window", minutes=50, environment="production")
    store.trace("before the window", minutes=-30, environment="production")
    store.trace("other environment", minutes=50, environment="staging")
    run_checks(app)
    html = html_of(client.get("/llm_logs/alerts?rule=spend <b>"))
    links = re.findall(r'<a href="([^"]+)">Traces</a>', html)
    fired_link = links[1].replace("&amp;", "&")  # the newest, resolved, first
    assert fired_link == (
        "/llm_logs/traces?environment=production"
        "&since=2026-11-28T11:55:00&until=2026-11-28T12:55:00"
    )
    traces = html_of(client.get(fired_link))
    assert str(inside.id) in traces
    assert "before the window" not in traces and "other environment" not in traces


def test_the_page_runs_two_queries(
    app: Flask, client: FlaskClient, count_queries: CountQueries
) -> None:
    run_checks(app)
    with count_queries() as few:
        html_of(client.get("/llm_logs/alerts"))
    run_checks(app)
    with count_queries() as more:
        html_of(client.get("/llm_logs/alerts"))
    assert few.count == more.count == 2


def test_bad_page_arguments(app: Flask, client: FlaskClient) -> None:
    assert "before: &#39;x&#39; is not an id." in html_of(
        client.get("/llm_logs/alerts?before=x"), 400
    )


def test_the_browser_opens_the_page_and_follows_a_link(
    app: Flask, store: Store, server: str, page: Any
) -> None:
    # A firing state links to the traces of the rule's window up to now.
    ten_minutes_ago = (dt.datetime.now(dt.timezone.utc) - START).total_seconds() / 60 - 10
    store.trace("costly pipeline", minutes=ten_minutes_ago, user_id="bob")
    store.trace("ana's pipeline", minutes=ten_minutes_ago, user_id="ana")
    run_checks(app)
    page.goto(f"{server}/traces")
    page.get_by_role("link", name="Alerts").click()
    assert page.get_by_role("heading", name="Alerts").is_visible()
    rule = page.locator('tr.alert-rule[data-rule="user spend"]')
    assert "firing" in rule.inner_text()
    shoot(page, "alerts")
    rule.get_by_role("link", name="bob").click()
    listed = page.locator("main").inner_text()
    assert "costly pipeline" in listed and "ana's pipeline" not in listed
    assert "user=bob" in page.url
    assert page.errors == []
