"""Time of the prompt page's "Results by label": its labelled versions compared.

Two labelled versions share ``--traces`` traces (90 % and 10 %, as a split
would), each linked to its version and with one LLM call naming it (a
duration, a cost and a status); one trace in ten has a numeric score. The
metrics table is filled from the spans by SQL, as the writer would have
(``ui_pages.fill_metrics``). The comparison
(:func:`flask_llm_logs.web.prompt_results.labelled_results`) is timed
``--runs`` times on PostgreSQL after a warm-up; the median is shown.

Usage::

    python bench/prompt_results.py [--traces 200000] [--runs 7] [--database-url ...]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import datetime
from datetime import timezone

import sqlalchemy as sa
from benchdb import create_tables
from benchdb import throwaway_database
from flask import Flask
from ui_pages import fill_metrics

from flask_llm_logs import LlmLogs
from flask_llm_logs import Prompt
from flask_llm_logs.models import Score
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.state import get_state
from flask_llm_logs.web.prompt_results import labelled_results

CHUNK = 10_000


def fill(traces: int, version_ids: tuple[int, int]) -> None:
    engine = get_state().engine
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        for start in range(0, traces, CHUNK):
            rows, calls, scores = [], [], []
            for _ in range(start, min(traces, start + CHUNK)):
                trace_id = uuid.uuid4()
                version_id = version_ids[rng.random() < 0.1]
                call = {
                    "status": "error" if rng.random() < 0.02 else "completed",
                    "duration_ms": rng.lognormvariate(7, 0.5),
                    "cost": 0.001,
                    "started_at": now,
                }
                rows.append(
                    {"id": trace_id, "name": "reply", "prompt_version_id": version_id, **call}
                )
                calls.append(
                    {
                        "id": uuid.uuid4(),
                        "trace_id": trace_id,
                        "name": "chat",
                        "kind": "llm",
                        "metadata": {"prompt_version_id": version_id},
                        **call,
                    }
                )
                if rng.random() < 0.1:
                    scores.append(
                        {"id": uuid.uuid4(), "trace_id": trace_id, "name": "helpful", "value": 1.0}
                    )
            connection.execute(sa.insert(Trace), rows)
            connection.execute(sa.insert(Span.__table__), calls)
            if scores:
                connection.execute(sa.insert(Score), scores)
        fill_metrics(connection)
        connection.execute(sa.text("ANALYZE llm_logs_traces; ANALYZE llm_logs_scores"))
        connection.execute(sa.text("ANALYZE llm_logs_metrics"))


def run(database_url: str, traces: int, runs: int) -> None:
    create_tables(database_url)
    app = Flask("bench")
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url)
    LlmLogs(app)
    with app.app_context():
        prompt = Prompt.create(slug="support-reply", name="Support reply")
        for text in ("v1", "v2"):
            prompt.update_content(messages=[{"role": "user", "content": text}])
        prompt.set_label("production", version=1)
        prompt.set_label("candidate", version=2)
        fill(traces, (prompt.version(1).id, prompt.version(2).id))
        session = get_state().session
        labelled_results(session, prompt.id)
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            results = labelled_results(session, prompt.id)
            samples.append((time.perf_counter() - start) * 1000)
    calls = sum(result.calls for result in results)
    print(f"LLM calls: {calls:,} over {len(results)} labelled versions")
    print(f"labelled_results: median {statistics.median(samples):.0f} ms over {runs} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if args.database_url:
        run(args.database_url, args.traces, args.runs)
    else:
        with throwaway_database() as url:
            run(url, args.traces, args.runs)


if __name__ == "__main__":
    main()
