"""Evaluating the rules: fire once when a condition starts, once when it ends.

Each check measures every rule over its window (``metrics()``, read from the
aggregate table), compares the value with the rule's threshold, and moves the
rule's state row (one per value of its ``per`` dimension) from ``ok`` to
``firing`` or back. The move is a conditional ``UPDATE ... WHERE state =
'ok'`` in a transaction of its own, with the event written in the same
transaction: when two workers check at once, the second one's update waits
for the first one's row lock, then matches no row, so only the first sends
the notification. Notifications are sent after the commit, never while a
lock is held (a webhook may take its timeout several times over).

A notification is sent at most once: if the process dies between the commit
and the send, the event stays ``pending`` in the history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine

from ..insights.metrics import metrics
from ..log import get_logger
from ..models import AlertEvent
from ..models import AlertState
from ..models.alerts import FAILED
from ..models.alerts import FIRED
from ..models.alerts import FIRING
from ..models.alerts import OK
from ..models.alerts import RESOLVED
from ..models.alerts import SENT
from ..models.base import utcnow
from ..state import get_state
from .delivery import Alert
from .delivery import deliver
from .links import traces_path
from .rules import AlertRule

states = cast(sa.Table, AlertState.__table__)
events = cast(sa.Table, AlertEvent.__table__)

#: What gives the numbers: :func:`flask_llm_logs.metrics` (rows of group keys and aggregates).
Measure = Callable[..., list[dict[str, Any]]]


@dataclasses.dataclass
class CheckResult:
    """What one check did, for the job's result and the command's report."""

    rules: int = 0
    #: ``rule`` or ``rule[value]`` for a per-dimension rule.
    fired: list[str] = dataclasses.field(default_factory=list)
    resolved: list[str] = dataclasses.field(default_factory=list)
    #: Notifications that failed after their retries (they are in the history).
    failed_notifications: int = 0
    #: Rule name -> why it could not be evaluated.
    errors: dict[str, str] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def measured(rule: AlertRule, row: Mapping[str, Any] | None) -> tuple[float | None, int]:
    """The rule's metric in a row of ``metrics()``, and the calls behind it.

    No row means no call in the window: nothing was spent, but there is no
    error rate or latency to speak of (``None``, which never fires).
    """
    if row is None:
        return (0.0 if rule.metric in ("cost", "calls", "tokens") else None), 0
    calls = int(row["calls"] or 0)
    if rule.metric == "tokens":
        value: Any = (row["input_tokens"] or 0) + (row["output_tokens"] or 0)
    else:
        column = {"p95_duration": "p95_ms"}.get(rule.metric, rule.metric)
        value = row[column]
        if value is None and rule.metric in ("cost", "calls"):
            value = 0
    return (None if value is None else float(value)), calls


def _measure_rule(
    measure: Measure, rule: AlertRule, now: dt.datetime
) -> dict[str, tuple[float | None, int]]:
    """Key (the ``per`` dimension's value, ``""`` without one) -> (value, calls)."""
    rows = measure(
        since=now - rule.window,
        until=now,
        group_by=(rule.per,) if rule.per else (),
        filters=dict(rule.filters),
    )
    if rule.per is None:
        return {"": measured(rule, rows[0] if rows else None)}
    # Calls without a value for the dimension (no user) are nobody's to alert on.
    return {str(row[rule.per]): measured(rule, row) for row in rows if row[rule.per] is not None}


def _firing_keys(connection: Connection, rule: AlertRule) -> set[str]:
    query = sa.select(states.c.key).where(
        states.c.rule == rule.name,
        states.c.dimension == (rule.per or ""),
        states.c.state == FIRING,
    )
    return set(connection.scalars(query))


def _insert_state(dialect: str) -> Any:
    """An insert of a state row that does nothing when the row exists."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(states).on_conflict_do_nothing(
        index_elements=[states.c.rule, states.c.dimension, states.c.key]
    )


def _move(
    connection: Connection,
    rule: AlertRule,
    key: str,
    value: float | None,
    *,
    firing: bool,
    window: tuple[dt.datetime, dt.datetime],
) -> int | None:
    """Move one state row to firing (or back to ok); the new event's id if this call moved it.

    ``None`` when the row was already there: another worker moved it first.
    """
    dimension = rule.per or ""
    now = window[1]
    if firing:
        connection.execute(
            _insert_state(connection.dialect.name),
            {"rule": rule.name, "dimension": dimension, "key": key, "state": OK, "changed_at": now},
        )
    moved = connection.execute(
        sa.update(states)
        .where(
            states.c.rule == rule.name,
            states.c.dimension == dimension,
            states.c.key == key,
            states.c.state == (OK if firing else FIRING),
        )
        .values(state=FIRING if firing else OK, value=value, changed_at=now)
    )
    if moved.rowcount != 1:
        return None
    inserted = connection.execute(
        sa.insert(events)
        .returning(events.c.id)
        .values(
            rule=rule.name,
            dimension=dimension,
            key=key,
            kind=FIRED if firing else RESOLVED,
            metric=rule.metric,
            value=value,
            threshold=rule.threshold,
            comparison=rule.comparison,
            window_start=window[0],
            window_end=window[1],
            filters=dict(rule.filters),
            created_at=now,
        )
    )
    event_id: int = inserted.scalar_one()
    return event_id


def _alert(
    rule: AlertRule,
    event_id: int,
    key: str,
    value: float | None,
    firing: bool,
    window: tuple[dt.datetime, dt.datetime],
    url_prefix: str,
) -> Alert:
    dimension_value = key if rule.per else None
    return Alert(
        id=event_id,
        rule=rule.name,
        status=FIRING if firing else RESOLVED,
        description=rule.describe(),
        metric=rule.metric,
        value=value,
        threshold=rule.threshold,
        comparison=rule.comparison,
        dimension=rule.per,
        dimension_value=dimension_value,
        filters=dict(rule.filters),
        window_start=window[0],
        window_end=window[1],
        traces_url=traces_path(url_prefix, rule.filters, rule.per, dimension_value, window),
    )


def _send(rule: AlertRule, alert: Alert, engine: Engine) -> bool:
    """Deliver ``alert`` and record how it went on its event; whether it was sent."""
    delivery = deliver(rule, alert)
    with engine.begin() as connection:
        connection.execute(
            sa.update(events)
            .where(events.c.id == alert.id)
            .values(
                delivery=SENT if delivery.sent else FAILED,
                attempts=delivery.attempts,
                error=delivery.error,
                delivered_at=utcnow() if delivery.sent else None,
            )
        )
    return delivery.sent


def check_rule(rule: AlertRule, measure: Measure, now: dt.datetime, result: CheckResult) -> None:
    """Evaluate one rule, move its states, send its notifications; add to ``result``.

    Each move is sent as soon as it is committed, so a failure further on
    (another value's move) leaves no committed event unsent.
    """
    state = get_state()
    engine = state.engine
    values = _measure_rule(measure, rule, now)
    breaching = {key for key, (value, calls) in values.items() if rule.breached(value, calls)}
    with engine.connect() as connection:
        firing_now = _firing_keys(connection, rule)
    window = (now - rule.window, now)
    # Sorted: two workers take the rows' locks in the same order.
    for key, firing in sorted(
        [(key, True) for key in breaching - firing_now]
        + [(key, False) for key in firing_now - breaching]
    ):
        value = values.get(key, measured(rule, None))[0]
        with engine.begin() as connection:
            event_id = _move(connection, rule, key, value, firing=firing, window=window)
        if event_id is None:
            continue  # another check moved it first, and sends it
        (result.fired if firing else result.resolved).append(
            f"{rule.name}[{key}]" if rule.per else rule.name
        )
        alert = _alert(rule, event_id, key, value, firing, window, state.settings.url_prefix)
        if not _send(rule, alert, engine):
            result.failed_notifications += 1


def check_alerts(now: dt.datetime | None = None, *, measure: Measure = metrics) -> CheckResult:
    """Evaluate every rule of ``LLM_LOGS_ALERTS`` at ``now``; needs an app context.

    A rule that cannot be evaluated (the database is down, a bug) is logged
    and reported in the result; the other rules are checked all the same.

    :param now: the end of every rule's window; default now.
    :param measure: where the numbers come from: :func:`flask_llm_logs.metrics`.
    """
    now = now or utcnow()
    rules = get_state().alert_rules
    result = CheckResult(rules=len(rules))
    for rule in rules:
        try:
            check_rule(rule, measure, now, result)
        except Exception as error:
            get_logger(__name__).exception("alert %r could not be checked", rule.name)
            result.errors[rule.name] = f"{error.__class__.__name__}: {error}"
    return result
