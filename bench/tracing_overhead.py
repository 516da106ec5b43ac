"""What recording adds to ``chat.completions.create`` on the caller's thread.

The real ``openai`` SDK calls the fake server on loopback (in a process of
its own, as a real API would be: in this process its threads would take
turns at the GIL with the caller), once with the instrumentation in place
(a span and an automatic trace per call, handed to the real background
writer, which stores them in a real database) and once without it. Calls
alternate one by one (instrumented, plain, instrumented, ...) so drift in
the machine's speed hits both sides alike; the medians and their ratio
come from this one run.

Usage::

    python bench/tracing_overhead.py [--calls 3000] [--postgres | --database-url URL]
        [--threads N] [--disabled]

By default the spans go to a throw-away SQLite file; with ``--postgres`` to
a throw-away database made on the local server (``LLM_LOGS_BENCH_POSTGRES``,
default postgres@127.0.0.1:5432) and dropped afterwards; with
``--database-url`` to that database, migrated first. ``--disabled`` sets
``LLM_LOGS_ENABLED = False``: the patched method returns at its first check,
so the difference is the method's noise floor plus the patch's wrapper.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai
import sqlalchemy as sa
from benchdb import create_tables
from benchdb import throwaway_database
from flask import Flask

import flask_llm_logs
from flask_llm_logs import LlmLogs
from flask_llm_logs.instrumentation import instrument

MESSAGES = [
    {"role": "system", "content": "You are a terse financial analyst."},
    {"role": "user", "content": "Summarise the quarterly figures for the board in one line."},
]
WARM_UP = 200
SERVE = """
import sys
from flask_llm_logs.testing import FakeOpenAI
with FakeOpenAI(record_requests=False) as fake:
    print(fake.base_url, flush=True)
    sys.stdin.read()
"""


@contextmanager
def fake_server() -> Iterator[str]:
    """The fake OpenAI server in a child process; yields its base URL."""
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        yield child.stdout.readline().strip()
    finally:
        child.communicate("", timeout=10)


def make_app(database_url: str, threads: int | None, enabled: bool) -> Flask:
    create_tables(database_url)
    app = Flask("tracing_overhead")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url,
        LLM_LOGS_PRICING_PROVIDER="openai",
        LLM_LOGS_WRITER_THREADS=threads,
        LLM_LOGS_ENABLED=enabled,
    )
    LlmLogs(app)
    return app


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def run(calls: int, database_url: str, threads: int | None, enabled: bool = True) -> dict[str, Any]:
    app = make_app(database_url, threads, enabled)
    instrument()
    instrumented: list[float] = []
    plain: list[float] = []
    with fake_server() as base_url, app.app_context():
        client = openai.OpenAI(
            base_url=base_url,
            api_key="bench",
            max_retries=0,
            http_client=openai.DefaultHttpxClient(verify=False),
        )

        completions = client.chat.completions
        # The SDK's own method, as uninstrumented code calls it. Switching
        # the patch on and off between calls instead would reset the
        # interpreter's attribute caches for the class every time.
        unpatched = type(completions).create.__wrapped__

        def create() -> None:
            completions.create(model="gpt-4.1-mini", messages=MESSAGES)

        def create_unpatched() -> None:
            unpatched(completions, model="gpt-4.1-mini", messages=MESSAGES)

        for _ in range(WARM_UP):
            create()
            create_unpatched()
        flask_llm_logs.flush()
        for _ in range(calls):
            instrumented.append(timed(create))
            plain.append(timed(create_unpatched))
        assert flask_llm_logs.flush(timeout=60), "the writer did not catch up"
        stats = flask_llm_logs.stats()
        client.close()
    app.extensions["llm_logs"].shutdown()
    with_median = statistics.median(instrumented)
    without_median = statistics.median(plain)
    return {
        "calls": calls,
        "with_us": with_median * 1e6,
        "without_us": without_median * 1e6,
        "added_us": (with_median - without_median) * 1e6,
        "ratio": with_median / without_median,
        # Each instrumented call against the plain call right after it:
        # less sensitive to the load of the moment than two medians.
        "paired_us": statistics.median(a - b for a, b in zip(instrumented, plain, strict=True))
        * 1e6,
        "with_p90_us": statistics.quantiles(instrumented, n=10)[-1] * 1e6,
        "without_p90_us": statistics.quantiles(plain, n=10)[-1] * 1e6,
        "stats": stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per side (>= 2000)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL database")
    where.add_argument("--database-url", help="where the spans go (default: SQLite file)")
    parser.add_argument("--threads", type=int, help="LLM_LOGS_WRITER_THREADS")
    parser.add_argument("--disabled", action="store_true", help="LLM_LOGS_ENABLED = False")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.postgres:
            url = stack.enter_context(throwaway_database())
        elif args.database_url:
            url = args.database_url
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            url = f"sqlite:///{os.path.join(folder, 'bench.sqlite3')}"
        result = run(args.calls, url, args.threads, enabled=not args.disabled)
    backend = sa.make_url(url).get_backend_name()
    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"openai {sys.modules['openai'].__version__}, spans stored in {backend}")
    print(f"{result['calls']} calls per side, interleaved")
    print(f"median without instrumentation: {result['without_us']:8.1f} us")
    print(f"median with instrumentation:    {result['with_us']:8.1f} us")
    print(
        f"added: {result['added_us']:.1f} us median, ratio {result['ratio']:.3f}"
        f" (p90 {result['without_p90_us']:.1f} -> {result['with_p90_us']:.1f} us)"
    )
    print(f"median of paired differences: {result['paired_us']:.1f} us")
    stats = result["stats"]
    print(
        f"writer: {stats['written_spans']} spans and {stats['written_traces']} traces stored,"
        f" {stats['dropped']} dropped"
    )


if __name__ == "__main__":
    main()
