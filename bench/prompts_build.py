"""Time of ``Prompt.load(slug).build(...)`` for a two-message prompt, cached and uncached.

The prompt is the one from the issue: a system and a user message with three
variables and two model parameters. Each call is timed on its own with
``perf_counter_ns``; the table shows the median and p99 over ``--calls``
calls after a warm-up. Cached calls are served from the per-process cache
(the TTL is set long enough that no entry expires during the run); uncached
calls pass ``cache=False`` and so read the prompt and its current version
from PostgreSQL (one query over loopback) on every call. The labelled rows
load by ``label="production"`` and by a split (``assign_by``, a new key each
call), both cached.

Usage::

    python bench/prompts_build.py [--calls 20000] [--uncached-calls 2000]
        [--database-url postgresql+psycopg2://...]

Without ``--database-url`` a throw-away database is created on the local
server (``LLM_LOGS_BENCH_POSTGRES``, default postgres@127.0.0.1:5432) and
dropped afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from benchdb import create_tables
from benchdb import throwaway_database
from flask import Flask

from flask_llm_logs import LlmLogs
from flask_llm_logs import Prompt

MESSAGES = [
    {"role": "system", "content": "You analyze trading strategies for {{app_name}}."},
    {"role": "user", "content": "Analyze {{strategy_name}} on the {{timeframe}} timeframe."},
]
VARIABLES = {"app_name": "Tradebot", "strategy_name": "Momentum Alpha", "timeframe": "4h"}


def timings_us(call: Callable[[], object], count: int) -> list[float]:
    for _ in range(min(count, 500)):
        call()
    samples = []
    for _ in range(count):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def run(database_url: str, calls: int, uncached_calls: int) -> None:
    create_tables(database_url)
    app = Flask("bench")
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, LLM_LOGS_PROMPT_CACHE_TTL=3600)
    LlmLogs(app)
    with app.app_context():
        Prompt.create(slug="strategy-analysis", name="Strategy Analysis").update_content(
            messages=MESSAGES,
            model="claude-sonnet-4",
            model_params={"temperature": 0.3, "max_tokens": 2048},
        )
        cached = timings_us(lambda: Prompt.load("strategy-analysis").build(**VARIABLES), calls)
        prompt = Prompt.load("strategy-analysis")
        prompt.set_label("production", version=1)
        prompt.set_label("candidate", version=1)
        prompt.split({"production": 90, "candidate": 10})
        labelled = timings_us(
            lambda: Prompt.load("strategy-analysis", label="production").build(**VARIABLES), calls
        )
        keys = iter(range(10**9))
        split = timings_us(
            lambda: Prompt.load("strategy-analysis", assign_by=next(keys)).build(**VARIABLES),
            calls,
        )
        uncached = timings_us(
            lambda: Prompt.load("strategy-analysis", cache=False).build(**VARIABLES),
            uncached_calls,
        )
    print(f"{'load + build':<34} {'calls':>7} {'median µs':>10} {'p99 µs':>10}")
    for label, samples in (
        ("cached (per-process cache)", cached),
        ("cached, label=production", labelled),
        ("cached, assign_by (a split)", split),
        ("uncached (cache=False, PostgreSQL)", uncached),
    ):
        print(
            f"{label:<34} {len(samples):>7} {statistics.median(samples):>10.1f}"
            f" {p99(samples):>10.1f}"
        )
    ratio = statistics.median(uncached) / statistics.median(cached)
    print(f"uncached / cached median: {ratio:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--uncached-calls", type=int, default=2_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if args.database_url:
        run(args.database_url, args.calls, args.uncached_calls)
    else:
        with throwaway_database() as url:
            run(url, args.calls, args.uncached_calls)


if __name__ == "__main__":
    main()
