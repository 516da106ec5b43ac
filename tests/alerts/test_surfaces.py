"""The check as an RQ job (what ``rq cron`` queues) and as ``flask llm-logs alerts check``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import rq
from flask import Flask

from flask_llm_logs import LlmLogs
from flask_llm_logs.alerts.delivery import Alert
from flask_llm_logs.jobs import alerts_job_id
from flask_llm_logs.jobs import queue_for
from flask_llm_logs.state import get_state
from tests.helpers.alerts import WebhookReceiver
from tests.helpers.alerts import record_calls


def spend_rule(notify: object) -> dict[str, object]:
    return {"name": "spend", "metric": "cost", "window": "1h", "threshold": 5, "notify": notify}


def recent_spend(app: Flask) -> None:
    record_calls(app, dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5), {"cost": 6.0})


def test_the_job_fires_once(make_app: Callable[..., Flask], redis_url: str) -> None:
    sent: list[Alert] = []
    app = make_app(LLM_LOGS_ALERTS=[spend_rule(sent.append)])
    recent_spend(app)
    queue = queue_for(get_state(app))
    try:
        for _ in range(2):
            job = LlmLogs().enqueue_alerts_check(app)
            assert job.id == alerts_job_id(queue.name)
            # In-process worker: the job runs in the app initialised last, as under rq worker.
            rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)
            assert job.get_status() == "finished", job.latest_result()
        assert [alert.status for alert in sent] == ["firing"]
        assert job.return_value() == {
            "rules": 1,
            "fired": [],
            "resolved": [],
            "failed_notifications": 0,
            "errors": {},
        }
    finally:
        queue.delete(delete_jobs=True)
        queue.connection.close()


def test_the_command_reports_text_and_json(make_app: Callable[..., Flask]) -> None:
    sent: list[Alert] = []
    app = make_app(LLM_LOGS_ALERTS=[spend_rule(sent.append)])
    recent_spend(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["llm-logs", "alerts", "check"])
    assert result.exit_code == 0, result.output
    assert result.output == "Checked 1 rule: 1 fired (spend), 0 resolved.\n"
    result = runner.invoke(args=["llm-logs", "alerts", "check", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "rules": 1,
        "fired": [],
        "resolved": [],
        "failed_notifications": 0,
        "errors": {},
    }
    assert len(sent) == 1


def test_the_command_fails_when_a_notification_fails(
    make_app: Callable[..., Flask], webhook: WebhookReceiver
) -> None:
    app = make_app(LLM_LOGS_ALERTS=[{**spend_rule(webhook.url), "retries": 0}])
    webhook.statuses = [503]
    recent_spend(app)
    result = app.test_cli_runner().invoke(args=["llm-logs", "alerts", "check"])
    assert result.exit_code == 1
    assert result.output == (
        "Checked 1 rule: 1 fired (spend), 0 resolved.\n"
        "1 notification failed (see the alerts page).\n"
    )
