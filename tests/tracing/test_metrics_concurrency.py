"""The metrics stay exact while writer threads and processes add to the same rows at once."""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

import flask_llm_logs
from flask_llm_logs import LlmLogs
from flask_llm_logs import migrations
from flask_llm_logs.state import get_state
from tests.helpers.metrics import assert_matches
from tests.helpers.metrics import expected
from tests.helpers.metrics import random_trace
from tests.helpers.metrics import raw_llm_spans

ROOT = Path(__file__).resolve().parent.parent.parent
#: Small batches from many lanes: many transactions adding to the same rows at once.
WRITER = {
    "LLM_LOGS_WRITER_THREADS": 4,
    "LLM_LOGS_WRITER_BATCH_SIZE": 15,
    "LLM_LOGS_WRITER_FLUSH_INTERVAL": 0.01,
    "LLM_LOGS_AUTO_INSTRUMENT": False,
}
#: Every trace starts in the same two minutes, so all writers meet on the same rows.
STARTED_AT = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).timestamp()
TRACES_PER_PRODUCER = 60

#: The second process: the same workload with its own seed, through its own writer.
OTHER_PROCESS = """
import random, sys
from flask import Flask
import flask_llm_logs
from flask_llm_logs import LlmLogs
from tests.helpers.metrics import random_trace
from tests.tracing.test_metrics_concurrency import WRITER, produce

app = Flask("other")
app.config.update(SQLALCHEMY_DATABASE_URI=sys.argv[1], **WRITER)
LlmLogs(app)
with app.app_context():
    produce(app, int(sys.argv[2]))
    assert flask_llm_logs.flush(60)
    print(flask_llm_logs.stats())
"""


def produce(app: Flask, seed: int) -> None:
    """Submit :data:`TRACES_PER_PRODUCER` random traces, all in the same minutes."""
    rng = random.Random(seed)
    writer = get_state(app).writer
    for _ in range(TRACES_PER_PRODUCER):
        for record in random_trace(rng, rng.randrange(1, 12), STARTED_AT + rng.uniform(0, 60)):
            writer.submit(record)


@pytest.mark.postgres
def test_writer_threads_and_processes_keep_the_sums_exact(postgres_server: Any) -> None:
    url = postgres_server.create_database()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        migrations.upgrade(connection)
    engine.dispose()
    app = Flask("metrics_concurrency")
    app.config.update(SQLALCHEMY_DATABASE_URI=url, **WRITER)
    LlmLogs(app)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, url, "1000"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with app.app_context():
            producers = [threading.Thread(target=produce, args=(app, seed)) for seed in range(3)]
            for producer in producers:
                producer.start()
            for producer in producers:
                producer.join()
            output = other.communicate(timeout=120)[0]
            assert other.returncode == 0, output
            assert flask_llm_logs.flush(60)
            stats = flask_llm_logs.stats()
            assert stats["dropped"] == stats["errors"] == 0, stats

            rows = raw_llm_spans(app)
            assert len(rows) > 500
            since = dt.datetime.fromtimestamp(STARTED_AT, dt.timezone.utc) - dt.timedelta(days=1)
            for group_by in (("model",), ("user", "name", "status"), ()):
                actual = flask_llm_logs.metrics(since=since, group_by=group_by)
                assert_matches(actual, expected(rows, group_by), group_by)
            per_minute = flask_llm_logs.metrics(since=since, group_by=("user",), bucket="minute")
            assert sum(row["calls"] for row in per_minute) == len(rows)
    finally:
        other.kill()
        get_state(app).shutdown()
        with app.app_context():
            get_state(app).engine.dispose()
