"""An ``rq cron`` configuration: flush and poll batches, purge old traces, check alerts.

Run one cron process next to the workers::

    FLASK_APP=myapp rq cron flask_llm_logs.cron --url redis://localhost:6379/0

It queues ``flush_batches()`` (every purpose) every
``LLM_LOGS_FLUSH_INTERVAL`` seconds (default 300) and ``poll_batches()``
every ``LLM_LOGS_POLL_INTERVAL`` seconds (default 60), and ``purge_traces()``
every ``LLM_LOGS_PURGE_INTERVAL`` seconds (default 86400, daily), and
``check_alerts()`` every ``LLM_LOGS_ALERTS_INTERVAL`` seconds (default 60) on the queue
named by ``LLM_LOGS_QUEUE`` (default ``llm_logs``), each under its trigger's
job id (see :mod:`.unique_cron`): while no worker runs, at most one of each
waits. The jobs are safe to overlap. Copy this file into your app to change
the schedule (``cron="*/5 * * * *"``).
"""

from __future__ import annotations

import os

from rq import cron

from . import unique_cron
from .jobs import JOB_TIMEOUT
from .jobs import check_alerts
from .jobs import flush_batches
from .jobs import poll_batches
from .jobs import purge_traces

QUEUE = os.environ.get("LLM_LOGS_QUEUE", "llm_logs")

#: Each job and the environment variable naming its interval in seconds, with its default.
SCHEDULE = (
    (flush_batches, "LLM_LOGS_FLUSH_INTERVAL", 300),
    (poll_batches, "LLM_LOGS_POLL_INTERVAL", 60),
    (purge_traces, "LLM_LOGS_PURGE_INTERVAL", 86400),
    (check_alerts, "LLM_LOGS_ALERTS_INTERVAL", 60),
)


def _register() -> None:
    unique_cron.install()
    for job, variable, default in SCHEDULE:
        cron.register(
            job,
            queue_name=QUEUE,
            interval=int(os.environ.get(variable, str(default))),
            job_timeout=JOB_TIMEOUT,
        )


_register()
