"""Alerts: the state of each rule (per dimension value), and the history of its firings.

The state row is what makes an alert fire once: a check moves it from ``ok``
to ``firing`` (or back) with a conditional ``UPDATE ... WHERE state = 'ok'``,
and only the check whose update changed the row sends the notification, so
two workers checking at the same moment never send it twice. The rules
themselves live in the app's config, not here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from .base import Base
from .base import ErrorText
from .base import utcnow

OK = "ok"
FIRING = "firing"

#: Event kinds.
FIRED = "fired"
RESOLVED = "resolved"

#: An event's delivery: being sent, sent, or given up after its retries.
PENDING = "pending"
SENT = "sent"
FAILED = "failed"


class AlertState(Base):
    """Whether one rule is firing, for the calls as a whole or for one dimension value."""

    __tablename__ = "llm_logs_alert_states"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(255))
    #: The rule's ``per`` dimension, ``""`` for a rule over all its calls.
    dimension: Mapped[str] = mapped_column(String(50), default="")
    #: The dimension's value (a user id, a model), ``""`` for a rule over all its calls.
    key: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(20), default=OK)
    #: The value measured when the state last changed.
    value: Mapped[float | None] = mapped_column(Float)
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("rule", "dimension", "key"),)


class AlertEvent(Base):
    """One firing or resolution, with what was measured and how its notification went."""

    __tablename__ = "llm_logs_alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(255))
    dimension: Mapped[str] = mapped_column(String(50), default="")
    key: Mapped[str] = mapped_column(String(255), default="")
    #: ``fired`` or ``resolved``.
    kind: Mapped[str] = mapped_column(String(20))
    metric: Mapped[str] = mapped_column(String(20))
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    comparison: Mapped[str] = mapped_column(String(10))
    #: The window measured: the traces behind the event started in it.
    window_start: Mapped[dt.datetime]
    window_end: Mapped[dt.datetime]
    #: The rule's filters when it was evaluated (for the link to its traces).
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: ``pending``, ``sent`` or ``failed``.
    delivery: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(ErrorText)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None]

    __table_args__ = (
        # The history, newest first; the retention purge, oldest first.
        Index("ix_llm_logs_alert_events_created_at", "created_at"),
        Index("ix_llm_logs_alert_events_rule_created_at", "rule", "created_at"),
    )
