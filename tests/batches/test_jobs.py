"""RQ jobs on a real Redis: unique flush jobs, a SimpleWorker in-process, and
a real ``rq worker`` subprocess loading the app from FLASK_APP."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rq
import sqlalchemy as sa
from flask import Flask
from rq.executions import Execution

from flask_llm_logs import Batch
from flask_llm_logs import LlmLogs
from flask_llm_logs.jobs import alerts_job_id
from flask_llm_logs.jobs import check_alerts
from flask_llm_logs.jobs import flush_batches
from flask_llm_logs.jobs import flush_job_id
from flask_llm_logs.jobs import poll_batches
from flask_llm_logs.jobs import poll_job_id
from flask_llm_logs.jobs import purge_job_id
from flask_llm_logs.jobs import purge_traces
from flask_llm_logs.jobs import queue_for
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.models.base import utcnow
from flask_llm_logs.state import get_state
from flask_llm_logs.testing import FakeOpenAI
from flask_llm_logs.unique_cron import UniqueCronJob
from tests.helpers.batch_app import ask
from tests.helpers.batch_app import hold
from tests.helpers.batches import RecordingHandler
from tests.helpers.batches import handled_rows

#: The checkout, so that the worker imports ``tests.helpers.batch_app``.
ROOT = Path(__file__).parents[2]


@pytest.fixture
def make_job_app(
    make_batch_app: Callable[..., Flask], redis_url: str
) -> Iterator[Callable[..., Flask]]:
    """Batch apps on the test Redis; their queues are emptied afterwards."""
    queues: list[rq.Queue] = []

    def make(**config: Any) -> Flask:
        app: Flask = make_batch_app(LLM_LOGS_REDIS_URL=redis_url, **config)
        queues.append(queue_for(app.extensions["llm_logs"]))
        return app

    yield make
    for queue in queues:
        queue.empty()  # type: ignore[no-untyped-call]  # rq leaves Queue.empty unannotated
        for registry in (queue.finished_job_registry, queue.failed_job_registry):
            for job_id in registry.get_job_ids():
                registry.remove(job_id, delete_job=True)
        queue.connection.close()


@pytest.fixture
def job_app(make_job_app: Callable[..., Flask]) -> Flask:
    return make_job_app()


def rq_worker_env(queue: rq.Queue, redis_url: str, **env: str) -> dict[str, str]:
    """The environment of an ``rq worker`` subprocess that can import ``tests.helpers``."""
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        LLM_LOGS_QUEUE=queue.name,
        LLM_LOGS_REDIS_URL=redis_url,
        **env,
    )


RQ = str(Path(sys.executable).with_name("rq"))


def run_rq_worker(
    queue: rq.Queue,
    redis_url: str,
    database_url: str,
    openai_base_url: str,
    *options: str,
    **env: str,
) -> None:
    """``rq worker --burst`` on ``queue`` in a subprocess loading ``tests.helpers.batch_app``.

    ``options`` go before the queue name, ``env`` into the environment.
    """
    env = rq_worker_env(
        queue,
        redis_url,
        FLASK_APP="tests.helpers.batch_app:create_app",
        DATABASE_URL=database_url,
        OPENAI_BASE_URL=openai_base_url,
        **env,
    )
    process = subprocess.run(
        [RQ, "worker", "--burst", "--url", redis_url, *options, queue.name],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr
    assert queue.failed_job_registry.count == 0, process.stderr


def stored_rows(app: Flask, query: sa.Executable) -> list[Any]:
    """Rows read on a connection of their own, as another process would see them."""
    with get_state(app).engine.connect() as connection:
        return list(connection.execute(query))


def enqueue(app: Flask, n: int, purpose: str = "summary") -> None:
    with app.app_context():
        for i in range(n):
            Batch.enqueue(purpose=purpose, model="gpt-4.1-mini", input=f"text {i}")


def test_job_ids_are_safe_and_distinct() -> None:
    assert flush_job_id("llm_logs", "chat_summary") == "llm_logs-flush-chat_summary"
    assert flush_job_id("llm_logs", None) == "llm_logs-flush"
    assert poll_job_id("llm_logs") == "llm_logs-poll"
    assert purge_job_id("llm_logs") == "llm_logs-purge"
    dotted, underscored = flush_job_id("q", "a.b"), flush_job_id("q", "a_b")
    assert dotted != underscored
    assert all(c.isalnum() or c in "_-" for c in dotted + flush_job_id("my.queue", "a b"))
    # Job ids are global in Redis: two apps' queues never share one.
    assert flush_job_id("app_a", "p") != flush_job_id("app_b", "p")
    assert flush_job_id("q", "all") != flush_job_id("q", None)


def test_triggering_flush_many_times_queues_one_job_per_purpose(job_app: Flask) -> None:
    llm_logs = LlmLogs()
    jobs = [llm_logs.enqueue_flush("summary", app=job_app) for _ in range(5)]
    jobs += [llm_logs.enqueue_flush("other", app=job_app) for _ in range(3)]
    jobs += [llm_logs.enqueue_poll(app=job_app) for _ in range(3)]
    jobs += [llm_logs.enqueue_purge(app=job_app) for _ in range(3)]
    queue = queue_for(job_app.extensions["llm_logs"])
    ids = {
        "summary": flush_job_id(queue.name, "summary"),
        "other": flush_job_id(queue.name, "other"),
        "poll": poll_job_id(queue.name),
        "purge": purge_job_id(queue.name),
    }
    assert sorted(queue.get_job_ids()) == sorted(ids.values())
    assert {job.id for job in jobs} == set(ids.values())
    flush_job, poll_job = queue.fetch_job(ids["summary"]), queue.fetch_job(ids["poll"])
    purge_job = queue.fetch_job(ids["purge"])
    assert flush_job is not None and poll_job is not None and purge_job is not None
    assert (flush_job.func_name, flush_job.args) == (
        "flask_llm_logs.jobs.flush_batches",
        ("summary",),
    )
    assert (poll_job.func_name, poll_job.args) == ("flask_llm_logs.jobs.poll_batches", ())
    assert purge_job.func_name == "flask_llm_logs.jobs.purge_traces"


def test_jobs_run_in_a_simple_worker(job_app: Flask, fake_openai: FakeOpenAI) -> None:
    handler = RecordingHandler()
    job_app.extensions["llm_logs"].batch_handlers["summary"] = handler
    enqueue(job_app, 4)
    state = job_app.extensions["llm_logs"]
    queue = queue_for(state)

    with job_app.app_context():
        job = LlmLogs().enqueue_flush("summary")
        rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert job.get_status() == "finished"
    assert job.return_value()["submitted"] == 4
    assert len(fake_openai.batches.ids()) == 1
    fake_openai.batches.complete_all()

    LlmLogs().enqueue_poll(app=job_app)
    # No app context and no FLASK_APP: the job uses the app initialised here.
    assert "FLASK_APP" not in os.environ
    rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert queue.failed_job_registry.count == 0
    assert len(handler.calls) == 4 and len(handled_rows(job_app)) == 4
    # Finished jobs do not block the next trigger.
    with job_app.app_context():
        assert LlmLogs().enqueue_flush("summary").get_status() == "queued"


@pytest.mark.parametrize(
    "worker_class", [None, "flask_llm_logs.jobs.Worker"], ids=["plain", "flask-worker-class"]
)
def test_jobs_run_under_rq_worker_with_flask_app(
    job_app: Flask,
    fake_openai: FakeOpenAI,
    database_url: str,
    redis_url: str,
    worker_class: str | None,
) -> None:
    enqueue(job_app, 3)
    fake_openai.batch_auto_complete = True
    with job_app.app_context():
        session = get_state(job_app).session
        session.add(Trace(name="old", started_at=utcnow() - dt.timedelta(days=40)))
        session.commit()
    queue = queue_for(job_app.extensions["llm_logs"])
    queue.enqueue(flush_batches, "summary")
    queue.enqueue(poll_batches)
    LlmLogs().enqueue_purge(app=job_app)
    options = ["-w", worker_class] if worker_class else []
    run_rq_worker(queue, redis_url, database_url, fake_openai.base_url, *options)
    assert len(handled_rows(job_app)) == 3
    # The purge job ran too: the old trace is gone, the batch results' traces stay.
    names = stored_rows(job_app, sa.select(Trace.name))
    assert len(names) == 3 and ("old",) not in names


def test_flask_llm_logs_worker_command(job_app: Flask, fake_openai: FakeOpenAI) -> None:
    handler = RecordingHandler()
    job_app.extensions["llm_logs"].batch_handlers["summary"] = handler
    fake_openai.batch_auto_complete = True
    enqueue(job_app, 2)
    queue = queue_for(job_app.extensions["llm_logs"])
    queue.enqueue(flush_batches, "summary")
    queue.enqueue(poll_batches)
    result = job_app.test_cli_runner().invoke(args=["llm-logs", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert queue.failed_job_registry.count == 0
    assert len(handled_rows(job_app)) == 2


#: A writer that would keep a job's records in memory long after the job ended.
SLOW_FLUSH_INTERVAL = 3600.0


@pytest.mark.parametrize("command", ["flask-llm-logs-worker", "rq-worker-class"])
def test_a_work_horse_stores_the_traces_of_the_apps_own_job(
    make_job_app: Callable[..., Flask],
    fake_openai: FakeOpenAI,
    database_url: str,
    redis_url: str,
    command: str,
) -> None:
    """The horse leaves with ``os._exit`` (no ``atexit``): the worker flushes."""
    app = make_job_app(LLM_LOGS_WRITER_FLUSH_INTERVAL=SLOW_FLUSH_INTERVAL)
    queue = queue_for(app.extensions["llm_logs"])
    queue.enqueue(ask, fake_openai.base_url)
    if command == "flask-llm-logs-worker":
        result = app.test_cli_runner().invoke(args=["llm-logs", "worker", "--burst"])
        assert result.exit_code == 0, result.output
        assert queue.failed_job_registry.count == 0
    else:
        run_rq_worker(
            queue,
            redis_url,
            database_url,
            fake_openai.base_url,
            "-w",
            "flask_llm_logs.jobs.Worker",
            LLM_LOGS_WRITER_FLUSH_INTERVAL=str(SLOW_FLUSH_INTERVAL),
        )
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 1
    query = sa.select(Trace.status, Span.kind, Span.model).join(Span, Span.trace_id == Trace.id)
    assert stored_rows(app, query) == [("completed", "llm", "gpt-4.1-mini")]


def test_cron_config_registers_flush_poll_purge_and_alerts(redis_url: str) -> None:
    from redis import Redis
    from rq.cron import CronScheduler

    connection = Redis.from_url(redis_url)
    scheduler = CronScheduler(connection=connection)
    scheduler.load_config_from_file("flask_llm_logs.cron")
    jobs = {job.func: job for job in scheduler.get_jobs()}
    assert set(jobs) == {flush_batches, poll_batches, purge_traces, check_alerts}
    assert jobs[poll_batches].interval == 60 and jobs[flush_batches].interval == 300
    assert jobs[purge_traces].interval == 86400 and jobs[check_alerts].interval == 60
    assert {job.queue_name for job in jobs.values()} == {"llm_logs"}
    assert all(isinstance(job, UniqueCronJob) for job in jobs.values())
    connection.close()


def test_triggers_at_once_leave_one_job_even_over_a_finished_one(job_app: Flask) -> None:
    queue = queue_for(job_app.extensions["llm_logs"])
    job_id = flush_job_id(queue.name, "summary")
    LlmLogs().enqueue_flush("summary", app=job_app)
    rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)
    job = queue.fetch_job(job_id)
    assert job is not None and job.get_status() == "finished"

    barrier = threading.Barrier(8)
    jobs: list[rq.job.Job] = []
    errors: list[BaseException] = []

    def trigger() -> None:
        barrier.wait()
        try:
            jobs.append(LlmLogs().enqueue_flush("summary", app=job_app))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=trigger) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(jobs) == 8 and {job.id for job in jobs} == {job_id}
    assert queue.get_job_ids() == [job_id]
    job = queue.fetch_job(job_id)
    assert job is not None and job.get_status() == "queued"


def kill_worker_mid_job(queue: rq.Queue, job_id: str, redis_url: str, tmp_path: Path) -> rq.job.Job:
    """Run ``hold`` as job ``job_id`` in a real ``rq worker``, then SIGKILL the
    worker and its work horse mid-job; the job, left "started"."""
    pid_path = tmp_path / "horse.pid"
    queue.enqueue(hold, str(pid_path), job_id=job_id)
    worker = subprocess.Popen(
        [RQ, "worker", "--url", redis_url, queue.name],
        env=rq_worker_env(queue, redis_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not pid_path.exists() or not pid_path.read_text():
            assert worker.poll() is None and time.monotonic() < deadline, "the job did not start"
            time.sleep(0.05)
    finally:
        worker.kill()
        worker.wait()
    os.kill(int(pid_path.read_text()), signal.SIGKILL)
    job = rq.job.Job.fetch(job_id, connection=queue.connection)
    assert job.get_status() == "started"
    return job


@pytest.mark.parametrize("trigger", ["poll", "flush"])
def test_a_job_whose_worker_was_killed_does_not_block_the_next(
    job_app: Flask, redis_url: str, tmp_path: Path, trigger: str
) -> None:
    """Right after the kill: the worker's process is gone from this host."""
    llm_logs = LlmLogs()
    queue = queue_for(job_app.extensions["llm_logs"])
    job_id = poll_job_id(queue.name) if trigger == "poll" else flush_job_id(queue.name, None)
    kill_worker_mid_job(queue, job_id, redis_url, tmp_path)

    if trigger == "poll":
        job = llm_logs.enqueue_poll(job_app)
    else:
        job = llm_logs.enqueue_flush(app=job_app)
    assert (job.id, job.get_status()) == (job_id, "queued")
    assert job.func_name == f"flask_llm_logs.jobs.{trigger}_batches"
    assert queue.get_job_ids() == [job_id]
    # Nothing of the dead run is left for rq's maintenance to fail the new job with.
    assert queue.started_job_registry.get_job_and_execution_ids(cleanup=False) == []


def expire_heartbeats(job: rq.job.Job) -> None:
    """What Redis does once the killed worker's heartbeats have run out (90 s):
    the worker's key and its execution's hash expire."""
    connection = job.connection
    [(job_id, execution_id)] = job.started_job_registry.get_job_and_execution_ids(cleanup=False)
    execution = Execution(execution_id, job_id, connection=connection)
    assert job.worker_name is not None  # it was started
    connection.delete(rq.Worker.redis_worker_namespace_prefix + job.worker_name, execution.key)


@pytest.mark.parametrize("later", ["heartbeats-expired", "failed-by-maintenance"])
def test_a_trigger_after_the_killed_workers_keys_expired(
    job_app: Flask, redis_url: str, tmp_path: Path, later: str
) -> None:
    """The same, seen from another host (no process to look at), or once a
    live worker's maintenance has failed the abandoned job: rq's own
    ``Job.delete()`` raises ``ValueError: Execution ... not found in Redis``."""
    queue = queue_for(job_app.extensions["llm_logs"])
    job_id = poll_job_id(queue.name)
    killed = kill_worker_mid_job(queue, job_id, redis_url, tmp_path)
    expire_heartbeats(killed)
    if later == "failed-by-maintenance":
        queue.started_job_registry.cleanup(timestamp=time.time() + 3600)
        assert killed.get_status() == "failed"

    job = LlmLogs().enqueue_poll(job_app)
    assert (job.id, job.get_status()) == (job_id, "queued")
    assert queue.get_job_ids() == [job_id]
    assert queue.started_job_registry.get_job_and_execution_ids(cleanup=False) == []


def test_cron_jobs_have_the_triggers_unique_ids(job_app: Flask, redis_url: str) -> None:
    """``rq cron`` while no worker runs: one waiting job each, however long it runs."""
    queue = queue_for(job_app.extensions["llm_logs"])
    cron = subprocess.Popen(
        [RQ, "cron", "flask_llm_logs.cron", "--url", redis_url],
        env=rq_worker_env(
            queue,
            redis_url,
            LLM_LOGS_FLUSH_INTERVAL="1",
            LLM_LOGS_POLL_INTERVAL="1",
            LLM_LOGS_PURGE_INTERVAL="1",
            LLM_LOGS_ALERTS_INTERVAL="1",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(5)
    finally:
        cron.terminate()
        _, stderr = cron.communicate(timeout=30)
    ids = [
        flush_job_id(queue.name, None),
        poll_job_id(queue.name),
        purge_job_id(queue.name),
        alerts_job_id(queue.name),
    ]
    assert sorted(queue.get_job_ids()) == sorted(ids), stderr
    # The triggers find the cron's jobs waiting.
    assert LlmLogs().enqueue_poll(job_app).id == poll_job_id(queue.name)
    assert LlmLogs().enqueue_flush(app=job_app).id == flush_job_id(queue.name, None)
    assert LlmLogs().enqueue_alerts_check(job_app).id == alerts_job_id(queue.name)
    assert queue.count == 4
    jobs = [queue.fetch_job(job_id) for job_id in ids]
    assert {job.func for job in jobs if job is not None} == {
        flush_batches,
        poll_batches,
        purge_traces,
        check_alerts,
    }
