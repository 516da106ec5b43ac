"""``rq cron`` jobs queued under the ids of the ``enqueue_*`` triggers.

rq 3.0's ``cron.register`` takes no job id: ``rq cron`` queued a new flush,
poll, purge or alert check at every interval whatever waited already (7 jobs in 8 s with
no worker running). After :func:`install`, rq's scheduler queues the
functions of :data:`JOB_IDS` through :func:`.jobs.enqueue_unique`, so at
most one of each waits and a trigger finds the cron's job; it queues any
other function as rq does. A cron config calls it before registering.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import rq
from redis import Redis
from rq import cron

from .jobs import alerts_job_id
from .jobs import check_alerts
from .jobs import enqueue_unique
from .jobs import flush_batches
from .jobs import flush_job_id
from .jobs import poll_batches
from .jobs import poll_job_id
from .jobs import purge_job_id
from .jobs import purge_traces

#: The id each of our jobs gets on a queue: the one its ``enqueue_*`` trigger uses.
JOB_IDS: dict[Callable[..., Any], Callable[[str], str]] = {
    flush_batches: lambda queue_name: flush_job_id(queue_name, None),
    poll_batches: poll_job_id,
    purge_traces: purge_job_id,
    check_alerts: alerts_job_id,
}


class UniqueCronJob(cron.CronJob):
    """A cron job that queues the functions of :data:`JOB_IDS` under their unique id."""

    def enqueue(self, connection: Redis) -> rq.job.Job:
        func = self.func
        job_id = JOB_IDS.get(func) if func is not None else None
        if func is None or job_id is None:
            return super().enqueue(connection)
        queue = rq.Queue(self.queue_name, connection=connection)
        return enqueue_unique(queue, job_id(queue.name), func, *self.args)


def install() -> None:
    """Make rq's scheduler build :class:`UniqueCronJob` for every cron job.

    ``rq cron`` gives no way to choose the class: its ``CronScheduler.register``
    builds whatever ``rq.cron.CronJob`` names when a config is loaded.
    """
    cron.CronJob = UniqueCronJob  # type: ignore[misc]
