"""What every caller-overhead benchmark shares: the fake server in its own
process, the app, the interleaved measurement, the options and the report.

Each SDK's script (``tracing_overhead.py`` for ``openai``,
``anthropic_overhead.py``, ...) gives two calls of the same request, one
through the instrumented method and one through the SDK's own; calls
alternate one by one (instrumented, plain, instrumented, ...) so drift in
the machine's speed hits both sides alike, and the medians and their ratio
come from one run.

``--in-request request`` (or ``call``) makes every call, on both sides,
inside a Flask request of its own (``POST /chat/<int:conversation>``) with
``LLM_LOGS_AUTO_TRACE`` set so: the automatic trace reads the request's
route, endpoint and user. The request is entered before the clock starts
and left after it stops, so its teardown (which ends a request's trace) is
not in the LLM call's time. ``--stream`` (scripts that have it) reads a
streamed answer to its end.
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
from contextlib import AbstractContextManager
from contextlib import contextmanager
from contextlib import nullcontext
from typing import Any

import sqlalchemy as sa
from benchdb import create_tables
from benchdb import throwaway_database
from flask import Flask

import flask_llm_logs
from flask_llm_logs import LlmLogs
from flask_llm_logs.instrumentation import instrument

Call = Callable[[], object]
#: Given the fake server's URL, the instrumented call and the plain one, for
#: as long as the context lasts (the SDK's client is closed at its end).
Sides = Callable[[str], AbstractContextManager[tuple[Call, Call]]]

WARM_UP = 200
SERVE = """
import sys
from flask_llm_logs.testing import FakeOpenAI
with FakeOpenAI(record_requests=False) as fake:
    print(fake.url, flush=True)
    sys.stdin.read()
"""


@contextmanager
def fake_server() -> Iterator[str]:
    """The fake server in a child process (in this one, its threads would take
    turns at the GIL with the caller); yields its URL, without ``/v1``."""
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        yield child.stdout.readline().strip()
    finally:
        child.communicate("", timeout=10)


#: The route of the requests ``--in-request`` makes its calls in.
ROUTE = "/chat/<int:conversation>"


def make_app(
    name: str,
    database_url: str,
    threads: int | None,
    enabled: bool,
    pricing_provider: str,
    auto_trace: str = "request",
) -> Flask:
    create_tables(database_url)
    app = Flask(name)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url,
        LLM_LOGS_PRICING_PROVIDER=pricing_provider,
        LLM_LOGS_WRITER_THREADS=threads,
        LLM_LOGS_ENABLED=enabled,
        LLM_LOGS_AUTO_TRACE=auto_trace,
    )
    app.add_url_rule(ROUTE, "chat", lambda conversation: "", methods=["POST"])
    LlmLogs(app)
    return app


def request_contexts(app: Flask) -> Callable[[], AbstractContextManager[object]]:
    """A new request to ``ROUTE`` each time it is called (``--in-request``)."""
    return lambda: app.test_request_context("/chat/7", method="POST")


def timed(call: Call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def measure(
    calls: int,
    instrumented_call: Call,
    plain_call: Call,
    around: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> dict[str, Any]:
    """Interleave the two calls ``calls`` times each (after a warm-up) in an app
    context, each inside a context of its own from ``around`` (a request)."""
    instrumented: list[float] = []
    plain: list[float] = []
    for _ in range(WARM_UP):
        with around():
            instrumented_call()
        with around():
            plain_call()
    flask_llm_logs.flush()
    for _ in range(calls):
        with around():
            instrumented.append(timed(instrumented_call))
        with around():
            plain.append(timed(plain_call))
    assert flask_llm_logs.flush(timeout=60), "the writer did not catch up"
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
        "stats": flask_llm_logs.stats(),
    }


def parse_args(description: str, *, can_stream: bool = False) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--calls", type=int, default=3000, help="calls per side (>= 2000)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL database")
    where.add_argument("--database-url", help="where the spans go (default: SQLite file)")
    parser.add_argument("--threads", type=int, help="LLM_LOGS_WRITER_THREADS")
    parser.add_argument("--disabled", action="store_true", help="LLM_LOGS_ENABLED = False")
    parser.add_argument(
        "--in-request",
        choices=["request", "call"],
        help="each call in a Flask request of its own, with this LLM_LOGS_AUTO_TRACE",
    )
    if can_stream:
        parser.add_argument("--stream", action="store_true", help="a streamed answer, read fully")
    return parser.parse_args()


@contextmanager
def database(args: argparse.Namespace) -> Iterator[str]:
    """The database URL the options name: a throw-away one by default."""
    with contextlib.ExitStack() as stack:
        if args.postgres:
            yield stack.enter_context(throwaway_database())
        elif args.database_url:
            yield args.database_url
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            yield f"sqlite:///{os.path.join(folder, 'bench.sqlite3')}"


def report(sdk: str, url: str, result: dict[str, Any], args: argparse.Namespace) -> None:
    backend = sa.make_url(url).get_backend_name()
    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"{sdk} {sys.modules[sdk].__version__}, spans stored in {backend}")
    where = "outside any request"
    if args.in_request:
        where = f"each in a request, LLM_LOGS_AUTO_TRACE = {args.in_request!r}"
    streamed = ", streamed" if getattr(args, "stream", False) else ""
    print(f"{result['calls']} calls per side{streamed}, interleaved, {where}")
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


def run(
    args: argparse.Namespace,
    database_url: str,
    *,
    name: str,
    sdks: list[str],
    pricing_provider: str,
    sides: Sides,
) -> dict[str, Any]:
    """One measurement: the app and the instrumentation first, so the SDK's
    client that ``sides`` builds is the patched one, then the calls."""
    app = make_app(
        name,
        database_url,
        args.threads,
        not args.disabled,
        pricing_provider,
        auto_trace=args.in_request or "request",
    )
    instrument(sdks)
    around = request_contexts(app) if args.in_request else nullcontext
    with fake_server() as url, app.app_context(), sides(url) as (instrumented, plain):
        result = measure(args.calls, instrumented, plain, around)
    app.extensions["llm_logs"].shutdown()
    return result


def main(
    description: str,
    *,
    name: str,
    sdks: list[str],
    pricing_provider: str,
    sides: Sides,
    reported_sdk: str,
    note: str | None = None,
    stream_sides: Sides | None = None,
) -> None:
    """What each script's ``__main__`` does: options, database, run, report
    (``note`` first, when the measured call is not the reported SDK's).
    ``stream_sides``, when the script has them, are measured with ``--stream``."""
    args = parse_args(description, can_stream=stream_sides is not None)
    if getattr(args, "stream", False):
        assert stream_sides is not None
        sides = stream_sides
    with database(args) as url:
        result = run(
            args, url, name=name, sdks=sdks, pricing_provider=pricing_provider, sides=sides
        )
    if note is not None:
        print(note)
    report(reported_sdk, url, result, args)
