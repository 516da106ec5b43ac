"""The retention purge trims the alert history with the traces its links lead to."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from flask_llm_logs.models import AlertEvent
from flask_llm_logs.state import get_state
from flask_llm_logs.tracing.retention import purge_old_traces
from tests.helpers.alerts import events


def event(days_ago: int) -> AlertEvent:
    when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days_ago)
    return AlertEvent(
        rule=f"{days_ago} days ago",
        kind="fired",
        metric="cost",
        value=6.0,
        threshold=5.0,
        comparison="above",
        window_start=when - dt.timedelta(hours=1),
        window_end=when,
        created_at=when,
    )


def test_the_purge_deletes_alert_events_older_than_the_retention(app: Flask) -> None:
    session = get_state(app).session
    session.add_all([event(40), event(31), event(29), event(1)])
    session.commit()
    purge_old_traces()
    assert [e.rule for e in events(app)] == ["29 days ago", "1 days ago"]
