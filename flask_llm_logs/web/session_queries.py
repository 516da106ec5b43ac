"""The UI's reads of sessions and users: traces grouped by ``session_id`` and ``user_id``.

Neither has a table of its own: a session is the traces that share a
``session_id``, a user the traces that share a ``user_id``. Aggregating
every session to sort them would read the whole traces table on each page,
so a page of sessions is found from the traces, newest first: the traces
that are the last of their session (nothing later in the same session,
probed through ``ix_llm_logs_traces_session_id_started_at``), keyset-
paginated on that trace's ``(started_at, id)`` like the traces list (and read,
like it, from the last day first). Only the sessions on the page are then
aggregated, over all their traces: a session's first trace may be in any
partition, so the totals of sessions and of a user are read within the time
bounds the writer keeps of each (:func:`_started_within`). Every function runs
a bounded number of queries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Collection
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import aliased
from werkzeug.exceptions import NotFound

from ..models import SessionBounds
from ..models import Span
from ..models import Trace
from ..models import UserBounds
from ..models.base import CLOCK_SLACK
from ..models.base import EARLIEST
from ..models.base import LATEST
from .params import decode_cursor
from .params import next_page
from .trace_queries import DbSession
from .trace_queries import Window
from .trace_queries import newest_first
from .trace_queries import past_cursor

if TYPE_CHECKING:
    from .trace_queries import AnySelect


@dataclasses.dataclass(frozen=True, slots=True)
class SessionSummary:
    session_id: str
    first_at: dt.datetime
    last_at: dt.datetime
    traces: int
    input_tokens: int
    output_tokens: int
    cost: float | None
    #: The session's user (the first by id when several users share it).
    user_id: str | None
    users: int


@dataclasses.dataclass
class SessionPage:
    sessions: list[SessionSummary]
    next_after: str | None


def _started_within(
    key: InstrumentedAttribute[str], values: Collection[str]
) -> list[sa.ColumnElement[bool]]:
    """The traces' start within the time bounds of the sessions or users ``values``
    (distinct; ``key``: ``SessionBounds.session_id`` or ``UserBounds.user_id``).

    The range from the earliest first start to the latest last start of
    them all, or none if one of them has no bounds stored (the purge deleted
    them, or its traces were stored another way than by the writer). The
    bounds are read in the same statement, by two scalar subqueries:
    PostgreSQL runs them first and leaves out the partitions out of range
    as the statement runs (``EXPLAIN ANALYZE`` shows them never executed),
    where another round trip would have made a query more per page.
    """
    bounds = key.class_
    all_known = sa.func.count() == len(values)

    def bound(
        aggregate: sa.Function[dt.datetime], unknown: dt.datetime
    ) -> sa.ColumnElement[dt.datetime]:
        known = sa.select(sa.case((all_known, aggregate))).where(key.in_(values))
        return sa.func.coalesce(known.scalar_subquery(), sa.literal(unknown, Trace.started_at.type))

    return [
        Trace.started_at >= bound(sa.func.min(bounds.first_at), EARLIEST),
        Trace.started_at <= bound(sa.func.max(bounds.last_at), LATEST),
    ]


def _summaries(session: DbSession, session_ids: Collection[str]) -> dict[str, SessionSummary]:
    """The sessions ``session_ids`` (distinct), aggregated over their traces (one query)."""
    rows = session.execute(
        sa.select(
            Trace.session_id.label("session_id"),
            sa.func.min(Trace.started_at).label("first_at"),
            sa.func.max(Trace.started_at).label("last_at"),
            sa.func.count().label("traces"),
            sa.func.coalesce(sa.func.sum(Trace.input_tokens), 0).label("input_tokens"),
            sa.func.coalesce(sa.func.sum(Trace.output_tokens), 0).label("output_tokens"),
            sa.func.sum(Trace.cost).label("cost"),
            sa.func.min(Trace.user_id).label("user_id"),
            sa.func.count(sa.distinct(Trace.user_id)).label("users"),
        )
        .where(
            Trace.session_id.in_(session_ids),
            *_started_within(SessionBounds.session_id, session_ids),
        )
        .group_by(Trace.session_id)
    )
    return {row.session_id: SessionSummary(**row._asdict()) for row in rows}


def list_sessions(
    session: DbSession, page_size: int, *, user_id: str | None = None, after: str | None = None
) -> SessionPage:
    """One page of sessions, the most recently active first: two queries, three when the
    last day's traces do not make a page (see :func:`.trace_queries.newest_first`).

    With ``user_id``, the sessions of that user, ordered by that user's last trace.
    """
    later = aliased(Trace)
    newer_in_session = [
        later.session_id == Trace.session_id,
        later.started_at >= Trace.started_at,
        sa.tuple_(later.started_at, later.id) > sa.tuple_(Trace.started_at, Trace.id),
    ]
    query = sa.select(Trace.session_id, Trace.started_at, Trace.id).where(
        Trace.session_id.is_not(None)
    )
    if user_id is not None:
        query = query.where(Trace.user_id == user_id)
        newer_in_session.append(later.user_id == user_id)
    newest = None
    if after:
        query = query.where(past_cursor(session, after))
        newest = decode_cursor(after)[0]
    query = query.order_by(Trace.started_at.desc(), Trace.id.desc())

    def lasts_within(window: Window) -> AnySelect:
        # A later trace of the session is in the window too: the same range on
        # its start lets the probe read the window's partitions only.
        newer = sa.exists().where(*newer_in_session, *Window(window.start).of(later.started_at))
        return query.where(~newer, *window.of(Trace.started_at))

    lasts, next_after = next_page(
        newest_first(session, lasts_within, page_size + 1, newest=newest), page_size
    )
    ids = [row.session_id for row in lasts]
    summaries = _summaries(session, ids) if ids else {}
    return SessionPage([summaries[i] for i in ids if i in summaries], next_after)


@dataclasses.dataclass
class SessionDetail:
    summary: SessionSummary
    #: A page of the session's traces, oldest first.
    traces: list[Trace]
    #: Trace id -> its LLM spans in time order, with their input and output.
    calls: dict[uuid.UUID, list[Span]]
    next_after: str | None


def session_detail(
    session: DbSession, session_id: str, page_size: int, after: str | None = None
) -> SessionDetail:
    """A session as the conversation it was: three queries.

    Its traces oldest first, a page at a time (``after`` continues where the
    previous page ended), each with its LLM calls.
    """
    summary = _summaries(session, [session_id]).get(session_id)
    if summary is None:
        raise NotFound(f"There is no session {session_id!r}.")
    # The summary's first and last start: the range of the partitions the
    # session's traces are in, and its spans from (a little before) the first.
    query = sa.select(Trace).where(
        Trace.session_id == session_id,
        Trace.started_at.between(summary.first_at, summary.last_at),
    )
    if after:
        query = query.where(past_cursor(session, after, older=False))
    query = query.order_by(Trace.started_at, Trace.id).limit(page_size + 1)
    traces, next_after = next_page(session.scalars(query), page_size)
    calls: dict[uuid.UUID, list[Span]] = {trace.id: [] for trace in traces}
    if traces:
        spans = session.scalars(
            sa.select(Span)
            .where(
                Span.trace_id.in_(list(calls)),
                Span.kind == "llm",
                Span.started_at >= traces[0].started_at - CLOCK_SLACK,
            )
            .order_by(Span.started_at, Span.id)
        )
        for span in spans:
            calls[span.trace_id].append(span)
    return SessionDetail(summary, traces, calls, next_after)


@dataclasses.dataclass(frozen=True, slots=True)
class UserSummary:
    user_id: str
    traces: int
    sessions: int
    input_tokens: int
    output_tokens: int
    cost: float | None
    first_at: dt.datetime
    last_at: dt.datetime


def user_summary(session: DbSession, user_id: str) -> UserSummary:
    """What one user's traces add up to (one query); a 404 for a user without traces."""
    row = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count(sa.distinct(Trace.session_id)),
            sa.func.coalesce(sa.func.sum(Trace.input_tokens), 0),
            sa.func.coalesce(sa.func.sum(Trace.output_tokens), 0),
            sa.func.sum(Trace.cost),
            sa.func.min(Trace.started_at),
            sa.func.max(Trace.started_at),
        ).where(Trace.user_id == user_id, *_started_within(UserBounds.user_id, [user_id]))
    ).one()
    if not row[0]:
        raise NotFound(f"There are no traces of user {user_id!r}.")
    return UserSummary(user_id, *row)
