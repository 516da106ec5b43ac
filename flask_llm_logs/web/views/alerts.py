"""Alerts: the rules of ``LLM_LOGS_ALERTS``, what fires now, and the history of firings.

Read-only: rules live in the app's config, and state changes only by the
checks (the ``check_alerts`` job, ``flask llm-logs alerts check``).
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask import request
from flask import url_for

from ...alerts.links import trace_args
from ...models import AlertEvent
from ...models.base import utcnow
from ...state import get_state
from .. import alert_queries
from ..blueprint import blueprint
from ..params import int_arg
from ..params import text_arg


def event_traces_url(event: AlertEvent) -> str:
    """The traces behind an event: its rule's filters, its value, its window."""
    args: dict[str, Any] = trace_args(
        event.filters, event.dimension or None, event.key, (event.window_start, event.window_end)
    )
    return url_for("llm_logs.traces", **args)


@blueprint.get("/alerts")
def alerts() -> str:
    state = get_state()
    rule = text_arg(request.args, "rule")
    before = int_arg(request.args, "before")
    now = utcnow()

    def traces_url(view: alert_queries.RuleView, key: str | None) -> str:
        args: dict[str, Any] = trace_args(view.rule.filters, view.rule.per, key, view.window(now))
        return url_for("llm_logs.traces", **args)

    return render_template(
        "llm_logs/alerts/index.html",
        rules=alert_queries.rule_views(state.read_session, state.alert_rules),
        page=alert_queries.history(
            state.read_session, state.settings.page_size, rule=rule, before=before
        ),
        rule_filter=rule,
        first_page=before is None,
        traces_url=traces_url,
        event_traces_url=event_traces_url,
    )
