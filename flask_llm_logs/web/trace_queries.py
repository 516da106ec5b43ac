"""The UI's reads of traces and spans: filters, keyset pagination and search.

Every function runs a bounded number of queries, whatever the page shows.
Lists are paginated by keyset (``WHERE (started_at, id) < cursor``), which
costs the same on page 1 and page 20,000 and needs no ``COUNT(*)``, and read
the last day before the page's start first (:func:`newest_first`): on
PostgreSQL, whose traces are partitioned by time, a range on ``started_at``
in every query (docs/partitions.rst).
Filters are parsed from the query string (see :mod:`.params`) against a
whitelist.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import uuid
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple
from typing import Protocol
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Session
from sqlalchemy.orm import defer
from sqlalchemy.orm import scoped_session
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import NotFound

from ..models import BatchRequest
from ..models import PromptRecord
from ..models import PromptVersion
from ..models import Score
from ..models import Span
from ..models import Trace
from ..models.base import CLOCK_SLACK
from ..models.base import ID_TIME_SLACK
from ..models.base import id_time
from ..models.base import naive_utc
from ..models.base import utcnow
from ..state import get_state
from ..tracing import search
from .params import datetime_arg
from .params import decode_cursor
from .params import float_arg
from .params import int_arg
from .params import next_page
from .params import text_arg

#: What views pass in (``state.session``) and what tests may pass.
DbSession = Session | scoped_session[Any]

if TYPE_CHECKING:
    from typing import TypeAlias

    from typing_extensions import Unpack

    #: A ``SELECT`` of any columns.
    AnySelect: TypeAlias = sa.Select[Unpack[tuple[Any, ...]]]

TRACE_STATUSES = ("running", "completed", "error", "incomplete")


def _stored_time(session: DbSession, value: dt.datetime) -> dt.datetime:
    """``value`` (naive UTC) as the column compares it on this database."""
    if session.get_bind(Trace).dialect.name == "postgresql":
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def column_time(session: DbSession, value: dt.datetime) -> dt.datetime:
    """``value`` (naive UTC, or aware in any zone) as the columns compare it here."""
    return _stored_time(session, naive_utc(value))


def past_cursor(session: DbSession, after: str, *, older: bool = True) -> sa.ColumnElement[bool]:
    """The traces after the page cursor ``after``: older ones for a list shown newest
    first, newer ones for one shown oldest first (a session's conversation)."""
    started_at, row_id = decode_cursor(after)
    return past_row(_stored_time(session, started_at), row_id, older=older)


def past_row(at: dt.datetime, row_id: uuid.UUID, *, older: bool = True) -> sa.ColumnElement[bool]:
    """The traces after the one at ``(at, row_id)`` in the keyset order ``(started_at, id)``."""
    cursor = sa.tuple_(sa.literal(at, Trace.started_at.type), sa.literal(row_id, Trace.id.type))
    position = sa.tuple_(Trace.started_at, Trace.id)
    # The plain comparison beside the row one lets PostgreSQL skip the
    # partitions on the far side of the cursor (it prunes on no row comparison).
    if older:
        return sa.and_(Trace.started_at <= at, position < cursor)
    return sa.and_(Trace.started_at >= at, position > cursor)


#: How far back the first read of a page newest first goes, from the newest
#: time the page may show: a day's traces are in one or two partitions (of a
#: day or a month), and in an app with traffic they fill a page. Only a page
#: they do not fill reads the older partitions, in a second query.
RECENT = dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Window:
    """A slice of time, ``start <= t < end``, either end open (``None``)."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def of(self, column: InstrumentedAttribute[dt.datetime]) -> list[sa.ColumnElement[bool]]:
        """The slice as conditions on ``column``: ranges PostgreSQL prunes partitions on."""
        conditions = []
        if self.start is not None:
            conditions.append(column >= self.start)
        if self.end is not None:
            conditions.append(column < self.end)
        return conditions


def traces_within(
    query: AnySelect, where: Callable[[Window], list[sa.ColumnElement[bool]]]
) -> Callable[[Window], AnySelect]:
    """``query`` over the traces ``where`` selects in a window: what :func:`newest_first`
    reads."""
    return lambda window: query.where(*where(window))


def newest_first(
    session: DbSession,
    select: Callable[[Window], AnySelect],
    limit: int,
    *,
    newest: dt.datetime | None = None,
    oldest: dt.datetime | None = None,
) -> list[sa.Row[Any]]:
    """The first ``limit`` rows of ``select(window)`` (ordered by the partition key,
    newest first), read from the last :data:`RECENT` before ``newest`` (now when
    ``None``) first, and from before it only when those do not make ``limit``.

    The rows are the ones one query without a window would return, in its
    order: every row of the recent slice comes before every older one. The
    slice's range lets PostgreSQL read one or two partitions instead of
    starting a scan in each; a filter reaching no further back than ``oldest``
    has its range already, and SQLite has no partitions: one query then.
    """
    now = naive_utc(utcnow())
    start = _stored_time(session, min(now, naive_utc(newest or now)) - RECENT)
    partitioned = session.get_bind(Trace).dialect.name == "postgresql"
    if not partitioned or (oldest is not None and _stored_time(session, oldest) >= start):
        return list(session.execute(select(Window()).limit(limit)))
    rows = list(session.execute(select(Window(start=start)).limit(limit)))
    if len(rows) < limit:
        rows.extend(session.execute(select(Window(end=start)).limit(limit - len(rows))))
    return rows


def find_trace(session: DbSession, trace_id: uuid.UUID) -> Trace | None:
    """The trace ``trace_id``, looked up in the partitions around the time in its id.

    Our ids are UUID 7, whose first 48 bits are the milliseconds they were
    made at, the moment the trace started; so the lookup reads one or two
    partitions instead of probing every one. An id from elsewhere (an
    OpenTelemetry trace id), or a row stored with another time, is then
    looked up in all of them.
    """
    made = id_time(trace_id)
    if made is not None:
        made = _stored_time(session, made.replace(tzinfo=None))
        found = session.scalars(
            sa.select(Trace).where(
                Trace.id == trace_id,
                Trace.started_at.between(made - ID_TIME_SLACK, made + ID_TIME_SLACK),
            )
        ).first()
        if found is not None:
            return found
    return session.get(Trace, trace_id)


def made_since(session: DbSession, moment: dt.datetime) -> Window:
    """Where the rows (spans, scores) made from ``moment`` on (naive UTC or aware, by
    another host's clock) are: from ``moment`` less :data:`CLOCK_SLACK` on.

    A trace's rows are not older than it: ``made_since(session, trace.started_at)``.
    """
    return Window(column_time(session, moment) - CLOCK_SLACK)


def running_within(
    session: DbSession, start: dt.datetime, end: dt.datetime | None = None
) -> Window:
    """When the traces that ran at some time from ``start`` to ``end`` (naive UTC or
    aware, by another host's clock: a span's start, a prompt version's creation)
    started: a range on their partition key.

    A trace starts no later than its spans (less :data:`CLOCK_SLACK`), and
    runs no longer than ``LLM_LOGS_INCOMPLETE_AFTER``: past that the purge
    marks it incomplete, its end record lost. A trace that did run longer
    (a worker's hours-long agent loop, with a limit set shorter) is left
    out of what it did after that: the price of reading a day or two of
    partitions instead of every one.
    """
    longest = get_state().settings.incomplete_after
    last = None if end is None else column_time(session, end) + CLOCK_SLACK
    return Window(column_time(session, start) - CLOCK_SLACK - longest, last)


@dataclasses.dataclass(frozen=True)
class TraceFilters:
    """The traces list's filters, parsed from the query string."""

    status: str | None = None
    name: str | None = None
    model: str | None = None
    #: Traces with a span served by this provider (``openai``, ``anthropic``, a host).
    provider: str | None = None
    #: A prompt's slug: traces that used any of its versions.
    prompt: str | None = None
    prompt_version: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    meta_key: str | None = None
    meta_value: str | None = None
    user: str | None = None
    session: str | None = None
    tag: str | None = None
    environment: str | None = None
    #: A score's name: traces that have one; with ``score_min`` and
    #: ``score_max``, one whose value is in that range.
    score: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    #: A score's name: traces that have none of that name (not reviewed yet).
    no_score: str | None = None
    q: str | None = None
    after: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> TraceFilters:
        status = text_arg(args, "status")
        if status is not None and status not in TRACE_STATUSES:
            raise BadRequest(f"status: must be one of {', '.join(TRACE_STATUSES)}.")
        meta_key, meta_value = text_arg(args, "meta_key"), text_arg(args, "meta_value")
        if (meta_key is None) != (meta_value is None):
            raise BadRequest("meta_key and meta_value: give both or neither.")
        since, until = datetime_arg(args, "since"), datetime_arg(args, "until")
        if since and until and since > until:
            raise BadRequest("since: later than until.")
        score = text_arg(args, "score")
        score_min, score_max = float_arg(args, "score_min"), float_arg(args, "score_max")
        if score is None and (score_min is not None or score_max is not None):
            raise BadRequest("score_min and score_max: give the score's name in score too.")
        if score_min is not None and score_max is not None and score_min > score_max:
            raise BadRequest("score_min: greater than score_max.")
        after = text_arg(args, "after")
        if after is not None:
            decode_cursor(after)
        return cls(
            status=status,
            name=text_arg(args, "name"),
            model=text_arg(args, "model"),
            provider=text_arg(args, "provider"),
            prompt=text_arg(args, "prompt"),
            prompt_version=int_arg(args, "prompt_version"),
            since=since,
            until=until,
            meta_key=meta_key,
            meta_value=meta_value,
            user=text_arg(args, "user"),
            session=text_arg(args, "session"),
            tag=text_arg(args, "tag"),
            environment=text_arg(args, "environment"),
            score=score,
            score_min=score_min,
            score_max=score_max,
            no_score=text_arg(args, "no_score"),
            q=text_arg(args, "q"),
            after=after,
        )

    def args(self, **changes: Any) -> dict[str, str]:
        """The non-empty filters as query-string arguments, for links."""
        values = dataclasses.replace(self, **changes)
        result = {}
        for field in dataclasses.fields(values):
            value = getattr(values, field.name)
            if value is not None:
                result[field.name] = value.isoformat() if hasattr(value, "isoformat") else value
        return result

    @property
    def active(self) -> bool:
        return any(v is not None for k, v in self.args().items() if k != "after")


def _metadata_condition(dialect: str, key: str, value: str) -> sa.ColumnElement[bool]:
    """``metadata[key] == value``, where ``value`` also matches as a JSON number or bool.

    A form field is always text, but ``metadata={"strategy_id": 42}`` stores a
    number: ``42`` matches both. ``NaN`` and ``1e309`` (infinite) are no JSON
    number any database stores, so they match as text only.
    """
    candidates: list[Any] = [value]
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if isinstance(parsed, float) and not math.isfinite(parsed):
        parsed = None
    if isinstance(parsed, (int, float, bool)):
        candidates.append(parsed)
    if dialect == "postgresql":
        column = sa.type_coerce(Trace.metadata_, JSONB)
        return sa.or_(*(column.contains({key: c}) for c in candidates))
    path = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    extracted = sa.func.json_extract(Trace.metadata_, path)
    sqlite_values = [int(c) if isinstance(c, bool) else c for c in candidates]
    return extracted.in_(sqlite_values)


def list_condition(
    dialect: str, column: InstrumentedAttribute[list[Any]], value: str
) -> sa.ColumnElement[bool]:
    """``value in column`` for a JSON list column (models, tags): JSONB containment
    through the column's GIN index on PostgreSQL."""
    if dialect == "postgresql":
        return sa.type_coerce(column, JSONB).contains([value])
    each = sa.func.json_each(column).table_valued("value")
    return sa.exists().where(each.c.value == value)


def _score_condition(filters: TraceFilters, related: Window) -> sa.ColumnElement[bool]:
    """Traces with a score named ``filters.score`` (in the range, if one is given),
    among the scores made in ``related``.

    Probes ``ix_llm_logs_scores_trace_id`` for each trace walked newest first,
    or collects the matching trace ids first when the planner finds that cheaper.
    """
    conditions = [
        Score.trace_id == Trace.id,
        Score.name == filters.score,
        *related.of(Score.created_at),
    ]
    if filters.score_min is not None:
        conditions.append(Score.value >= filters.score_min)
    if filters.score_max is not None:
        conditions.append(Score.value <= filters.score_max)
    return sa.exists().where(*conditions)


def _no_score_condition(name: str, related: Window) -> sa.ColumnElement[bool]:
    return ~sa.exists().where(
        Score.trace_id == Trace.id, Score.name == name, *related.of(Score.created_at)
    )


def _provider_condition(provider: str, related: Window) -> sa.ColumnElement[bool]:
    """Traces with a span of ``provider`` (among the spans started in ``related``).

    Traces keep no rollup of their providers: the newest traces are checked
    one by one through the spans' ``trace_id`` index, which finds a page
    quickly for the providers an app calls.
    """
    return sa.exists().where(
        Span.trace_id == Trace.id, Span.provider == provider, *related.of(Span.started_at)
    )


#: Below this many matching spans (the planner's estimate), a search first
#: collects the matching trace ids through the GIN index; above, it walks the
#: newest traces and stops at a page of matches. See docs/performance.rst.
SELECTIVE_SEARCH_ROWS = 50_000


def _matches(words: str) -> sa.ColumnElement[bool]:
    """Spans whose search words include all of ``words`` (a ``tsquery`` literal)."""
    return Span.search.op("@@")(sa.cast(sa.literal(words, sa.Text), TSQUERY))


def _estimated_matches(session: DbSession, words: str) -> int:
    """The planner's estimate of the spans matching ``words`` (no rows are read)."""
    explained = sa.select(sa.literal(1)).select_from(Span).where(_matches(words))
    compiled = explained.compile(session.get_bind(Span), compile_kwargs={"literal_binds": True})
    plan = session.execute(sa.text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def _search_condition(
    session: DbSession, dialect: str, q: str
) -> Callable[[Window], sa.ColumnElement[bool]]:
    """Traces with a span whose input or output holds the words of ``q``, among the spans
    started in the window given (the plan is chosen once, the window's range added to each
    query).

    PostgreSQL matches the words of ``q`` (cut as ``tracing.search`` cuts
    documents) through the GIN index ``ix_llm_logs_spans_search``. Which
    plan is fast depends on how common the words are, and the planner
    misjudges rare words (it assumes half a percent of the spans), so the
    choice is made here from its estimate: rare words collect their trace
    ids first (a materialized CTE over the index); common words let the
    newest traces be checked one by one, which finds a page of matches after
    a few hundred. SQLite looks for the same words in the spans' stored
    words with ``LIKE`` (no index: it reads every span).
    """
    if dialect == "postgresql":
        words = search.query(q)
        if words is None:  # no word (only punctuation, or only overlong runs): no match
            return lambda related: sa.false()
        matches = _matches(words)
        if _estimated_matches(session, words) < SELECTIVE_SEARCH_ROWS:

            def collected(related: Window) -> sa.ColumnElement[bool]:
                spans = sa.select(Span.trace_id).where(matches, *related.of(Span.started_at))
                found = spans.cte("matching_traces").prefix_with("MATERIALIZED")
                return Trace.id.in_(sa.select(found.c.trace_id))

            return collected
    else:
        patterns = search.like_patterns(q)
        if not patterns:
            return lambda related: sa.false()
        matches = sa.and_(*(Span.search.like(pattern) for pattern in patterns))
    return lambda related: Trace.id.in_(
        sa.select(Span.trace_id).where(matches, *related.of(Span.started_at))
    )


@dataclasses.dataclass
class TracePage:
    traces: list[Trace]
    #: Trace id -> batch id, for traces that came from a batch.
    batches: dict[uuid.UUID, int]
    next_after: str | None


def _prompt_version_ids(session: DbSession, slug: str) -> list[int]:
    """The ids of a prompt's versions, read first and passed as values.

    Given the values, PostgreSQL's statistics on
    ``ix_llm_logs_traces_prompt_version_id_started_at`` tell a rare version from a
    common one; given a join, it guesses (see ``prompt_queries.recent_traces``).
    """
    return list(
        session.scalars(
            sa.select(PromptVersion.id).join(PromptVersion.prompt).where(PromptRecord.slug == slug)
        )
    )


def trace_conditions(
    session: DbSession, filters: TraceFilters
) -> Callable[[Window], list[sa.ColumnElement[bool]]]:
    """The ``WHERE`` of the traces that ``filters`` select in a window of their start
    (``Window()``: all of them), without the page cursor.

    Made once per request and shared by the page, its totals and the CSV
    pages: a search estimates its plan (a query on PostgreSQL) and the prompt
    filter reads the prompt's version ids (another) while this is made, not
    for each window. The filters on the traces' spans and scores (provider,
    search, score) read them from a little before the earliest start the
    window and ``since`` leave (a trace's spans and scores are not older than
    it, see :func:`made_since`): a range that spares PostgreSQL their older
    partitions.
    """
    dialect = session.get_bind(Trace).dialect.name
    since = _stored_time(session, filters.since) if filters.since else None
    conditions: list[sa.ColumnElement[bool]] = []
    if filters.status:
        conditions.append(Trace.status == filters.status)
    if filters.name:
        conditions.append(Trace.name == filters.name)
    if filters.model:
        conditions.append(list_condition(dialect, Trace.models, filters.model))
    if filters.prompt:
        version_ids = _prompt_version_ids(session, filters.prompt)
        conditions.append(Trace.prompt_version_id.in_(version_ids))
    if filters.prompt_version is not None:
        conditions.append(Trace.prompt_version_id == filters.prompt_version)
    if since:
        conditions.append(Trace.started_at >= since)
    if filters.until:
        conditions.append(Trace.started_at <= _stored_time(session, filters.until))
    if filters.meta_key and filters.meta_value is not None:
        conditions.append(_metadata_condition(dialect, filters.meta_key, filters.meta_value))
    if filters.user:
        conditions.append(Trace.user_id == filters.user)
    if filters.session:
        conditions.append(Trace.session_id == filters.session)
    if filters.environment:
        conditions.append(Trace.environment == filters.environment)
    if filters.tag:
        conditions.append(list_condition(dialect, Trace.tags, filters.tag))
    searched = _search_condition(session, dialect, filters.q) if filters.q else None

    def within(window: Window) -> list[sa.ColumnElement[bool]]:
        starts = [start for start in (window.start, since) if start is not None]
        related = made_since(session, max(starts)) if starts else Window()
        result = [*conditions, *window.of(Trace.started_at)]
        if filters.provider:
            result.append(_provider_condition(filters.provider, related))
        if filters.score:
            result.append(_score_condition(filters, related))
        if filters.no_score:
            result.append(_no_score_condition(filters.no_score, related))
        if searched is not None:
            result.append(searched(related))
        return result

    return within


@dataclasses.dataclass(frozen=True)
class TraceTotals:
    """What the traces a filter selects add up to (their rollups), over every page."""

    traces: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost: float


def trace_totals(session: DbSession, filters: TraceFilters) -> TraceTotals:
    """The totals of every trace ``filters`` select (the page cursor aside): one aggregate
    query, one more for a search on PostgreSQL or the prompt filter.

    It reads every matching trace where the list stops at a page: a million
    traces take hundreds of milliseconds (docs/performance.rst), which is why
    the list's page loads them in a request of their own.
    """
    conditions = trace_conditions(session, filters)(Window())
    sums = (Trace.input_tokens, Trace.output_tokens, Trace.cached_tokens, Trace.cost)
    count, *totals = session.execute(
        sa.select(sa.func.count(), *(sa.func.sum(column) for column in sums)).where(*conditions)
    ).one()
    input_tokens, output_tokens, cached_tokens, cost = (value or 0 for value in totals)
    return TraceTotals(
        int(count), int(input_tokens), int(output_tokens), int(cached_tokens), float(cost)
    )


def list_traces(session: DbSession, filters: TraceFilters, page_size: int) -> TracePage:
    """One page of traces, newest first: two queries, one more for a search on
    PostgreSQL, one more for the prompt filter, and on PostgreSQL one more when
    the last day before the page's start does not fill it (:func:`newest_first`)."""
    where = trace_conditions(session, filters)
    query = sa.select(Trace)
    newest = filters.until
    if filters.after:
        query = query.where(past_cursor(session, filters.after))
        newest = decode_cursor(filters.after)[0]
    query = query.order_by(Trace.started_at.desc(), Trace.id.desc())
    rows = newest_first(
        session, traces_within(query, where), page_size + 1, newest=newest, oldest=filters.since
    )
    traces, next_after = next_page((trace for (trace,) in rows), page_size)
    return TracePage(traces, batches_of(session, [t.id for t in traces]), next_after)


#: The columns of the traces' CSV download, in the order of
#: :func:`export_traces`' rows. Times are UTC.
EXPORT_COLUMNS = (
    "id",
    "name",
    "status",
    "started_at_utc",
    "completed_at_utc",
    "duration_ms",
    "spans",
    "models",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost",
    "user_id",
    "session_id",
    "environment",
    "tags",
    "prompt_version_id",
    "error",
    "metadata",
)
_EXPORTED = (
    Trace.id,
    Trace.name,
    Trace.status,
    Trace.started_at,
    Trace.completed_at,
    Trace.duration_ms,
    Trace.spans_count,
    Trace.models,
    Trace.input_tokens,
    Trace.output_tokens,
    Trace.cached_tokens,
    Trace.cache_write_tokens,
    Trace.reasoning_tokens,
    Trace.cost,
    Trace.user_id,
    Trace.session_id,
    Trace.environment,
    Trace.tags,
    Trace.prompt_version_id,
    Trace.error,
    Trace.metadata_,
)

#: Rows read per keyset page of a CSV download.
EXPORT_PAGE_ROWS = 1000


def export_traces(
    session: DbSession, filters: TraceFilters, page_rows: int = EXPORT_PAGE_ROWS
) -> Iterator[tuple[Any, ...]]:
    """Every trace ``filters`` select (the page cursor aside), newest first, as rows of
    :data:`EXPORT_COLUMNS`: one query per ``page_rows`` rows.

    Pages follow the list's keyset (``started_at``, ``id``), so each costs the
    same however deep, and only one page is in memory at a time; each is read
    as the list's (:func:`newest_first`), from the day before where the last
    one ended, so that it reads the partitions of that day rather than
    starting a scan in every older one. The read transaction ends after each
    page: a slow download holds no snapshot open (which would keep VACUUM from
    cleaning up) and no connection idle in a transaction.
    """
    where = trace_conditions(session, filters)
    query = sa.select(*_EXPORTED).order_by(Trace.started_at.desc(), Trace.id.desc())
    page = query
    newest = filters.until
    while True:
        read = newest_first(
            session, traces_within(page, where), page_rows, newest=newest, oldest=filters.since
        )
        rows = [tuple(row) for row in read]
        session.rollback()
        yield from rows
        if len(rows) < page_rows:
            return
        newest, row_id = rows[-1][3], rows[-1][0]
        page = query.where(past_row(newest, row_id))


def batches_of(session: DbSession, trace_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Which batch each of these traces came from (one query)."""
    if not trace_ids:
        return {}
    rows = session.execute(
        sa.select(BatchRequest.trace_id, BatchRequest.batch_id).where(
            BatchRequest.trace_id.in_(trace_ids), BatchRequest.batch_id.is_not(None)
        )
    )
    return {trace_id: batch_id for trace_id, batch_id in rows if trace_id and batch_id}


class _InTree(Protocol):
    """What placing a span in the tree needs: a span, or a row of the trace's outline."""

    @property
    def id(self) -> Hashable: ...

    @property
    def parent_id(self) -> Hashable | None: ...


_S = TypeVar("_S", bound=_InTree)


def tree_order(spans: Sequence[_S]) -> list[tuple[_S, int]]:
    """The spans in tree order (depth first, children by start time), with their depth.

    ``spans`` come sorted by start time. Spans whose parent is not in the
    trace (not stored yet, or lost) are shown as roots rather than hidden.
    """
    ids = {span.id for span in spans}
    children: dict[Hashable | None, list[_S]] = {}
    for span in spans:
        parent = span.parent_id if span.parent_id in ids and span.parent_id != span.id else None
        children.setdefault(parent, []).append(span)
    ordered: list[tuple[_S, int]] = []
    seen: set[Hashable] = set()
    stack = [(span, 0) for span in reversed(children.get(None, []))]
    while stack:
        span, depth = stack.pop()
        if span.id in seen:
            continue
        seen.add(span.id)
        ordered.append((span, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(span.id, [])))
    # A cycle of parents has no root: show what is left flat, not nothing.
    ordered.extend((span, 0) for span in spans if span.id not in seen)
    return ordered


class _Timed(Protocol):
    @property
    def started_at(self) -> dt.datetime: ...

    @property
    def completed_at(self) -> dt.datetime | None: ...

    @property
    def duration_ms(self) -> float | None: ...


def span_end(span: _Timed) -> dt.datetime:
    """When a span ended: its completion time, else its start plus its duration."""
    if span.completed_at is not None:
        return span.completed_at
    return span.started_at + dt.timedelta(milliseconds=span.duration_ms or 0)


#: Traces with more spans than this leave their spans' inputs and outputs
#: out of the page; the tree loads each one when it is opened. Decoding and
#: rendering thousands of payloads is what makes a big trace page slow, and
#: nobody reads a thousand payloads at once.
INLINE_PAYLOAD_SPANS = 200

#: Spans a trace page shows in its tree and timeline; "show more" adds as
#: many again (the ``spans`` argument). A trace of 100,000 spans made 107 MB
#: of HTML in 7 s; a page of them stays well under the 200 ms target.
TRACE_PAGE_SPANS = 500


@dataclasses.dataclass(slots=True)
class SpanNode:
    span: Span
    depth: int


@dataclasses.dataclass
class TraceDetail:
    trace: Trace
    #: The spans the page shows, in tree order, without ``input`` and
    #: ``output`` (they raise if touched): the first ``shown`` of the tree.
    nodes: list[SpanNode]
    #: All the trace's spans, shown or not.
    total_spans: int
    #: The first span's start and the last one's end, over all spans.
    timeline: tuple[dt.datetime, dt.datetime] | None
    #: The first span left out, where "show more" continues; ``None``: all shown.
    next_span_id: uuid.UUID | None
    #: Span id -> (input, output); ``None`` for traces over INLINE_PAYLOAD_SPANS.
    payloads: dict[uuid.UUID, tuple[Any, Any]] | None
    batch_id: int | None
    prompt_version: tuple[str, int] | None  # (slug, version number)
    #: The trace's scores and comments, oldest first.
    scores: list[Score]


def _timeline(spans: Sequence[_Timed]) -> tuple[dt.datetime, dt.datetime] | None:
    if not spans:
        return None
    return min(s.started_at for s in spans), max(span_end(s) for s in spans)


class _OutlineRow(NamedTuple):
    """A span's place in a big trace's tree, its ids as text."""

    id: str
    parent_id: str | None


def _stored_timeline(
    session: DbSession, of_trace: sa.ColumnElement[bool]
) -> tuple[dt.datetime, dt.datetime] | None:
    """:func:`_timeline` computed by the database, for traces too big to read whole.

    A span without a completion time ends at its start here.
    """
    first, last_end, last_start = session.execute(
        sa.select(
            sa.func.min(Span.started_at),
            sa.func.max(Span.completed_at),
            sa.func.max(Span.started_at),
        ).where(of_trace)
    ).one()
    if first is None:
        return None
    return first, max(last_end or last_start, last_start)


def trace_detail(
    session: DbSession, trace_id: uuid.UUID, shown: int = TRACE_PAGE_SPANS
) -> TraceDetail:
    """A trace with the first ``shown`` spans of its tree and its scores: eight queries at
    most, whatever the span count.

    A trace whose rollup counts no more spans than that loads them whole.
    A bigger one first reads its outline (ids, parents and times of every
    span: the tree order and the timeline's scale need them all), then only
    the spans shown.
    """
    trace = find_trace(session, trace_id)
    if trace is None:
        raise NotFound(f"There is no trace {trace_id}.")
    light = sa.select(Span).options(
        defer(Span.input, raiseload=True), defer(Span.output, raiseload=True)
    )
    made = made_since(session, trace.started_at)
    of_trace = sa.and_(Span.trace_id == trace_id, *made.of(Span.started_at))
    by_start = (Span.started_at, Span.id)
    if trace.spans_count <= shown:
        spans = list(session.scalars(light.where(of_trace).order_by(*by_start)))
        ordered = tree_order(spans)
        nodes = [SpanNode(span, depth) for span, depth in ordered[:shown]]
        total, timeline = len(spans), _timeline(spans)
        next_span_id = ordered[shown][0].id if len(ordered) > shown else None
    else:
        # Ids as text, in plain tuples: making 100,000 UUID objects (and
        # hashing them), and SQLAlchemy rows' attribute lookups, were most
        # of the time of a trace that big.
        outline = [
            _OutlineRow._make(row)
            for row in session.execute(
                sa.select(sa.cast(Span.id, sa.String), sa.cast(Span.parent_id, sa.String))
                .where(of_trace)
                .order_by(*by_start)
            )
        ]
        rows = tree_order(outline)
        first = [(uuid.UUID(row.id), depth) for row, depth in rows[:shown]]
        loaded = {
            span.id: span
            for span in session.scalars(light.where(of_trace, Span.id.in_([i for i, _ in first])))
        }
        nodes = [SpanNode(loaded[i], depth) for i, depth in first if i in loaded]
        total, timeline = len(outline), _stored_timeline(session, of_trace)
        next_span_id = uuid.UUID(rows[shown][0].id) if len(rows) > shown else None
    payloads = None
    if total <= INLINE_PAYLOAD_SPANS:
        rows_with_content = session.execute(
            sa.select(Span.id, Span.input, Span.output).where(of_trace)
        )
        payloads = {row.id: (row.input, row.output) for row in rows_with_content}
    prompt_version = prompt_version_of(session, trace.prompt_version_id)
    batch_id = batches_of(session, [trace.id]).get(trace.id)
    scores = list(
        session.scalars(
            sa.select(Score)
            .where(Score.trace_id == trace_id, *made.of(Score.created_at))
            .order_by(Score.created_at, Score.id)
        )
    )
    return TraceDetail(
        trace, nodes, total, timeline, next_span_id, payloads, batch_id, prompt_version, scores
    )


def get_span(session: DbSession, trace_id: uuid.UUID, span_id: uuid.UUID) -> tuple[Trace, Span]:
    trace = find_trace(session, trace_id)
    span = None
    if trace is not None:
        span = session.scalars(
            sa.select(Span).where(
                Span.id == span_id, *made_since(session, trace.started_at).of(Span.started_at)
            )
        ).first()
    if trace is None or span is None or span.trace_id != trace_id:
        raise NotFound(f"There is no span {span_id} in trace {trace_id}.")
    return trace, span


def delete_trace(session: DbSession, trace: Trace) -> None:
    """Delete ``trace`` (found by :func:`find_trace`), its spans and its scores, in the
    caller's transaction: three statements, each reading only the partitions its rows
    can be in (the trace's own, its spans' and scores' from a little before it on).

    The spans and scores go by their trace's id: no foreign key takes them.
    """
    made = made_since(session, trace.started_at)
    session.execute(sa.delete(Span).where(Span.trace_id == trace.id, *made.of(Span.started_at)))
    session.execute(sa.delete(Score).where(Score.trace_id == trace.id, *made.of(Score.created_at)))
    # Not ``session.delete(trace)``: the ORM deletes by ``id``, with no range.
    session.execute(
        sa.delete(Trace).where(Trace.id == trace.id, Trace.started_at == trace.started_at)
    )


def prompt_version_of(session: DbSession, version_id: Any) -> tuple[str, int] | None:
    """The (slug, version number) of a prompt version's id, if it still exists."""
    if not isinstance(version_id, int) or isinstance(version_id, bool):
        return None
    row = session.execute(
        sa.select(PromptRecord.slug, PromptVersion.version_number)
        .join(PromptVersion.prompt)
        .where(PromptVersion.id == version_id)
    ).first()
    return (row.slug, row.version_number) if row else None
