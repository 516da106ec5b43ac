"""The alerts page's reads: which rules fire (and for which values), and the history.

Two queries whatever the number of rules and events: the firing states of
the configured rules, and one page of the history, newest first, paginated
by id (``before=``), optionally for one rule.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa

from ..alerts.delivery import webhook_host
from ..alerts.rules import AlertRule
from ..models import AlertEvent
from ..models import AlertState
from ..models.alerts import FIRING
from .trace_queries import DbSession


@dataclasses.dataclass
class RuleView:
    rule: AlertRule
    #: The rule's firing states: one without ``per``, one per firing value with it.
    firing: list[AlertState]

    @property
    def notify(self) -> str:
        """Where the rule sends: a webhook's host (never its path, which may hold a token)."""
        if self.rule.webhook is not None:
            return f"webhook to {webhook_host(self.rule.webhook)}"
        name = getattr(self.rule.notify, "__qualname__", None) or type(self.rule.notify).__name__
        return f"{name}()"

    def window(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        return now - self.rule.window, now


def rule_views(session: DbSession, rules: tuple[AlertRule, ...]) -> list[RuleView]:
    """Each configured rule with its firing states, in the config's order (one query)."""
    firing: dict[str, list[AlertState]] = {rule.name: [] for rule in rules}
    if rules:
        query = (
            sa.select(AlertState)
            .where(AlertState.rule.in_(list(firing)), AlertState.state == FIRING)
            .order_by(AlertState.changed_at, AlertState.key)
        )
        per = {rule.name: rule.per or "" for rule in rules}
        for state in session.scalars(query):
            # A rule whose ``per`` changed since leaves states of the old dimension.
            if state.dimension == per[state.rule]:
                firing[state.rule].append(state)
    return [RuleView(rule, firing[rule.name]) for rule in rules]


@dataclasses.dataclass
class HistoryPage:
    events: list[AlertEvent]
    #: The ``before`` of the next (older) page; ``None`` on the last.
    next_before: int | None


def history(
    session: DbSession, page_size: int, *, rule: str | None = None, before: int | None = None
) -> HistoryPage:
    """One page of firings and resolutions, newest first (one query)."""
    query = sa.select(AlertEvent)
    if rule is not None:
        query = query.where(AlertEvent.rule == rule)
    if before is not None:
        query = query.where(AlertEvent.id < before)
    rows = list(session.scalars(query.order_by(AlertEvent.id.desc()).limit(page_size + 1)))
    if len(rows) > page_size:
        rows = rows[:page_size]
        return HistoryPage(rows, rows[-1].id)
    return HistoryPage(rows, None)
