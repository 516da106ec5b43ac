"""How long a host thread waits for the interpreter lock while the writer stores a big span.

A host thread sleeps 1 ms at a time and records how much later than asked
it woke up: the worst delay is the longest it could not run Python, for
the lock or (on a busy machine) the CPU. Meanwhile the main thread records
one span of ``--mb`` megabytes and flushes the writer into a throw-away
PostgreSQL database, ``--repeat`` times per payload shape: one long string,
and many short messages. Run it against an older checkout (``PYTHONPATH``)
to compare.

Usage::

    python bench/writer_gil.py [--mb 10] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from typing import Any

from benchdb import create_tables
from benchdb import throwaway_database
from flask import Flask

from flask_llm_logs import LlmLogs
from flask_llm_logs.state import get_state
from flask_llm_logs.tracing.context import ActiveTrace
from flask_llm_logs.tracing.records import SpanRecord


class Sleeper(threading.Thread):
    """Sleeps 1 ms in a loop; ``worst`` is the largest oversleep since the last reset."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.worst = 0.0
        self.running = True

    def run(self) -> None:
        while self.running:
            began = time.perf_counter()
            time.sleep(0.001)
            self.worst = max(self.worst, time.perf_counter() - began - 0.001)


def payloads(megabytes: float) -> dict[str, Any]:
    size = int(megabytes * 2**20)
    return {
        "one string": {"role": "assistant", "content": "**Answer:** hold. " * (size // 18)},
        "1 KB messages": [
            {"role": "user", "content": f"{n} " + "x" * 1000} for n in range(size // 1024)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with throwaway_database() as url:
        create_tables(url)
        app = Flask("bench_gil")
        app.config.update(SQLALCHEMY_DATABASE_URI=url, LLM_LOGS_AUTO_INSTRUMENT=False)
        LlmLogs(app)
        writer = get_state(app).writer
        sleeper = Sleeper()
        sleeper.start()
        print(f"\n{'payload':<16} {'worst wait ms':>14} {'median of worsts':>17} {'store ms':>9}")
        for label, payload in payloads(args.mb).items():
            worsts, stores = [], []
            for _ in range(args.repeat + 1):  # the first one warms up
                record = SpanRecord(
                    id=uuid.uuid4(),
                    trace_id=uuid.uuid4(),
                    parent_id=None,
                    name="big",
                    started_at=time.time(),
                    output=payload,
                    automatic=ActiveTrace(uuid.uuid4(), "big", time.time(), {}, None, False),
                )
                time.sleep(0.05)
                sleeper.worst = 0.0
                began = time.perf_counter()
                writer.submit(record)
                assert writer.flush(120)
                stores.append((time.perf_counter() - began) * 1000)
                worsts.append(sleeper.worst * 1000)
            worsts, stores = worsts[1:], stores[1:]
            print(
                f"{label:<16} {max(worsts):>14.1f} {statistics.median(worsts):>17.1f}"
                f" {statistics.median(stores):>9.0f}"
            )
        sleeper.running = False
        get_state(app).shutdown()


if __name__ == "__main__":
    main()
