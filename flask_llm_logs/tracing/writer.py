"""The background writer: the only way a trace or span reaches the database.

The host's thread calls :meth:`Writer.submit`, which appends an immutable
record to a bounded in-memory queue and returns; it never blocks, never
touches the database and never raises. Daemon threads take batches off the
queue and store them (see :mod:`.store`), each on a connection of its own.

The queue is split into lanes, one thread each (``LLM_LOGS_WRITER_THREADS``):
on PostgreSQL a batch spends much of its time in the server (parsing the
rows, the indexes, the rollups), and one connection keeps only one server
process busy. A record goes to the lane of its trace, so one thread writes
all of a trace's records, in order, and two transactions never recompute
one trace's rollups at once (under READ COMMITTED each would miss the
other's spans). The lanes share one lock, the
counters and the queue bound: flush, stats, close and the warnings see one
writer.

When the database is unreachable the batch in hand is retried with capped
exponential backoff while new records wait in the queue; once
``LLM_LOGS_MAX_QUEUE`` records wait, new ones are dropped and counted. The
same holds while our tables are missing or behind the package (a deploy that
runs the new code before ``flask llm-logs db upgrade``): the records are
stored once the upgrade ran, and the log says once what to run. A row the
database rejects is cornered by retrying its batch in halves, then dropped
and counted, so it cannot block the rows around it.

A lane's thread starts on its first record. After a fork (gunicorn
``--preload``, RQ work horses) the child gets fresh lanes, fresh locks, fresh
threads and a disposed connection pool: nothing is shared across the fork.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import threading
import time
import weakref
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .. import partitions
from .. import process
from ..config import Settings
from ..log import get_logger
from ..migrations.status import describe
from ..models.base import utcnow
from . import bounds
from . import store
from .records import Deferred
from .records import Record
from .records import ScoreRecord
from .records import SpanRecord
from .records import Submitted
from .records import running_record

#: Backoff between attempts while the database is unreachable, in seconds.
RETRY_FIRST_DELAY = 0.1
RETRY_MAX_DELAY = 5.0
#: Warnings about lost or waiting records, at most this often, in seconds.
WARNING_INTERVAL = 60.0
#: How long process exit and :meth:`Writer.close` wait for the last records.
EXIT_TIMEOUT = 5.0
#: How often the writer makes the coming partitions (see :mod:`..partitions`), in
#: seconds; a failed round is tried again after :data:`WARNING_INTERVAL`.
PARTITIONS_INTERVAL = 3600.0
#: The traces the maintenance widens the bounds of sessions and users to:
#: those of two of its rounds (see ``bounds.widen_from_traces``).
RECENT_TRACES = dt.timedelta(seconds=2 * PARTITIONS_INTERVAL)
#: Lanes by database when ``LLM_LOGS_WRITER_THREADS`` is ``None``; one for
#: the others: SQLite lets one transaction write at a time, so a second
#: thread would only wait for its lock.
DEFAULT_THREADS = {"postgresql": 2}

#: Errors that say "the database is not there right now", as opposed to
#: "the database refuses this row": the first are retried, the second dropped.
TRANSIENT_ERRORS = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.DisconnectionError,
    sa.exc.TimeoutError,
)


def _is_transient(error: Exception) -> bool:
    if isinstance(error, TRANSIENT_ERRORS):
        return True
    return isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated


def lane_count(settings: Settings, engine: Callable[[], Engine]) -> int:
    """``LLM_LOGS_WRITER_THREADS``, or by default :data:`DEFAULT_THREADS` of the database."""
    if settings.writer_threads is not None:
        return settings.writer_threads
    try:
        dialect = engine().dialect.name
    except Exception:  # no engine for the bind key: the first batch says so
        return 1
    return DEFAULT_THREADS.get(dialect, 1)


@dataclasses.dataclass(eq=False, slots=True)
class _Lane:
    """A thread and its share of the queue: the records of the traces routed to it."""

    number: int
    #: The lane's thread waits here for records, a flush or close.
    has_work: threading.Condition
    queue: collections.deque[Submitted] = dataclasses.field(default_factory=collections.deque)
    thread: threading.Thread | None = None


class Writer:
    """Stores the records of one app in the background. See the module docstring.

    It is given what it needs, not the app: the settings fixed at start-up,
    a getter for the engine of the logs tables (called once, on the first
    write, when the app's engines exist) and ``enabled``, read at every
    :meth:`submit` so ``LLM_LOGS_ENABLED`` can be switched at runtime.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Callable[[], Engine],
        enabled: Callable[[], bool],
        export: Callable[[Sequence[Record], store.Rows], None] | None = None,
    ) -> None:
        self._settings = settings
        #: Given each batch and its rows before they are stored (OpenTelemetry,
        #: see ``otel.export``), so the content's JSON and the costs are made
        #: once for both; it only queues spans, and never raises.
        self._export = export
        # Read under the lock on every submit: plain attributes, not look-ups.
        self._max_queue = settings.max_queue
        self._batch_size = settings.writer_batch_size
        self._engine_getter = engine
        self._enabled = enabled
        self._engine: Engine | None = None
        #: Fixed at start-up, so a trace's lane never changes while it records.
        self.threads = lane_count(settings, engine)
        self._reset()
        _live_writers.add(self)

    def _reset(self) -> None:
        """Start from nothing: at creation and in a forked child."""
        self._lock = threading.Lock()
        #: :meth:`flush` waits here for the writer to catch up.
        self._progress = threading.Condition(self._lock)
        self._lanes = [_Lane(n, threading.Condition(self._lock)) for n in range(self.threads)]
        self._closing = False
        self._abandon = False
        #: Records accepted, and records finished with (stored or dropped as
        #: bad), over all lanes; the difference is what the queue bound applies to.
        self._accepted = 0
        self._finished = 0
        self._flush_upto = 0
        self._last_warning = float("-inf")
        #: The ``dropped`` count the last warning reported.
        self._dropped_reported = 0
        #: Whether the log said the tables need an upgrade (again after a write succeeds).
        self._schema_reported = False
        #: When the next round of partition maintenance is due (``time.monotonic``).
        self._partitions_due = 0.0
        self._counts = collections.Counter(
            written_spans=0, written_traces=0, written_scores=0, dropped=0, errors=0, retries=0
        )

    # -- the caller's side ---------------------------------------------------

    def submit(self, record: Submitted, checked: bool = False) -> None:
        """Queue ``record`` for storage. O(1); never blocks, never raises.

        ``checked``: the caller read ``LLM_LOGS_ENABLED`` for this record a
        moment ago (an LLM call outside any trace, as it started), so it is
        not read again on the host's thread.
        """
        try:
            if not checked and not self._enabled():
                return
            lanes = self._lanes
            try:
                # One trace, one lane; a UUID 7 ends in random bits, so the
                # traces spread evenly (and ``.int`` is cheaper than ``hash``).
                lane = lanes[record.trace_id.int % len(lanes)]  # type: ignore[union-attr]
            except AttributeError:  # not a record (dropped), or a span's score with no trace yet
                lane = lanes[0]
            with self._lock:
                if self._closing or self._accepted - self._finished >= self._max_queue:
                    self._counts["dropped"] += 1
                    return
                lane.queue.append(record)
                self._accepted += 1
                if lane.thread is None:
                    self._start(lane)
                waiting = len(lane.queue)
                if waiting == 1 or waiting == self._batch_size:
                    lane.has_work.notify()
        except Exception:
            self._counts["errors"] += 1

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record submitted so far is stored (or dropped as bad).

        :param timeout: seconds to wait at most; ``None`` waits as long as it takes.
        :return: whether everything was stored in time.
        """
        with self._lock:
            target = self._accepted
            if self._finished >= target:
                return True
            # A lane's thread ends only once its queue is empty and closed.
            if not any(lane.thread and lane.thread.is_alive() for lane in self._lanes):
                return False
            self._flush_upto = max(self._flush_upto, target)
            self._notify_lanes()
            return self._progress.wait_for(lambda: self._finished >= target, timeout)

    def stats(self) -> dict[str, int]:
        """Counters since start (or since the fork, in a child process).

        ``queued``: records waiting to be stored; ``written_spans``,
        ``written_traces``, ``written_scores``: rows stored; ``dropped``: records lost (queue
        full, rejected by the database, or after close); ``errors``: failed
        write attempts and records that could not be made into rows;
        ``retries``: attempts repeated while the database was unreachable.
        """
        with self._lock:
            return {"queued": self._accepted - self._finished, **self._counts}

    def close(self, timeout: float = EXIT_TIMEOUT) -> None:
        """Store what is queued (waiting ``timeout`` seconds at most), then stop."""
        _live_writers.discard(self)
        with self._lock:
            self._closing = True
            self._notify_lanes()
            threads = [lane.thread for lane in self._lanes if lane.thread is not None]
        if not _join(threads, timeout):
            with self._lock:
                self._abandon = True
                self._notify_lanes()
            _join(threads, 1.0)

    def _notify_lanes(self) -> None:
        """Wake every lane's thread (the lock held): a flush, close or abandon."""
        for lane in self._lanes:
            lane.has_work.notify()

    # -- the writer threads --------------------------------------------------

    def _start(self, lane: _Lane) -> None:
        name = f"flask-llm-logs-writer-{lane.number}"
        lane.thread = threading.Thread(target=self._run, args=(lane,), name=name, daemon=True)
        lane.thread.start()

    def _run(self, lane: _Lane) -> None:
        while True:
            taken = self._next_batch(lane)
            if taken is None:
                return
            batch = self._records(taken)
            self._maintain()
            try:
                self._store(lane, batch)
            except Exception:  # a bug here must not end the thread
                get_logger().exception("flask-llm-logs: could not store %d records", len(batch))
                self._count(dropped=len(batch), errors=1)
            # Before the batch counts as finished, so a flush() sees the warning.
            with self._lock:
                unreported = self._counts["dropped"] > self._dropped_reported
            if unreported:
                self._warn(
                    "flask-llm-logs: records were dropped (the queue was full at"
                    " LLM_LOGS_MAX_QUEUE=%d, or they could not be stored)",
                    self._max_queue,
                )
            with self._lock:
                # Records as submitted: not the spans read from responses or deferred traces.
                self._finished += len(taken)
                self._progress.notify_all()

    def _records(self, taken: list[Submitted]) -> list[Record]:
        """The records to store for ``taken``: the caller handed over what it had at hand,
        and the work of making records of it is done here, off the host's thread.

        A :class:`~.records.Deferred` becomes the records it makes; a span is
        preceded by the ``running`` record of the request trace it announces
        (``SpanRecord.announces``), has its LLM call's pending response read into
        it and is followed by its tool calls' spans (``SpanRecord.response``).
        A failure here is a bug of ours: it is logged, and what can still be
        stored is.
        """
        records: list[Record] = []
        for record in taken:
            if isinstance(record, Deferred):
                try:
                    records.extend(record.records())
                except Exception:
                    get_logger().exception(
                        "flask-llm-logs: could not make the records of %r", record
                    )
                    self._count(dropped=1, errors=1)
                continue
            if not isinstance(record, SpanRecord):
                records.append(record)
                continue
            if record.announces is not None:
                announced, record.announces = record.announces, None
                try:
                    records.append(running_record(announced))
                except Exception:  # the trace's end record still makes its row
                    get_logger().exception("flask-llm-logs: could not make a trace's record")
                    self._count(errors=1)
            records.append(record)
            if record.response is not None:
                response, record.response = record.response, None
                try:
                    records.extend(response.fill(record))
                except Exception:  # the span is stored as it is, the thread goes on
                    get_logger().exception("flask-llm-logs: could not read an LLM call's response")
        return records

    def _next_batch(self, lane: _Lane) -> list[Submitted] | None:
        """Wait for a full batch, the flush interval, a flush or close; ``None``: stop."""
        interval = self._settings.writer_flush_interval
        with self._lock:
            deadline: float | None = None
            while True:
                waiting = len(lane.queue)
                if not waiting:
                    if self._closing:
                        return None
                    lane.has_work.wait()
                    continue
                now = time.monotonic()
                deadline = deadline or now + interval
                if (
                    now >= deadline
                    or waiting >= self._batch_size
                    or self._flush_upto > self._finished
                    or self._closing
                ):
                    count = min(waiting, self._batch_size)
                    return [lane.queue.popleft() for _ in range(count)]
                lane.has_work.wait(deadline - now)

    def _maintain(self) -> None:
        """Make the coming partitions, drain the default ones and widen the bounds of
        sessions and users to the last traces, before the first batch and every
        :data:`PARTITIONS_INTERVAL` after: on a writer's thread, which every
        process that records has, and never on the host's LLM call."""
        with self._lock:
            now = time.monotonic()
            if now < self._partitions_due:
                return
            self._partitions_due = now + PARTITIONS_INTERVAL
        engine: Engine | None = None
        try:
            engine = self._get_engine()
            keep_after = utcnow() - dt.timedelta(days=self._settings.retention_days)
            interval = self._settings.partition_interval
            partitions.maintain(engine, interval, keep_after=keep_after)
            bounds.widen_from_traces(engine, utcnow() - RECENT_TRACES)
        except Exception as error:
            with self._lock:
                self._partitions_due = time.monotonic() + WARNING_INTERVAL
            # The database away, or not upgraded yet: the writes say so. Not the
            # engine's getter again if it failed: raising here would end the thread.
            if _is_transient(error) or (engine is not None and describe(error, engine) is not None):
                return
            get_logger().warning("flask-llm-logs: could not maintain the tables: %s", error)

    def _store(self, lane: _Lane, batch: list[Record]) -> None:
        stored = batch
        if not self._settings.store_traces:  # exported only (scores are not)
            stored = [record for record in batch if isinstance(record, ScoreRecord)]
        policy = store.ContentPolicy(
            redact=self._settings.redact,
            pricing_provider=self._settings.pricing_provider,
            max_content_bytes=self._settings.max_content_bytes,
        )
        rows, rejected = store.prepare(stored, policy)
        if self._export is not None:
            self._export(batch, rows)
        if rejected:
            self._count(dropped=rejected, errors=rejected)
        if rows:
            self._write(lane, rows)

    def _write(self, lane: _Lane, rows: store.Rows) -> None:
        """Store ``rows``, retrying while the database is unreachable.

        Each lane's thread checks a connection of its own out of the pool.
        """
        delay = RETRY_FIRST_DELAY
        while True:
            try:
                with self._get_engine().begin() as connection:
                    store.write(connection, rows, metrics=self._settings.metrics)
            except Exception as error:
                schema_problem = describe(error, self._get_engine())
                if schema_problem is not None or _is_transient(error):
                    if schema_problem is not None:
                        self._report_schema_problem(schema_problem)
                    else:
                        self._warn(
                            "flask-llm-logs: the database is unreachable, %d records wait (%s)",
                            self.stats()["queued"],
                            error,
                        )
                    if self._wait_before_retry(lane, delay, rows):
                        delay = min(delay * 2, RETRY_MAX_DELAY)
                        continue
                    return
                self._count(errors=1)
                if len(rows) > 1:
                    for half in rows.halves():
                        self._write(lane, half)
                else:
                    self._count(dropped=1)
                    self._warn("flask-llm-logs: the database rejected a record: %s", error)
                return
            self._count(
                written_traces=len(rows.traces),
                written_spans=len(rows.spans),
                written_scores=len(rows.scores),
            )
            self._schema_reported = False
            return

    def _report_schema_problem(self, problem: str) -> None:
        """Say once, in one line, that the tables need an upgrade: not every failed INSERT."""
        with self._lock:
            if self._schema_reported:
                return
            self._schema_reported = True
        get_logger().error("flask-llm-logs: records wait until the tables exist: %s", problem)

    def _wait_before_retry(self, lane: _Lane, delay: float, rows: store.Rows) -> bool:
        """Sleep ``delay`` (woken early by close); ``False``: give the rows up."""
        self._count(errors=1)
        with self._lock:
            if not self._abandon:
                lane.has_work.wait(delay)
            if self._abandon:
                self._counts["dropped"] += len(rows)
                return False
            self._counts["retries"] += 1
            return True

    def _get_engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._engine_getter()
        return self._engine

    def _count(self, **increments: int) -> None:
        with self._lock:
            self._counts.update(increments)

    def _warn(self, message: str, *args: Any) -> None:
        """Log ``message`` unless a warning went out within :data:`WARNING_INTERVAL`."""
        with self._lock:  # several lanes may warn at once: one of them does
            now = time.monotonic()
            if now - self._last_warning < WARNING_INTERVAL:
                return
            self._last_warning = now
            dropped = self._dropped_reported = self._counts["dropped"]
        get_logger().warning(message + "; %d records dropped so far", *args, dropped)

    def _after_fork_in_child(self) -> None:
        self._reset()
        try:
            # The parent's pooled connections stay the parent's: the child
            # opens its own (the host's, if the engine is shared, as well).
            self._get_engine().dispose(close=False)
        except Exception:
            get_logger().exception("flask-llm-logs: could not reset the connection pool after fork")


def _join(threads: list[threading.Thread], timeout: float) -> bool:
    """Wait for ``threads``, ``timeout`` seconds at most in all; whether all ended."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


#: Writers to restart after a fork and to flush at exit.
_live_writers: weakref.WeakSet[Writer] = weakref.WeakSet()


@process.after_fork_in_child
def _restart_in_child() -> None:
    for writer in list(_live_writers):
        writer._after_fork_in_child()


@process.at_exit
def _flush_at_exit() -> None:
    for writer in list(_live_writers):
        writer.close(EXIT_TIMEOUT)
