"""Checking the rules against calls stored by the writer: each alert fires once when its
condition starts and once when it ends; notifications by callable and by webhook (a real
server on loopback) never stop the other rules; two checks at once send nothing twice.

The calls stay where they are; the checks move in time, so a window that held
them (the alert fires) later holds nothing (it resolves)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

import flask_llm_logs
from flask_llm_logs.alerts.check import check_alerts
from flask_llm_logs.alerts.delivery import Alert
from tests.helpers.alerts import WebhookReceiver
from tests.helpers.alerts import events
from tests.helpers.alerts import record_calls
from tests.helpers.alerts import states

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.timezone.utc)


def later(minutes: int) -> dt.datetime:
    return NOW + dt.timedelta(minutes=minutes)


def check(app: Flask, now: dt.datetime = NOW) -> Any:
    with app.app_context():
        return check_alerts(now)


def test_fires_once_then_resolves_once(make_app: Callable[..., Flask]) -> None:
    sent: list[Alert] = []
    app = make_app(
        LLM_LOGS_ALERTS=[
            {
                "name": "spend",
                "metric": "cost",
                "window": "1h",
                "threshold": 5,
                "notify": sent.append,
                "filters": {"environment": "production"},
            }
        ]
    )
    record_calls(
        app,
        later(-10),
        {"environment": "production", "cost": 3.0},
        {"environment": "production", "cost": 4.5},
        {"environment": "staging", "cost": 100.0},
    )
    # Before the calls: nothing spent in the window.
    assert check(app, later(-20)).fired == []

    result = check(app)
    assert (result.fired, result.resolved) == (["spend"], [])
    # Still above: no repeat, however many checks run.
    for minute in (1, 2, 3):
        assert check(app, later(minute)).fired == []
    assert [alert.status for alert in sent] == ["firing"]

    # Two hours on, the window holds no call: resolved, once.
    assert check(app, later(120)).resolved == ["spend"]
    assert check(app, later(121)).resolved == []
    firing, resolved = sent
    assert (resolved.status, resolved.value) == ("resolved", 0.0)
    assert (firing.rule, firing.metric, firing.threshold) == ("spend", "cost", 5.0)
    assert firing.value == pytest.approx(7.5)
    assert firing.description == "cost above 5 over 1 hour, environment=production"
    assert firing.traces_url == (
        "/llm_logs/traces?environment=production"
        "&since=2026-12-05T11%3A00%3A00&until=2026-12-05T12%3A00%3A00"
    )
    history = events(app)
    assert [(e.kind, e.delivery, e.attempts) for e in history] == [
        ("fired", "sent", 1),
        ("resolved", "sent", 1),
    ]
    assert [e.id for e in history] == [firing.id, resolved.id]
    assert history[0].filters == {"environment": "production"}
    assert states(app) == {("spend", ""): "ok"}

    # A window that holds the calls again fires again.
    assert check(app, later(5)).fired == ["spend"]
    assert len(sent) == 3


def test_each_metric_and_below(make_app: Callable[..., Flask]) -> None:
    sent: list[Alert] = []
    common = {"window": "15m", "notify": sent.append}
    app = make_app(
        LLM_LOGS_ALERTS=[
            {"name": "errors", "metric": "error_rate", "threshold": 0.1, "min_calls": 5, **common},
            {"name": "slow", "metric": "p95_duration", "threshold": 2000, **common},
            {"name": "tokens", "metric": "tokens", "threshold": 1000, **common},
            {"name": "quiet", "metric": "calls", "threshold": 1, "comparison": "below", **common},
        ]
    )
    # No call at all: no error rate, no latency, no tokens; "quiet" fires.
    assert check(app).fired == ["quiet"]
    slow: dict[str, Any] = {"duration_ms": 2500.0}
    record_calls(
        app,
        later(1),
        {"input_tokens": 700, "output_tokens": 301, **slow},
        {"status": "error", **slow},
        {"status": "error", **slow},
        slow,
    )
    result = check(app, later(2))
    # Two errors of four calls: under min_calls, not an alert yet.
    assert (result.fired, result.resolved) == (["slow", "tokens"], ["quiet"])
    record_calls(app, later(2), slow)
    result = check(app, later(3))
    assert (result.fired, result.resolved) == (["errors"], [])
    assert sent[-1].value == pytest.approx(0.4)


def test_per_dimension(make_app: Callable[..., Flask]) -> None:
    sent: list[Alert] = []
    app = make_app(
        LLM_LOGS_ALERTS=[
            {
                "name": "user spend",
                "metric": "cost",
                "window": "1d",
                "threshold": 5,
                "per": "user",
                "notify": sent.append,
            }
        ]
    )
    record_calls(
        app,
        later(-60),
        {"user_id": "ana", "cost": 6.0},
        {"user_id": "bob", "cost": 1.0},
        # Calls of no user are nobody's budget.
        {"cost": 50.0},
    )
    assert check(app).fired == ["user spend[ana]"]
    record_calls(app, later(-30), {"user_id": "bob", "cost": 5.5})
    assert check(app, later(1)).fired == ["user spend[bob]"]
    # A day on, Ana's call is out of the window (no row at all); Bob's last one is in.
    result = check(app, later(24 * 60 - 50))
    assert (result.fired, result.resolved) == ([], ["user spend[ana]"])
    assert [(a.dimension, a.dimension_value, a.status) for a in sent] == [
        ("user", "ana", "firing"),
        ("user", "bob", "firing"),
        ("user", "ana", "resolved"),
    ]
    assert [a.value for a in sent] == pytest.approx([6.0, 6.5, 0.0])
    assert "user=bob" in sent[1].traces_url
    assert states(app) == {("user spend", "ana"): "ok", ("user spend", "bob"): "firing"}


def spent_with_webhook(
    make_app: Callable[..., Flask], webhook: WebhookReceiver, **fields: Any
) -> Flask:
    """An app whose rule ``spend`` (cost above 5 over an hour, ``fields`` added) posts to
    ``webhook``, and a call of 6.0 ten minutes before ``NOW``: it fires at ``check(app)``."""
    rule = {"name": "spend", "metric": "cost", "window": "1h", "threshold": 5}
    app = make_app(LLM_LOGS_ALERTS=[{**rule, "notify": webhook.url, **fields}])
    record_calls(app, later(-10), {"cost": 6.0})
    return app


def test_webhook_posts_json_and_retries_a_500(
    make_app: Callable[..., Flask], webhook: WebhookReceiver
) -> None:
    app = spent_with_webhook(make_app, webhook, retries=2)
    webhook.statuses = [500, 503]
    result = check(app)
    assert result.fired == ["spend"] and result.failed_notifications == 0
    assert webhook.requests == 3
    (payload,) = webhook.received
    assert webhook.headers[0]["Content-Type"] == "application/json"
    assert payload == {
        "id": events(app)[0].id,
        "rule": "spend",
        "status": "firing",
        "description": "cost above 5 over 1 hour",
        "metric": "cost",
        "value": pytest.approx(6.0),
        "threshold": 5.0,
        "comparison": "above",
        "dimension": None,
        "dimension_value": None,
        "filters": {},
        "window_start": "2026-12-05T11:00:00+00:00",
        "window_end": "2026-12-05T12:00:00+00:00",
        "traces_url": (
            "/llm_logs/traces?since=2026-12-05T11%3A00%3A00&until=2026-12-05T12%3A00%3A00"
        ),
    }
    (event,) = events(app)
    assert (event.delivery, event.attempts, event.error) == ("sent", 3, None)


def test_a_failing_notification_is_recorded_and_the_other_rules_go_on(
    make_app: Callable[..., Flask], webhook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[Alert] = []
    busy = {"metric": "calls", "window": "1h", "threshold": 1}
    app = make_app(
        LLM_LOGS_ALERTS=[
            {"name": "gone", "notify": webhook.url, "retries": 1, **busy},
            {"name": "broken", "notify": lambda alert: 1 / 0, **busy},
            {"name": "fine", "notify": sent.append, **busy},
        ]
    )
    webhook.statuses = [500, 500, 404]
    record_calls(app, later(-10), {}, {})
    result = check(app)
    assert result.fired == ["gone", "broken", "fine"] and result.failed_notifications == 2
    assert len(sent) == 1 and webhook.requests == 2
    gone, broken, fine = events(app)
    assert (gone.delivery, gone.attempts) == ("failed", 2)
    assert gone.error == "HTTP 500 Internal Server Error"
    assert (broken.delivery, broken.error) == ("failed", "ZeroDivisionError: division by zero")
    assert fine.delivery == "sent"
    assert "secret-token" not in caplog.text and "127.0.0.1" in caplog.text
    # A failed notification is not sent again: the alert has fired.
    assert check(app, later(1)).fired == []
    # A 4xx is the request's fault: no retry.
    check(app, later(120))
    assert (events(app)[3].delivery, events(app)[3].attempts, webhook.requests) == ("failed", 1, 3)


def test_a_webhook_that_hangs_times_out(
    make_app: Callable[..., Flask], webhook: WebhookReceiver
) -> None:
    app = spent_with_webhook(make_app, webhook, timeout=0.2, retries=1)
    # Two attempts that waited for the answer would take 10 s; timed out, about 0.4 s.
    # The margin is for the check's own database work on a busy machine (it took
    # 6 s once, under a 1.5 s limit, when the webhook answered after 0.6 s).
    webhook.delay = 5.0
    started = time.monotonic()
    result = check(app)
    assert time.monotonic() - started < 4.0
    assert result.failed_notifications == 1
    (event,) = events(app)
    assert (event.delivery, event.attempts) == ("failed", 2)
    assert "timed out" in (event.error or "")


def test_a_rule_that_cannot_be_measured_does_not_stop_the_others(
    make_app: Callable[..., Flask],
) -> None:
    sent: list[Alert] = []
    busy = {"metric": "calls", "window": "1h", "threshold": 1, "notify": sent.append}
    app = make_app(
        LLM_LOGS_ALERTS=[
            {"name": "first", "filters": {"model": "broken"}, **busy},
            {"name": "second", **busy},
        ]
    )
    record_calls(app, later(-10), {}, {})

    def measure(**arguments: Any) -> list[dict[str, Any]]:
        if arguments["filters"]:
            raise RuntimeError("the aggregate table is gone")
        return flask_llm_logs.metrics(**arguments)

    with app.app_context():
        result = check_alerts(NOW, measure=measure)
    assert result.errors == {"first": "RuntimeError: the aggregate table is gone"}
    assert result.fired == ["second"] and len(sent) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_checks_at_once_send_each_alert_once(make_app: Callable[..., Flask]) -> None:
    """Two workers (threads with their own connections) check the same rules at the same
    moment, again and again: every start and every end is sent exactly once."""
    sent: list[tuple[str, str]] = []
    lock = threading.Lock()

    def notify(alert: Alert) -> None:
        with lock:
            sent.append((alert.dimension_value or "", alert.status))

    app = make_app(
        LLM_LOGS_ALERTS=[
            {
                "name": "user spend",
                "metric": "cost",
                "window": "1d",
                "threshold": 5,
                "per": "user",
                "notify": notify,
            }
        ]
    )
    users = [f"user{n}" for n in range(8)]
    record_calls(app, later(-10), *({"user_id": user, "cost": 9.0} for user in users))
    rounds = 6
    for round_number in range(rounds):
        # Even rounds: the window holds the calls, everyone is above; odd rounds: a day on.
        now = later(round_number + (24 * 60 if round_number % 2 else 0))
        barrier = threading.Barrier(2)
        results: list[Any] = []

        def worker(barrier: threading.Barrier, results: list[Any], now: dt.datetime) -> None:
            barrier.wait()
            results.append(check(app, now))

        threads = [threading.Thread(target=worker, args=(barrier, results, now)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert all(not result.errors for result in results), results
        moved = sorted(name for result in results for name in result.fired + result.resolved)
        assert moved == sorted(f"user spend[{user}]" for user in users)
    assert len(sent) == rounds * len(users)
    assert {sent.count((user, status)) for user in users for status in ("firing", "resolved")} == {
        rounds // 2
    }
    assert len(events(app)) == rounds * len(users)
