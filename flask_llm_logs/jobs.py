"""RQ entry points: ``flush_batches``, ``poll_batches``, ``purge_traces``, ``check_alerts``,
and a Flask-aware worker.

The jobs need an app context. Under ``flask llm-logs worker`` (or ``rq
worker -w flask_llm_logs.jobs.Worker``) the worker provides one around every
job. Under a plain ``rq worker llm_logs`` the job loads the app itself from
``FLASK_APP`` (or uses an app already initialised in the process, as with an
in-process ``SimpleWorker``). Either way a forked work horse never uses database
connections inherited from its parent: pooled connections are disowned
(``engine.dispose(close=False)``) before the job runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
from collections.abc import Callable
from collections.abc import Iterator
from typing import TYPE_CHECKING
from typing import Any

import rq
from flask import Flask
from flask import current_app
from flask import has_app_context
from flask.cli import ScriptInfo
from rq.executions import Execution

from . import process
from .log import get_logger
from .state import State
from .state import get_state

if TYPE_CHECKING:
    from redis.client import Pipeline

#: Seconds a flush or poll may run before RQ stops it.
JOB_TIMEOUT = 3600

_loaded_app: Flask | None = None
#: Apps whose pooled connections belong to this process: made here, or
#: disowned since the last fork.
_clean_apps: set[int] = set()
_forked = False


@process.after_fork_in_child
def _after_fork_in_child() -> None:
    global _forked
    _forked = True
    _clean_apps.clear()


def _job_app() -> Flask:
    """The app a job runs in when there is no app context.

    An app already initialised in this process (an in-process worker, a
    test), else the one named by ``FLASK_APP``, loaded once per process.
    """
    global _loaded_app
    with contextlib.suppress(RuntimeError):
        return get_state().app
    if _loaded_app is None:
        path = os.environ.get("FLASK_APP")
        if not path:
            raise RuntimeError(
                "flask-llm-logs jobs need an app context: set FLASK_APP for `rq worker`,"
                " or run `flask llm-logs worker`"
            )
        _loaded_app = ScriptInfo(app_import_path=path).load_app()
        _clean_apps.add(id(_loaded_app))
    return _loaded_app


def disown_connections(app: Flask) -> None:
    """Drop the pooled connections inherited from a parent process, unclosed.

    Closing them would close the parent's sockets; using them would mix two
    processes' traffic on one connection.
    """
    with app.app_context():
        for engine in app.extensions["sqlalchemy"].engines.values():
            engine.dispose(close=False)
    _clean_apps.add(id(app))


@contextlib.contextmanager
def app_context() -> Iterator[Flask]:
    """The job's app context: the current one, or one for the job's app (see
    :func:`_job_app`); on leaving it, the traces the job recorded are stored."""
    with contextlib.ExitStack() as stack:
        if has_app_context():
            app = current_app._get_current_object()  # type: ignore[attr-defined]
        else:
            app = _job_app()
            if _forked and id(app) not in _clean_apps:  # a work horse, first job
                disown_connections(app)
            stack.enter_context(app.app_context())
        stack.enter_context(traces_stored())
        yield app


@contextlib.contextmanager
def traces_stored() -> Iterator[None]:
    """Store the traces recorded in the block before going on.

    A work horse leaves with ``os._exit``, which skips the writer's
    ``atexit`` flush; whatever a job recorded in its last moments would be lost.
    """
    try:
        yield
    finally:
        writer = getattr(get_state(), "writer", None)
        if writer is not None:
            writer.flush(30)


def flush_batches(purpose: str | None = None) -> dict[str, Any]:
    """RQ job: submit the pending requests of ``purpose`` (``None``: every purpose)."""
    from .batches import flush

    with app_context():
        return flush(purpose).as_dict()


def poll_batches() -> dict[str, Any]:
    """RQ job: reconcile every unfinished batch, run handlers, recover stale claims."""
    from .batches import poll

    with app_context():
        return poll().as_dict()


def purge_traces(days: int | None = None) -> int:
    """RQ job: delete traces older than ``days`` (``LLM_LOGS_RETENTION_DAYS``); how many.
    Then makes the coming partitions and drains the default ones (PostgreSQL).

    See :func:`.tracing.retention.purge_old_traces`, which this runs in the
    job's app context, so it works under a plain ``rq worker`` too. Traces
    whose end never arrived are marked ``incomplete`` first
    (:func:`.tracing.retention.mark_incomplete`).
    """
    from .partitions import maintain
    from .state import get_state
    from .tracing.retention import cutoff_for
    from .tracing.retention import mark_incomplete
    from .tracing.retention import purge_old_traces

    with app_context():
        mark_incomplete()
        deleted = purge_old_traces(days)
        # The writers make the coming partitions too; this covers an app whose
        # processes record nothing for a while (see ``flask_llm_logs.partitions``).
        state = get_state()
        maintain(state.engine, state.settings.partition_interval, keep_after=cutoff_for(days))
        return deleted


def check_alerts() -> dict[str, Any]:
    """RQ job: evaluate ``LLM_LOGS_ALERTS``, notify what started or ended; see :doc:`/alerts`.

    Safe to overlap with another check: each alert is sent once.
    """
    from .alerts.check import check_alerts

    with app_context():
        return check_alerts().as_dict()


def _id_part(name: str) -> str:
    """``name`` as part of an RQ job id, which allows ``[A-Za-z0-9_-]`` only.

    Other characters become ``_`` and a short hash keeps two names that
    differ only there apart.
    """
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if safe != name or len(safe) > 100:
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        safe = f"{safe[:100]}-{digest}"
    return safe


def flush_job_id(queue_name: str, purpose: str | None) -> str:
    """``<queue>-flush-<purpose>`` (``<queue>-flush`` for every purpose).

    One queued flush per purpose. Job ids are global in a Redis database, so
    the queue name keeps apart apps that share one Redis with their own
    ``LLM_LOGS_QUEUE``.
    """
    job_id = f"{_id_part(queue_name)}-flush"
    return job_id if purpose is None else f"{job_id}-{_id_part(purpose)}"


def poll_job_id(queue_name: str) -> str:
    """``<queue>-poll``: one queued poll per queue."""
    return f"{_id_part(queue_name)}-poll"


def purge_job_id(queue_name: str) -> str:
    """``<queue>-purge``: one queued purge per queue."""
    return f"{_id_part(queue_name)}-purge"


def alerts_job_id(queue_name: str) -> str:
    """``<queue>-alerts``: one queued alert check per queue."""
    return f"{_id_part(queue_name)}-alerts"


#: Rounds of enqueue / replace a finished job before a trigger gives up.
ENQUEUE_ATTEMPTS = 10
#: Statuses of a job that has yet to run or is running: a trigger reuses it.
_ACTIVE = {"queued", "scheduled", "deferred", "started"}


def enqueue_unique(
    queue: rq.Queue, job_id: str, func: Callable[..., object], *args: Any
) -> rq.job.Job:
    """Queue ``func(*args)`` unless a job with ``job_id`` is queued or running; the job.

    A finished or failed job with the id is replaced by a new one, and so is a
    started one whose worker is gone (see :func:`worker_gone`). A running one
    is returned as it is: what it does not pick up, the next trigger (e.g.
    the cron) does. Triggers racing to replace the same job delete it only
    while it is still that job (``WATCH``), so one of them queues the new job
    and the others return it.
    """
    from redis.exceptions import WatchError
    from rq.exceptions import DuplicateJobError
    from rq.exceptions import InvalidJobOperation
    from rq.exceptions import NoSuchJobError
    from rq.utils import as_text

    for _ in range(ENQUEUE_ATTEMPTS):
        try:
            return queue.enqueue(func, *args, job_id=job_id, unique=True, job_timeout=JOB_TIMEOUT)
        except DuplicateJobError:
            pass
        try:
            # Not queue.fetch_job(): finding no job, it removes the id from
            # the queue, which can be the id another trigger just queued.
            existing = rq.job.Job.fetch(job_id, connection=queue.connection)
        except NoSuchJobError:
            continue  # gone meanwhile
        with queue.connection.pipeline() as pipe:
            try:
                # redis-py leaves Pipeline.watch unannotated.
                pipe.watch(existing.key)  # type: ignore[no-untyped-call]
                status = pipe.hget(existing.key, "status")
                if status is None:
                    continue
                if as_text(status) in _ACTIVE:
                    if as_text(status) != "started" or not worker_gone(existing):
                        return existing
                    get_logger(__name__).warning(
                        "job %s was started by worker %s, which is gone: queuing it again",
                        job_id,
                        existing.worker_name,
                    )
                delete_job(existing, pipe)
            except (WatchError, InvalidJobOperation, ExecutionGone):
                continue  # replaced or deleted by another trigger: look again
    raise RuntimeError(f"could not queue job {job_id!r}")


def worker_gone(job: rq.job.Job) -> bool:
    """Whether the worker that started ``job`` is gone (killed, its host lost).

    rq tells by its heartbeats: a working worker's key expires about 90 s
    after the last one. A worker on this host is known to be gone as soon as
    its process is.
    """
    if not job.worker_name:
        return False
    key = rq.Worker.redis_worker_namespace_prefix + job.worker_name
    worker = rq.Worker.find_by_key(key, connection=job.connection)
    if worker is None:
        return True
    if worker.hostname != socket.gethostname() or worker.pid is None:
        return False
    try:
        os.kill(worker.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # another user's process: alive
    return False


class ExecutionGone(Exception):
    """An execution of a job expired while the job was being deleted: look again."""


def delete_job(job: rq.job.Job, pipe: Pipeline) -> None:
    """Delete ``job`` with every record of its runs, in ``pipe``'s transaction.

    ``pipe`` watches the job's key. Two things rq's ``Job.delete()`` does not
    do for a job whose worker was killed: it raises ``ValueError`` for an
    execution whose hash expired while the job's list of executions still
    names it, and it leaves the job's entries in the started registry, where
    rq's maintenance would later take the new job of the same id for the
    abandoned one and fail it.
    """
    from rq.executions import Execution

    connection = job.connection
    executions = job.execution_registry
    for execution_id in executions.get_execution_ids():
        if not connection.exists(Execution(execution_id, job.id, connection).key):
            connection.zrem(executions.key, execution_id)
    started = job.started_job_registry
    leftovers = [
        Execution(execution_id, job_id, connection).composite_key
        for job_id, execution_id in started.get_job_and_execution_ids(cleanup=False)
        if job_id == job.id
    ]
    pipe.multi()
    if leftovers:
        pipe.zrem(started.key, *leftovers)
    try:
        job.delete(pipeline=pipe)
    except ValueError as error:  # an execution expired since it was looked at
        raise ExecutionGone(job.id) from error
    pipe.execute()


def queue_for(state: State) -> rq.Queue:
    """The app's queue (``LLM_LOGS_QUEUE``) on ``LLM_LOGS_REDIS_URL``."""
    from redis import Redis

    return rq.Queue(state.settings.queue, connection=Redis.from_url(state.settings.redis_url))


def enqueue_flush(state: State, purpose: str | None = None) -> rq.job.Job:
    """Queue :func:`flush_batches` for ``purpose`` unless one is already waiting."""
    queue = queue_for(state)
    return enqueue_unique(queue, flush_job_id(queue.name, purpose), flush_batches, purpose)


def enqueue_poll(state: State) -> rq.job.Job:
    """Queue :func:`poll_batches` unless one is already waiting."""
    queue = queue_for(state)
    return enqueue_unique(queue, poll_job_id(queue.name), poll_batches)


def enqueue_purge(state: State) -> rq.job.Job:
    """Queue :func:`purge_traces` unless one is already waiting."""
    queue = queue_for(state)
    return enqueue_unique(queue, purge_job_id(queue.name), purge_traces)


def enqueue_alerts_check(state: State) -> rq.job.Job:
    """Queue :func:`check_alerts` unless one is already waiting."""
    queue = queue_for(state)
    return enqueue_unique(queue, alerts_job_id(queue.name), check_alerts)


class Worker(rq.Worker):
    """An RQ worker that runs every job in the Flask app's context.

    ``flask llm-logs worker`` uses it with the current app; ``rq worker -w
    flask_llm_logs.jobs.Worker`` loads the app from ``FLASK_APP``. After
    each job, the app's own jobs included, it waits for the traces the job
    recorded to be written: a work horse leaves with ``os._exit``, which
    skips the writer's ``atexit`` flush.
    """

    def __init__(self, *args: Any, app: Flask | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.flask_app = app or _job_app()

    def main_work_horse(self, job: rq.job.Job, queue: rq.Queue) -> None:
        # In the forked child: never touch the parent's pooled connections.
        disown_connections(self.flask_app)
        super().main_work_horse(job, queue)

    def perform_job(self, job: rq.job.Job, queue: rq.Queue, execution: Execution) -> bool:
        with self.flask_app.app_context(), traces_stored():
            return super().perform_job(job, queue, execution)
