"""Checking the rules: each alert fires once when its condition starts and once when it
ends; notifications by callable and by webhook (a real server on loopback) never stop
the other rules; two checks at once send nothing twice."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from flask_llm_logs.alerts.check import check_alerts
from flask_llm_logs.alerts.delivery import Alert
from tests.helpers.alerts import Numbers
from tests.helpers.alerts import WebhookReceiver
from tests.helpers.alerts import events
from tests.helpers.alerts import states

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.timezone.utc)


def later(minutes: int) -> dt.datetime:
    return NOW + dt.timedelta(minutes=minutes)


def check(app: Flask, numbers: Numbers, now: dt.datetime = NOW) -> Any:
    with app.app_context():
        return check_alerts(numbers, now)


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
    numbers = Numbers()
    numbers.set({"environment": "production", "cost": 4.0, "calls": 10})
    assert check(app, numbers).fired == []

    numbers.set({"environment": "production", "cost": 7.5, "calls": 12})
    result = check(app, numbers, later(1))
    assert (result.fired, result.resolved) == (["spend"], [])
    assert numbers.calls[-1] == {
        "since": later(1) - dt.timedelta(hours=1),
        "until": later(1),
        "group_by": (),
        "filters": {"environment": "production"},
    }
    # Still above: no repeat, however many checks run.
    for minute in (2, 3, 4):
        assert check(app, numbers, later(minute)).fired == []
    assert [alert.status for alert in sent] == ["firing"]

    numbers.set({"environment": "production", "cost": 3.0, "calls": 12})
    assert check(app, numbers, later(5)).resolved == ["spend"]
    assert check(app, numbers, later(6)).resolved == []
    firing, resolved = sent
    assert (resolved.status, resolved.value) == ("resolved", 3.0)
    assert (firing.rule, firing.metric, firing.value, firing.threshold) == (
        "spend",
        "cost",
        7.5,
        5.0,
    )
    assert firing.description == "cost above 5 over 1 hour, environment=production"
    assert firing.traces_url == (
        "/llm_logs/traces?environment=production&since=2026-12-05T11%3A01%3A00&until=2026-12-05T12%3A01%3A00"
    )
    history = events(app)
    assert [(e.kind, e.delivery, e.attempts, e.value) for e in history] == [
        ("fired", "sent", 1, 7.5),
        ("resolved", "sent", 1, 3.0),
    ]
    assert [e.id for e in history] == [firing.id, resolved.id]
    assert history[0].filters == {"environment": "production"}
    assert states(app) == {("spend", ""): "ok"}

    # A new breach fires again.
    numbers.set({"environment": "production", "cost": 9.0, "calls": 20})
    assert check(app, numbers, later(7)).fired == ["spend"]
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
    numbers = Numbers()
    # No call at all: no error rate, no latency, no tokens; "quiet" fires.
    assert check(app, numbers).fired == ["quiet"]
    numbers.set(
        {
            "calls": 4,
            "errors": 2,
            "error_rate": 0.5,
            "p95_ms": 2500.0,
            "input_tokens": 700,
            "output_tokens": 301,
        }
    )
    result = check(app, numbers, later(1))
    # Two errors of four calls: under min_calls, not an alert yet.
    assert (result.fired, result.resolved) == (["slow", "tokens"], ["quiet"])
    numbers.set({"calls": 5, "errors": 2, "error_rate": 0.4, "p95_ms": 2500.0})
    result = check(app, numbers, later(2))
    assert (result.fired, result.resolved) == (["errors"], ["tokens"])


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
    numbers = Numbers()
    numbers.set(
        {"user": "ana", "cost": 6.0}, {"user": "bob", "cost": 1.0}, {"user": None, "cost": 50.0}
    )
    assert check(app, numbers).fired == ["user spend[ana]"]
    assert numbers.calls[-1]["group_by"] == ("user",)
    numbers.set({"user": "ana", "cost": 7.0}, {"user": "bob", "cost": 5.5})
    assert check(app, numbers, later(1)).fired == ["user spend[bob]"]
    # Ana stopped (no row at all), Bob still above.
    numbers.set({"user": "bob", "cost": 8.0})
    result = check(app, numbers, later(2))
    assert (result.fired, result.resolved) == ([], ["user spend[ana]"])
    assert [(a.dimension, a.dimension_value, a.status, a.value) for a in sent] == [
        ("user", "ana", "firing", 6.0),
        ("user", "bob", "firing", 5.5),
        ("user", "ana", "resolved", 0.0),
    ]
    assert "user=bob" in sent[1].traces_url
    assert states(app) == {("user spend", "ana"): "ok", ("user spend", "bob"): "firing"}


def test_webhook_posts_json_and_retries_a_500(
    make_app: Callable[..., Flask], webhook: WebhookReceiver
) -> None:
    app = make_app(
        LLM_LOGS_ALERTS=[
            {
                "name": "spend",
                "metric": "cost",
                "window": "1h",
                "threshold": 5,
                "notify": webhook.url,
                "retries": 2,
            }
        ]
    )
    webhook.statuses = [500, 503]
    numbers = Numbers()
    numbers.set({"cost": 6.0, "calls": 3})
    result = check(app, numbers)
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
        "value": 6.0,
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


def test_a_failing_webhook_is_recorded_and_the_other_rules_go_on(
    make_app: Callable[..., Flask], webhook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[Alert] = []
    app = make_app(
        LLM_LOGS_ALERTS=[
            {
                "name": "gone",
                "metric": "calls",
                "window": "1h",
                "threshold": 1,
                "retries": 1,
                "notify": webhook.url,
            },
            {
                "name": "broken",
                "metric": "calls",
                "window": "1h",
                "threshold": 1,
                "notify": lambda alert: 1 / 0,
            },
            {
                "name": "fine",
                "metric": "calls",
                "window": "1h",
                "threshold": 1,
                "notify": sent.append,
            },
        ]
    )
    webhook.statuses = [500, 500, 404]
    numbers = Numbers()
    numbers.set({"calls": 2})
    result = check(app, numbers)
    assert result.fired == ["gone", "broken", "fine"] and result.failed_notifications == 2
    assert len(sent) == 1 and webhook.requests == 2
    gone, broken, fine = events(app)
    assert (gone.delivery, gone.attempts, gone.error) == (
        "failed",
        2,
        "HTTP 500 Internal Server Error",
    )
    assert (broken.delivery, broken.error) == ("failed", "ZeroDivisionError: division by zero")
    assert fine.delivery == "sent"
    assert "secret-token" not in caplog.text and "127.0.0.1" in caplog.text
    # A failed notification is not sent again: the alert has fired.
    assert check(app, numbers, later(1)).fired == []
    # A 4xx is the request's fault: no retry.
    numbers.set({"calls": 0})
    check(app, numbers, later(2))
    assert (events(app)[3].delivery, events(app)[3].attempts, webhook.requests) == ("failed", 1, 3)


def test_a_webhook_that_hangs_times_out(
    make_app: Callable[..., Flask], webhook: WebhookReceiver
) -> None:
    app = make_app(
        LLM_LOGS_ALERTS=[
            {
                "name": "spend",
                "metric": "cost",
                "window": "1h",
                "threshold": 5,
                "notify": webhook.url,
                "timeout": 0.2,
                "retries": 1,
            }
        ]
    )
    webhook.delay = 0.6
    numbers = Numbers()
    numbers.set({"cost": 6.0, "calls": 1})
    started = dt.datetime.now()
    result = check(app, numbers)
    assert (dt.datetime.now() - started).total_seconds() < 1.5
    assert result.failed_notifications == 1
    (event,) = events(app)
    assert (event.delivery, event.attempts) == ("failed", 2)
    assert "timed out" in (event.error or "")


def test_a_rule_that_cannot_be_measured_does_not_stop_the_others(
    make_app: Callable[..., Flask],
) -> None:
    sent: list[Alert] = []
    app = make_app(
        LLM_LOGS_ALERTS=[
            {
                "name": "first",
                "metric": "calls",
                "window": "1h",
                "threshold": 1,
                "filters": {"model": "broken"},
                "notify": sent.append,
            },
            {
                "name": "second",
                "metric": "calls",
                "window": "1h",
                "threshold": 1,
                "notify": sent.append,
            },
        ]
    )

    def measure(**arguments: Any) -> list[dict[str, Any]]:
        if arguments["filters"]:
            raise RuntimeError("the aggregate table is gone")
        return Numbers(rows=[{"calls": 3, "cost": 0, "input_tokens": 0, "output_tokens": 0}])(
            **arguments
        )

    with app.app_context():
        result = check_alerts(measure, NOW)
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
    numbers = Numbers()
    users = [f"user{n}" for n in range(8)]
    rounds = 6
    for round_number in range(rounds):
        # Even rounds: everyone above; odd rounds: nobody.
        numbers.set(
            *({"user": user, "cost": 9.0 if round_number % 2 == 0 else 1.0} for user in users)
        )
        barrier = threading.Barrier(2)
        results: list[Any] = []

        def worker(barrier: threading.Barrier, results: list[Any], now: dt.datetime) -> None:
            barrier.wait()
            results.append(check(app, numbers, now))

        threads = [
            threading.Thread(target=worker, args=(barrier, results, later(round_number)))
            for _ in range(2)
        ]
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
