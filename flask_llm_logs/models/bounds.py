"""When each session and each user has traces: the first and last trace's start.

The traces are partitioned by their start on PostgreSQL (see
:mod:`flask_llm_logs.partitions`), and a session's or a user's first trace
may be in any partition: the totals of a session or a user read every
partition without a range. The writer keeps these bounds in the traces'
transaction, so a range from them reads only the partitions that can hold
the key's traces (:mod:`flask_llm_logs.tracing.bounds`).

They are bounds, not the exact first and last start: the writer only
widens them (with every record, also a start record it did not store), and
deleting a trace leaves them as they are. No row means "unknown": the
reader then takes no range. The purge deletes the rows whose last trace is
older than its cutoff.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from .base import Base


class _Bounds:
    """The columns both tables have beside their key."""

    first_at: Mapped[dt.datetime]
    last_at: Mapped[dt.datetime]


class SessionBounds(_Bounds, Base):
    """The first and last start of a session's traces (at least as wide)."""

    __tablename__ = "llm_logs_sessions"

    session_id: Mapped[str] = mapped_column(String(255), primary_key=True)

    # The purge's delete of the sessions that ended before its cutoff.
    __table_args__ = (Index("ix_llm_logs_sessions_last_at", "last_at"),)


class UserBounds(_Bounds, Base):
    """The first and last start of a user's traces (at least as wide)."""

    __tablename__ = "llm_logs_users"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)

    __table_args__ = (Index("ix_llm_logs_users_last_at", "last_at"),)
