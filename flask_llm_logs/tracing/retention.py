"""Deleting old traces and their spans, in chunks that never hold locks for long;
marking traces whose end never arrived.

Each chunk of traces (oldest first) is deleted with its spans in a short
transaction of its own, so the writer and the UI keep working while a purge
runs, and an interrupted purge keeps what it already did. The metrics
table's rows whose buckets ended before the cutoff's day go last (see
:func:`_drop_old_metrics`): that day is kept whole, its hours and minutes with
it, and a run of days it falls in loses the days that went.

A trace that a batch request links to (``BatchRequest.trace_id``) is kept,
whatever its age: the request's result stays where it is, and its link to the
trace stays valid. Such traces go when the batch request itself is deleted.

On PostgreSQL, where the tables are partitioned by time (see
:mod:`flask_llm_logs.partitions`), the partitions whose whole range is older
than the cutoff are detached first, a short transaction a table, and
dropped: no row is deleted one by one, no dead row is left for ``VACUUM``.
The rows batch requests link to are copied out of such a partition into
the default one, in the detach's transaction. The chunks then delete only
what is left before the cutoff (the partition the cutoff falls in, and the
default partition) while other connections drop the detached partitions.
The purge returns once everything is deleted and dropped, and the scores
that a kept partition held for a dropped trace deleted
(:func:`_delete_scores_left_behind`).

A trace is ``running`` until its end record is stored. When that record is
lost (the writer's queue overflowed, the process was killed) the trace would
stay ``running`` forever; :func:`mark_incomplete` makes it ``incomplete``
once ``LLM_LOGS_INCOMPLETE_AFTER`` has passed. It runs with every purge (the
command and the job), which a host schedules anyway, rather than on the
writer's thread, which has the host's records to store. An end record that
arrives later still wins: the writer overwrites every status but ``running``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from .. import partitions
from .. import postgres
from ..models import AlertEvent
from ..models import BatchRequest
from ..models import Score
from ..models import Span
from ..models import Trace
from ..models import metrics_table as metrics
from ..models.base import first_id_at
from ..models.base import utcnow
from ..models.metrics import DIMENSIONS
from ..state import get_state
from . import aggregate
from . import arrays
from . import bounds

DEFAULT_CHUNK_SIZE = 1000

traces = cast(sa.Table, Trace.__table__)
spans = cast(sa.Table, Span.__table__)
scores = cast(sa.Table, Score.__table__)
batch_requests = cast(sa.Table, BatchRequest.__table__)
alert_events = cast(sa.Table, AlertEvent.__table__)


@dataclasses.dataclass(frozen=True)
class PurgePlan:
    """What a purge with this cutoff deletes and keeps."""

    cutoff: dt.datetime
    traces: int
    spans: int
    kept_linked: int
    #: Running traces that :func:`mark_incomplete` would mark.
    incomplete: int


def cutoff_for(days: int | None = None) -> dt.datetime:
    """Now minus ``days``, or minus ``LLM_LOGS_RETENTION_DAYS``."""
    if days is None:
        days = get_state().settings.retention_days
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    return utcnow() - dt.timedelta(days=days)


def _linked() -> sa.Exists:
    return sa.exists().where(batch_requests.c.trace_id == traces.c.id)


def _old(cutoff: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(traces.c.started_at < cutoff, ~_linked())


#: The status of a trace whose end record never arrived.
INCOMPLETE = "incomplete"


def incomplete_cutoff(after: dt.timedelta | None = None) -> dt.datetime:
    """Now minus ``after``, or minus ``LLM_LOGS_INCOMPLETE_AFTER``."""
    if after is None:
        after = get_state().settings.incomplete_after
    return utcnow() - after


def _stuck(cutoff: dt.datetime) -> sa.ColumnElement[bool]:
    # The index on (status, started_at) finds them without reading the others.
    return sa.and_(traces.c.status == "running", traces.c.started_at < cutoff)


def mark_incomplete(after: dt.timedelta | None = None) -> int:
    """Mark traces still ``running`` ``after`` their start as ``incomplete``; how many.

    Needs an app context. See the module docstring for why and when.
    """
    cutoff = incomplete_cutoff(after)
    with get_state().engine.begin() as connection:
        result = connection.execute(
            sa.update(traces).where(_stuck(cutoff)).values(status=INCOMPLETE)
        )
        return result.rowcount


def _ended_metrics(cutoff: dt.datetime) -> sa.ColumnElement[bool]:
    """The metrics rows of buckets that ended before ``cutoff``'s day (or run of days).

    Minutes and hours go by whole days, as days do: the day the cutoff
    falls in keeps its hours and minutes, so every row kept is the sum of
    the finer rows kept inside it, which ``metrics()`` relies on when it
    reads a bucket whole and takes away the part outside a range. (Taking
    the day's first hours away would leave them counted in its day row.)
    The runs of days are kept the same way by :func:`_take_ended_days_from_runs`.
    """
    day = aggregate.truncate(cutoff, "day")
    return sa.or_(
        *(
            sa.and_(
                metrics.c.grain.in_([g.number for g in aggregate.GRAINS if g.width == width]),
                metrics.c.bucket < aggregate.truncate(day, width),
            )
            for width in aggregate.ALL_WIDTHS
        )
    )


def _detach_old_partitions(engine: sa.Engine, cutoff: dt.datetime) -> Iterator[partitions.Detached]:
    """Detach the spans', traces' and scores' partitions older than ``cutoff``
    (PostgreSQL), moving out the rows batch requests link to; each to be dropped
    as soon as it is detached, the spans' (the biggest) first.

    A generator on purpose: each table is detached only when the caller asks
    for the next, after handing the last one's drop to another connection,
    so the longest drop starts while the other tables are being detached.
    """
    linked = f"SELECT trace_id FROM {batch_requests.name} WHERE trace_id IS NOT NULL"
    for table in (spans, traces, scores):
        keep = partitions.Keep("id" if table is traces else "trace_id", linked)
        yield partitions.detach_before(engine, table.name, cutoff, keep=keep)


def _delete_scores_left_behind(engine: sa.Engine, cutoff: dt.datetime) -> None:
    """Delete the scores of the traces made before ``cutoff`` that are gone (PostgreSQL).

    A trace's scores are made after it, sometimes days after: the partition
    of its scores that the purge keeps, newer than its own that it drops,
    would keep them. Our trace ids are UUID 7, which begin with the
    millisecond they were made at, and uuids sort by their bytes: the scores
    of the traces made before the cutoff are a range of the scores'
    ``trace_id`` index, in the partitions left. The scores of a trace kept
    for its batch request are passed over by the batch requests' index; the
    others (in steady state, those made since the last purge for a trace
    older than the cutoff) are deleted if no partition holds their trace
    (one probe of each traces partition's index), in one statement.

    An OpenTelemetry trace id is random: one in about 10,000 reads as a UUID 7
    made before the cutoff, and its scores go if its trace is not stored at
    that moment (a score arriving before its trace waits seconds). The others
    are not found this way: the scores of such a trace made after its
    partition's end stay when the partition is dropped.
    """
    if engine.dialect.name != "postgresql":
        return
    as_text = sa.cast(scores.c.trace_id, sa.Text)
    with engine.begin() as connection:
        _probe_by_index(connection)
        # A score whose trace is gone is one of a few: probed one by one, never
        # by a hash of every trace.
        postgres.set_local(connection, enable_hashjoin="off", enable_mergejoin="off")
        connection.execute(
            sa.delete(scores).where(
                scores.c.trace_id < first_id_at(cutoff),
                # The version (7) and variant (RFC 4122) of a UUID 7.
                sa.func.substr(as_text, 15, 1) == "7",
                sa.func.substr(as_text, 20, 1).in_(("8", "9", "a", "b")),
                ~sa.exists().where(batch_requests.c.trace_id == scores.c.trace_id),
                ~sa.exists().where(traces.c.id == scores.c.trace_id),
            )
        )


def _drop_old_metrics(engine: sa.Engine, cutoff: dt.datetime) -> None:
    """Remove the metrics of the buckets that ended before ``cutoff``'s day.

    The partitions that end by the start of the longest run of days the
    cutoff falls in are dropped, then :func:`trim_metrics` does the rest in
    one transaction. The drop comes right before it, not with the traces'
    and spans' partitions, so a run is never gone while the days after it
    in the same run are still there.
    """
    partitions.drop_before(engine, metrics.name, _metrics_kept_from(cutoff))
    with engine.begin() as connection:
        trim_metrics(connection, cutoff)


def trim_metrics(connection: sa.Connection, cutoff: dt.datetime) -> None:
    """Take the days that end before ``cutoff``'s day out of the runs they are in,
    and delete the rows of the buckets that ended before it.

    Afterwards every row kept is the sum of the finer rows kept inside it,
    which ``metrics()`` relies on when it reads a bucket whole and takes
    away the part outside a range. (Migration ``0015`` uses it too.)
    """
    _take_ended_days_from_runs(connection, cutoff)
    connection.execute(sa.delete(metrics).where(_ended_metrics(cutoff)))


def _metrics_kept_from(cutoff: dt.datetime) -> dt.datetime:
    """Where the metrics partitions the purge keeps start: the start of the longest
    run of days (``aggregate.BLOCK_DAYS``) that ``cutoff`` falls in.

    A run's rows are stored at its first day, so a partition dropped by the
    cutoff's day alone could take a run that goes on past the cutoff with
    it. Runs are aligned, and the shorter ones divide the longer, so every
    row in a partition ending by that start belongs to a bucket (minute to
    run) that ended before the cutoff. :func:`_take_ended_days_from_runs`
    and the delete by bucket deal with the rest, at most a run's days.
    """
    return min(aggregate.truncate(cutoff, width) for width in aggregate.ALL_WIDTHS)


def _take_ended_days_from_runs(connection: sa.Connection, cutoff: dt.datetime) -> None:
    """Take the days that end before ``cutoff`` out of the runs of days it falls in.

    ``metrics()`` reads a run of days (see ``aggregate.BLOCK_DAYS``) whole
    or not at all, so the run must not keep the days whose rows go. They
    are added to it negated, through the writer's upsert (so a writer adding
    to the run meanwhile keeps it exact); rows left without calls go. The
    day rows go next, in the same transaction: a later purge finds nothing
    more to take.
    """
    day = aggregate.truncate(cutoff, "day")
    upsert = aggregate.upsert(connection.dialect.name)
    for width, grains in aggregate.BLOCK_BY.items():
        start = aggregate.truncate(cutoff, width)
        if start == day:
            continue
        run_grains = [grain.number for grain in grains.values()]
        taken: dict[tuple[int, aggregate.Key], aggregate.Sums] = {}
        for dimension, grain in grains.items():
            ended_days = sa.select(metrics).where(
                metrics.c.grain == aggregate.DAY_BY[dimension].number,
                metrics.c.bucket >= start,
                metrics.c.bucket < day,
            )
            for row in connection.execute(ended_days).mappings():
                key = (start, *(row[name] for name in DIMENSIONS))
                aggregate.add_to(taken, (grain.number, key), aggregate.stored_sums(row, sign=-1))
        aggregate.write_rows(connection, upsert, taken)
        connection.execute(
            sa.delete(metrics).where(
                metrics.c.grain.in_(run_grains),
                metrics.c.bucket == start,
                metrics.c.calls == 0,
            )
        )


def _probe_by_index(connection: sa.Connection) -> None:
    """Have this transaction's deletes by trace id probe each partition's index.

    A chunk's spans and scores are deleted by trace id, with no range on the
    partition key (a span may start after its trace, in a later partition),
    so every partition newer than the cutoff is searched for the chunk's
    ids. They hold none, or almost none, but the planner expects thousands
    of rows from a list of thousands of ids and reads each such partition
    whole: with daily partitions, 2 s a chunk for 10,000,000 spans, against
    150 ms probing the ``trace_id`` indexes. The plans' cost also set off
    JIT compilation, tens of milliseconds a statement for deletes that take
    a few. Both settings end with the chunk's transaction.
    """
    postgres.set_local(connection, enable_seqscan="off", jit="off")


def _among(
    connection: sa.Connection, ids: list[uuid.UUID]
) -> Callable[[sa.ColumnElement[uuid.UUID]], sa.ColumnElement[bool]]:
    """A chunk's condition ``column IN ids``; on PostgreSQL, ``column = ANY`` an array
    the planner does not see, sorted.

    A list of thousands of ids written in the statement is estimated id by
    id, once for each partition a delete searches: 80 ms of planning for a
    chunk's spans. Given through a subquery, the array is one value unknown
    to the planner (the indexes are probed all the same, see
    :func:`_probe_by_index`), and the index scan of each partition, which
    sorts it first, finds it sorted. The spans' and scores' deletes of a
    10,000-trace chunk took a third of the time.
    """
    if connection.dialect.name != "postgresql":
        return lambda column: column.in_(ids)
    # PostgreSQL sorts a uuid by its bytes, as Python does by ``UUID.int``; the
    # literal is the writer's (``arrays.uuids``), not a parameter adapted per id.
    literal = sa.bindparam("ids", arrays.uuids(sorted(ids)), type_=sa.Text)
    array = postgresql.ARRAY(sa.Uuid)
    given = sa.select(sa.cast(literal, array)).scalar_subquery()
    # Cast again: ``ANY (SELECT ..)`` alone compares with each row, not each element.
    return lambda column: column == sa.any_(sa.cast(given, array))


def plan_purge(days: int | None = None) -> PurgePlan:
    """Count what :func:`purge_old_traces` would delete, deleting nothing."""
    cutoff = cutoff_for(days)
    old_ids = sa.select(traces.c.id).where(_old(cutoff))
    with get_state().engine.connect() as connection:

        def count(table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
            query = sa.select(sa.func.count()).select_from(table).where(*where)
            return connection.scalar(query) or 0

        return PurgePlan(
            cutoff=cutoff,
            traces=count(traces, _old(cutoff)),
            spans=count(spans, spans.c.trace_id.in_(old_ids)),
            kept_linked=count(traces, traces.c.started_at < cutoff, _linked()),
            incomplete=count(traces, _stuck(incomplete_cutoff())),
        )


def purge_old_traces(
    days: int | None = None,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Delete traces started more than ``days`` ago, their spans and scores, older alert
    events, and the metrics rows of buckets that ended before then.

    Needs an app context; the RQ job is :func:`flask_llm_logs.jobs.purge_traces`.

    :param days: defaults to ``LLM_LOGS_RETENTION_DAYS``.
    :param chunk_size: traces per transaction.
    :param on_chunk: called with the number of traces after each chunk
        (the command's progress bar).
    :return: the number of traces deleted.
    """
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
    cutoff = cutoff_for(days)
    engine = get_state().engine
    with engine.begin() as connection:
        # The alert history goes with the traces its links lead to; a few
        # rows a day, deleted in one statement.
        connection.execute(sa.delete(alert_events).where(alert_events.c.created_at < cutoff))
    # Other connections drop the detached partitions while this one deletes the
    # chunks, the scores left behind, the metrics and the bounds of sessions and
    # users: most of a drop is its commit, where PostgreSQL truncates every
    # dropped file and waits for the file system to free its blocks (0.6 s for
    # 30 days of spans here). Each drop starts as soon as its table is
    # detached. With no connection to spare, they come last.
    spare = _spare_connections(engine)
    pool = ThreadPoolExecutor(spare, thread_name_prefix="llm-logs-purge") if spare else None
    # Each drop's number of traces: waited for if another connection runs it,
    # else run at the end.
    drops: list[Callable[[], int]] = []
    try:
        for detached in _detach_old_partitions(engine, cutoff):
            if detached.names or detached.leftovers:
                drop = functools.partial(
                    partitions.drop_detached, engine, detached, count=detached.table == traces.name
                )
                drops.append(pool.submit(drop).result if pool else drop)
        deleted = _delete_in_chunks(engine, cutoff, chunk_size, on_chunk)
        _delete_scores_left_behind(engine, cutoff)
        _drop_old_metrics(engine, cutoff)
        bounds.forget_ended(engine, cutoff)
        dropped = sum(drop() for drop in drops)
    finally:
        if pool is not None:
            pool.shutdown()
    if dropped and on_chunk is not None:
        on_chunk(dropped)
    return deleted + dropped


#: The connections that drop the detached partitions beside the chunks'.
DROP_CONNECTIONS = 2


def _spare_connections(engine: sa.Engine) -> int:
    """How many connections the drops may take beside the chunks': :data:`DROP_CONNECTIONS`,
    or fewer if the engine's pool cannot give that many more.

    A drop waiting for a connection of a full pool loses each one the chunks
    give back to the chunks (their thread takes it again at once), and
    times out (``pool_timeout``) while the chunks go on.
    """
    pool = engine.pool
    # ``max_overflow`` has no public getter; below 0, no limit.
    if not isinstance(pool, sa.QueuePool) or pool._max_overflow < 0:
        return DROP_CONNECTIONS
    return max(0, min(DROP_CONNECTIONS, pool.size() + pool._max_overflow - 1))


def _delete_of_traces(
    connection: sa.Connection,
    table: sa.Table,
    ids: list[uuid.UUID],
    among: Callable[[sa.ColumnElement[uuid.UUID]], sa.ColumnElement[bool]],
) -> None:
    """Delete the rows of ``table`` (spans or scores) of the traces ``ids``; on
    PostgreSQL, from the partitions holding trace ids in their range only.

    A span or a score may be later than its trace, in any partition since,
    so there is no range on the partition key to give: with 30 daily
    partitions, the index probes of the partitions holding none of the
    chunk's traces were half the time of the purge's deletes (see
    :func:`flask_llm_logs.partitions.holding`).
    """
    low, high = (str(value) for value in (min(ids), max(ids)))
    holding = partitions.holding(connection, table.name, "trace_id", low, high)
    targets: list[sa.TableClause] = [table]
    if holding is not None:
        targets = [sa.table(name, sa.column("trace_id", sa.Uuid)) for name in holding]
    for target in targets:
        connection.execute(sa.delete(target).where(among(target.c.trace_id)))


def _delete_in_chunks(
    engine: sa.Engine,
    cutoff: dt.datetime,
    chunk_size: int,
    on_chunk: Callable[[int], None] | None,
) -> int:
    """Delete the traces started before ``cutoff`` (but those batch requests link to),
    their spans and scores, ``chunk_size`` traces a transaction; how many."""
    next_chunk = (
        sa.select(traces.c.id)
        .where(_old(cutoff))
        .order_by(traces.c.started_at, traces.c.id)
        .limit(chunk_size)
    )
    deleted = 0
    while True:
        with engine.begin() as connection:
            ids = list(connection.scalars(next_chunk))
            if not ids:
                return deleted
            _probe_by_index(connection)
            among = _among(connection, ids)
            for table in (spans, scores):
                _delete_of_traces(connection, table, ids, among)
            # The chunk's traces started before the cutoff: the range reads
            # only the partitions that can hold them.
            connection.execute(
                sa.delete(traces).where(among(traces.c.id), traces.c.started_at < cutoff)
            )
        deleted += len(ids)
        if on_chunk is not None:
            on_chunk(len(ids))
