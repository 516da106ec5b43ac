"""An ``rq cron`` configuration: flush and poll batches, purge old traces.

Run one cron process next to the workers::

    FLASK_APP=myapp rq cron flask_llm_logs.cron --url redis://localhost:6379/0

It queues ``flush_batches()`` (every purpose) every
``LLM_LOGS_FLUSH_INTERVAL`` seconds (default 300) and ``poll_batches()``
every ``LLM_LOGS_POLL_INTERVAL`` seconds (default 60), and ``purge_traces()``
every ``LLM_LOGS_PURGE_INTERVAL`` seconds (default 86400, daily) on the queue
named by ``LLM_LOGS_QUEUE`` (default ``llm_logs``). The jobs are safe to overlap.
Copy this file into your app to change the schedule (``cron="*/5 * * * *"``).

Each job is queued under the id the ``enqueue_*`` triggers use (see
:func:`.jobs.enqueue_unique`), so while no worker runs at most one of each
waits, and a trigger and the cron never queue the same work twice. rq's
``cron.register`` takes no job id, so importing this module makes rq's
scheduler build :class:`UniqueCronJob` for every cron job: it queues the
functions in :data:`JOB_IDS` that way and any other as rq does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import rq
from redis import Redis
from rq import cron

from .jobs import JOB_TIMEOUT
from .jobs import enqueue_unique
from .jobs import flush_batches
from .jobs import flush_job_id
from .jobs import poll_batches
from .jobs import poll_job_id
from .jobs import purge_job_id
from .jobs import purge_traces

QUEUE = os.environ.get("LLM_LOGS_QUEUE", "llm_logs")

#: The id each of our jobs gets on a queue: the one its ``enqueue_*`` trigger uses.
JOB_IDS: dict[Callable[..., Any], Callable[[str], str]] = {
    flush_batches: lambda queue_name: flush_job_id(queue_name, None),
    poll_batches: poll_job_id,
    purge_traces: purge_job_id,
}


class UniqueCronJob(cron.CronJob):
    """A cron job that queues the functions of :data:`JOB_IDS` under their unique id."""

    def enqueue(self, connection: Redis) -> rq.job.Job:
        job_id = JOB_IDS.get(self.func) if self.func is not None else None
        if job_id is None:
            return super().enqueue(connection)
        queue = rq.Queue(self.queue_name, connection=connection)
        return enqueue_unique(queue, job_id(queue.name), self.func, *self.args)


# rq's CronScheduler.register builds the class named cron.CronJob.
cron.CronJob = UniqueCronJob  # type: ignore[misc]

cron.register(
    flush_batches,
    queue_name=QUEUE,
    interval=int(os.environ.get("LLM_LOGS_FLUSH_INTERVAL", "300")),
    job_timeout=JOB_TIMEOUT,
)
cron.register(
    poll_batches,
    queue_name=QUEUE,
    interval=int(os.environ.get("LLM_LOGS_POLL_INTERVAL", "60")),
    job_timeout=JOB_TIMEOUT,
)
cron.register(
    purge_traces,
    queue_name=QUEUE,
    interval=int(os.environ.get("LLM_LOGS_PURGE_INTERVAL", "86400")),
    job_timeout=JOB_TIMEOUT,
)
