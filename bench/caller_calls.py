"""How many Python-level calls the instrumentation adds to one LLM call, counted.

Timings of the caller's overhead move with the machine's load (other work
on two cores turns a 1.2 ms call into 15 ms); the calls made on the
caller's thread do not. This script makes the same calls as the overhead
benchmarks (the real SDK against its fake server in a process of its own,
the real writer), counts with :mod:`cProfile` on the caller's thread only
(the profiler follows the thread that enabled it, so the writer's threads
are not counted), and prints the calls of an instrumented call minus those
of a plain one. Each function and builtin called counts one, however cheap;
between two calls of an SDK each costs several times its warm price, so
fewer is faster (see ``docs/performance.rst``).

Usage::

    python bench/caller_calls.py [chat | stream | request | call | anthropic | google]
        [--calls 300] [--list]

``request`` and ``call``: each openai call in a Flask request of its own,
with that ``LLM_LOGS_AUTO_TRACE``; ``--list`` names the functions added.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import overhead

import flask_llm_logs
from flask_llm_logs.instrumentation import instrument

#: Each kind: its script's module, the SDK to instrument, its sides' name, the auto trace.
KINDS = {
    "chat": ("tracing_overhead", "openai", "sides", None),
    "stream": ("tracing_overhead", "openai", "stream_sides", None),
    "request": ("tracing_overhead", "openai", "sides", "request"),
    "call": ("tracing_overhead", "openai", "sides", "call"),
    "anthropic": ("anthropic_overhead", "anthropic", "sides", None),
    "google": ("google_overhead", "google", "sides", None),
}


def count(
    call: Callable[[], object], calls: int, around: Callable[[], AbstractContextManager[object]]
) -> pstats.Stats:
    """The calls ``call`` makes ``calls`` times, each inside its own ``around()`` (not counted)."""
    profile = cProfile.Profile()
    for _ in range(calls):
        with around():
            profile.enable()
            call()
            profile.disable()
    return pstats.Stats(profile)


def added(instrumented: pstats.Stats, plain: pstats.Stats, calls: int) -> list[tuple[float, str]]:
    """The functions called more often with the instrumentation, per LLM call."""
    before: dict[Any, Any] = plain.stats  # type: ignore[attr-defined]
    rows = []
    for (path, line, name), entry in instrumented.stats.items():  # type: ignore[attr-defined]
        more = entry[1] - before.get((path, line, name), (0, 0))[1]
        if more > calls // 3:
            rows.append((more / calls, f"{path.rsplit('site-packages/', 1)[-1]}:{line} {name}"))
    return sorted(rows, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=list(KINDS), nargs="?", default="chat")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--list", action="store_true", help="name the functions added")
    args = parser.parse_args()
    module_name, sdk, sides_name, auto_trace = KINDS[args.kind]
    sides = getattr(__import__(module_name), sides_name)
    with tempfile.TemporaryDirectory() as folder:
        app = overhead.make_app(
            "caller_calls",
            f"sqlite:///{folder}/bench.sqlite3",
            None,
            True,
            sdk,
            auto_trace=auto_trace or "request",
        )
        instrument([sdk])
        around = overhead.request_contexts(app) if auto_trace else contextlib.nullcontext
        with overhead.fake_server() as url, app.app_context(), sides(url) as (with_, without):
            for _ in range(overhead.WARM_UP // 4):
                with around():
                    with_()
                with around():
                    without()
            instrumented = count(with_, args.calls, around)
            plain = count(without, args.calls, around)
            assert flask_llm_logs.flush(timeout=60), "the writer did not catch up"
        app.extensions["llm_logs"].shutdown()
    per_call = (instrumented.total_calls - plain.total_calls) / args.calls  # type: ignore[attr-defined]
    print(f"{args.kind}: {per_call:.1f} Python-level calls added per LLM call ({args.calls} calls)")
    if args.list:
        for more, where in added(instrumented, plain, args.calls):
            print(f"{more:6.2f}  {where}")


if __name__ == "__main__":
    main()
