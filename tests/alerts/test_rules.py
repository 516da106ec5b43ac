"""``LLM_LOGS_ALERTS`` is validated at ``init_app``: each error names the rule and the field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_llm_logs import AlertRule
from flask_llm_logs import ConfigurationError
from flask_llm_logs import LlmLogs
from flask_llm_logs.alerts.rules import load_rules
from flask_llm_logs.state import get_state

HOOK = "https://hooks.example.com/services/T000/B000/secret-token"


def rule(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "spend",
        "metric": "cost",
        "window": "1d",
        "threshold": 5,
        "notify": HOOK,
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not ...}


def test_init_app_keeps_the_validated_rules(tmp_path: Path) -> None:
    app = Flask("alerts", instance_path=str(tmp_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    app.config["LLM_LOGS_ALERTS"] = [
        rule(per="user"),
        rule(
            name="errors",
            metric="error_rate",
            window="15m",
            threshold=0.1,
            filters={"model": "gpt-4.1"},
            notify=print,
            min_calls=20,
        ),
    ]
    LlmLogs(app)
    try:
        spend, errors = get_state(app).alert_rules
        assert (spend.window, spend.per, spend.comparison) == (
            dt.timedelta(days=1),
            "user",
            "above",
        )
        assert spend.webhook == HOOK and errors.webhook is None
        assert errors.filters == {"model": "gpt-4.1"} and errors.min_calls == 20
        assert errors.describe() == "error_rate above 0.1 over 15 minutes, model=gpt-4.1"
    finally:
        get_state(app).shutdown()


def test_a_bad_rule_fails_init_app(tmp_path: Path) -> None:
    app = Flask("alerts", instance_path=str(tmp_path))
    app.config["LLM_LOGS_ALERTS"] = [rule(threshold="5 dollars")]
    with pytest.raises(ConfigurationError) as caught:
        LlmLogs(app)
    assert caught.value.key == "LLM_LOGS_ALERTS"
    assert (
        str(caught.value)
        == "LLM_LOGS_ALERTS: rule 'spend': threshold: must be a number, got '5 dollars'"
    )


def test_no_rules() -> None:
    assert load_rules({}) == ()
    assert load_rules({"LLM_LOGS_ALERTS": []}) == ()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"metric": "latency"},
            "metric: must be one of cost, error_rate, p95_duration, calls, tokens; got 'latency'",
        ),
        (
            {"window": "soon"},
            'window: must be like "15m", "1h", "1d" or "1w" (or a timedelta), got \'soon\'',
        ),
        (
            {"window": dt.timedelta(seconds=30)},
            "window: must be a whole number of minutes, at least 1, got 0:00:30",
        ),
        ({"window": 3600}, "window: must be like"),
        ({"threshold": -1}, "threshold: must be >= 0, got -1"),
        ({"threshold": True}, "threshold: must be a number, got True"),
        (
            {"metric": "error_rate", "threshold": 10},
            "threshold: an error rate is a fraction from 0 to 1",
        ),
        ({"comparison": "over"}, "comparison: must be one of above, below; got 'over'"),
        ({"filters": {"region": "eu"}}, "filters: must be one of model, provider, name"),
        ({"filters": ["model"]}, "filters: must be a dict of dimension -> value"),
        ({"filters": {"model": None}}, "filters['model']: must be a text or a number, got None"),
        (
            {"filters": {"prompt_version": "v2"}},
            "filters['prompt_version']: must be a prompt version id",
        ),
        ({"per": "customer"}, "per: must be one of model, provider"),
        ({"per": "user", "filters": {"user": "ana"}}, "per: 'user' is also in filters"),
        (
            {"notify": "ftp://example.com/hook"},
            "notify: must be an http(s) webhook URL or a callable, got a str",
        ),
        ({"notify": 42}, "notify: must be an http(s) webhook URL or a callable, got 42"),
        ({"notify": ...}, "notify: is required"),
        ({"threshold": ...}, "threshold: is required"),
        ({"treshold": 5}, "treshold: is not a field of a rule"),
        ({"min_calls": -1}, "min_calls: must be a whole number >= 0, got -1"),
        ({"retries": 50}, "retries: must be at most 5, got 50"),
        ({"timeout": 0}, "timeout: must be >= 0.001, got 0"),
    ],
)
def test_each_error_names_the_rule_and_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_rules({"LLM_LOGS_ALERTS": [rule(), rule(name="second", **fields)]})
    assert str(caught.value).startswith(f"LLM_LOGS_ALERTS: rule 'second': {message}")


def test_a_webhook_url_is_never_shown_in_an_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_rules({"LLM_LOGS_ALERTS": [rule(notify="hooks.example.com/secret-token")]})
    assert "secret-token" not in str(caught.value)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("cost above 5", "must be a list of rules (dicts), got 'cost above 5'"),
        ({"name": "spend"}, "must be a list of rules (dicts)"),
        (["spend"], "rule #1: must be a dict, got 'spend'"),
        ([rule(name="")], "rule #1: name: must be a text of 1 to 255 characters"),
        ([rule(name=...)], "rule #1: name: must be a text of 1 to 255 characters"),
        ([rule(), rule()], "rule 'spend': name: two rules have this name"),
    ],
)
def test_the_list_and_the_names(rules: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_rules({"LLM_LOGS_ALERTS": rules})
    assert str(caught.value).startswith(f"LLM_LOGS_ALERTS: {message}")


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("15m", dt.timedelta(minutes=15)),
        (" 2h ", dt.timedelta(hours=2)),
        ("1w", dt.timedelta(weeks=1)),
        (dt.timedelta(hours=3), dt.timedelta(hours=3)),
    ],
)
def test_windows(window: Any, expected: dt.timedelta) -> None:
    (parsed,) = load_rules({"LLM_LOGS_ALERTS": [rule(window=window)]})
    assert parsed.window == expected


def test_a_dataclass_rule_is_validated_like_a_dict() -> None:
    given = AlertRule(
        name="slow",
        metric="p95_duration",
        window=dt.timedelta(minutes=15),
        threshold=2000,
        notify=print,
        per="model",
    )
    (parsed,) = load_rules({"LLM_LOGS_ALERTS": [given]})
    assert parsed.describe() == "p95_duration per model above 2000 over 15 minutes"
    with pytest.raises(ConfigurationError, match="rule 'slow': per: must be one of"):
        load_rules(
            {
                "LLM_LOGS_ALERTS": [
                    AlertRule(
                        name="slow",
                        metric="calls",
                        window=dt.timedelta(hours=1),
                        threshold=1,
                        notify=print,
                        per="region",
                    )
                ]
            }
        )


@pytest.mark.parametrize(
    ("comparison", "value", "calls", "breached"),
    [
        ("above", 5.01, 1, True),
        ("above", 5, 1, False),
        ("below", 4.99, 1, True),
        ("below", 5, 1, False),
        ("above", None, 1, False),
        ("above", 9, 9, False),
    ],
)
def test_breached(comparison: str, value: float | None, calls: int, breached: bool) -> None:
    (parsed,) = load_rules(
        {"LLM_LOGS_ALERTS": [rule(comparison=comparison, min_calls=10 if calls == 9 else 0)]}
    )
    assert parsed.breached(value, calls) is breached


@pytest.mark.parametrize(
    ("window", "words"),
    [
        ("1w", "1 week"),
        ("14d", "2 weeks"),
        ("36h", "36 hours"),
        ("90m", "90 minutes"),
        ("1m", "1 minute"),
        ("1d", "1 day"),
    ],
)
def test_windows_in_words(window: str, words: str) -> None:
    (parsed,) = load_rules({"LLM_LOGS_ALERTS": [rule(window=window)]})
    assert parsed.describe() == f"cost above 5 over {words}"
