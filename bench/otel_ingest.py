"""What ``LlmLogsSpanProcessor`` adds per span, against what our own instrumentation adds per call.

The issue's bar: taking in another instrumentation's spans adds no more to
the host's thread than our own instrumentation does. Four ways of making
the same ``chat.completions.create`` to the fake server (in a process of its
own, see :mod:`overhead`) alternate call by call, in one run, their order
rotated every round so no side always follows the same one:

* the SDK's own method (``plain``);
* our instrumentation (``ours``: an automatic trace and a span per call,
  handed to the real writer);
* ``opentelemetry-instrumentation-openai-v2`` with an SDK ``TracerProvider``
  that has no processor of ours (``openai-v2``);
* the same with :class:`~flask_llm_logs.otel.LlmLogsSpanProcessor` added
  (``openai-v2 + ingest``): each call's span is a trace's local root, so its
  ``on_end`` hands the whole trace over.

``ours - plain`` is what our instrumentation adds per call; ``openai-v2 +
ingest - openai-v2`` what the processor adds per span (its ``on_start`` and
``on_end`` run on the thread that starts and ends the span, the caller's).
The processor is also timed directly (``perf_counter_ns`` around its
``on_start`` and ``on_end``, which the interleaved difference includes).
openai-v2 captures the messages on its span (``SPAN_ONLY``) unless
``--no-content``, as our instrumentation captures them by default.

Usage::

    python bench/otel_ingest.py [--calls 3000] [--postgres | --database-url URL] [--no-content]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import openai
import overhead
import sqlalchemy as sa
from openai.resources.chat.completions import Completions
from opentelemetry.context import Context
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import Span
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace import TracerProvider
from tracing_overhead import MESSAGES
from tracing_overhead import completions_of

import flask_llm_logs
from flask_llm_logs.instrumentation import instrument
from flask_llm_logs.instrumentation import uninstrument
from flask_llm_logs.otel import LlmLogsSpanProcessor

SIDES = ("plain", "ours", "openai-v2", "openai-v2 + ingest")


class TimedProcessor(SpanProcessor):
    """Our processor, with the time of its ``on_start`` and ``on_end`` per span noted."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner = inner
        self.started_ns = 0
        self.per_span_ns: list[int] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        began = time.perf_counter_ns()
        self.inner.on_start(span, parent_context)
        self.started_ns = time.perf_counter_ns() - began

    def on_end(self, span: ReadableSpan) -> None:
        began = time.perf_counter_ns()
        self.inner.on_end(span)
        self.per_span_ns.append(self.started_ns + time.perf_counter_ns() - began)


def openai_v2_method(provider: TracerProvider) -> Any:
    """``Completions.create`` as openai-v2 wraps it for ``provider`` (left unwrapped after)."""
    instrumentor = OpenAIInstrumentor()  # type: ignore[no-untyped-call]
    instrumentor.instrument(tracer_provider=provider)
    try:
        return vars(Completions)["create"]
    finally:
        instrumentor.uninstrument()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per side (>= 2000)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL database")
    where.add_argument("--database-url", help="where the spans go (default: SQLite file)")
    parser.add_argument("--no-content", action="store_true", help="openai-v2 captures no content")
    args = parser.parse_args()
    if not args.no_content:
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")

    with overhead.database(args) as url:
        app = overhead.make_app("otel_ingest", url, None, True, "openai")
        # Each side wraps the SDK's own method once: openai-v2 never wraps ours
        # (that would be the "recorded by both" case), ours never wraps openai-v2.
        uninstrument()
        sdk_create = vars(Completions)["create"]
        without_ingest = openai_v2_method(TracerProvider())
        ingest_provider = TracerProvider()
        timed = TimedProcessor(LlmLogsSpanProcessor(app))
        ingest_provider.add_span_processor(timed)
        with_ingest = openai_v2_method(ingest_provider)
        instrument(["openai"])
        ours = vars(Completions)["create"]
        assert ours.__wrapped__ is sdk_create

        with overhead.fake_server() as server, app.app_context(), completions_of(server) as chat:
            request: dict[str, Any] = {"model": "gpt-4.1-mini", "messages": MESSAGES}
            bound_without = without_ingest.__get__(chat, Completions)
            bound_with = with_ingest.__get__(chat, Completions)
            calls: dict[str, Callable[[], object]] = {
                "plain": lambda: sdk_create(chat, **request),
                "ours": lambda: ours(chat, **request),
                "openai-v2": lambda: bound_without(**request),
                "openai-v2 + ingest": lambda: bound_with(**request),
            }
            times = measure(calls, args.calls)
            processor_ns = timed.per_span_ns[-args.calls :]  # the warm-up's left out
            assert flask_llm_logs.flush(timeout=120), "the writer did not catch up"
            stats = flask_llm_logs.stats()
        app.extensions["llm_logs"].shutdown()
        uninstrument()
    report(times, processor_ns, stats, args, url)


def measure(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Each side once a round, in an order rotated every round; seconds per call."""
    order = list(calls)
    times: dict[str, list[float]] = {side: [] for side in order}
    for number in range(overhead.WARM_UP + rounds):
        shift = number % len(order)
        for side in order[shift:] + order[:shift]:
            took = overhead.timed(calls[side])
            if number >= overhead.WARM_UP:
                times[side].append(took)
    return times


def report(
    times: dict[str, list[float]],
    processor_ns: list[int],
    stats: dict[str, int],
    args: argparse.Namespace,
    url: str,
) -> None:
    median = {side: statistics.median(values) * 1e6 for side, values in times.items()}

    def paired(side: str, base: str) -> float:
        pairs = zip(times[side], times[base], strict=True)
        return statistics.median(a - b for a, b in pairs) * 1e6

    backend = sa.make_url(url).get_backend_name()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"load average at the end: {load}")
    content = "no content" if args.no_content else "content on the span (SPAN_ONLY)"
    print(f"openai {openai.__version__}, spans stored in {backend}, openai-v2 with {content}")
    print(f"{len(times['plain'])} calls per side, interleaved, order rotated each round")
    for side in SIDES:
        print(f"median {side:>20}: {median[side]:8.1f} us")
    ours = median["ours"] - median["plain"]
    ingest = median["openai-v2 + ingest"] - median["openai-v2"]
    print(f"ours adds per call:         {ours:6.1f} us (paired {paired('ours', 'plain'):.1f})")
    print(
        f"the processor adds per span: {ingest:6.1f} us"
        f" (paired {paired('openai-v2 + ingest', 'openai-v2'):.1f})"
    )
    print(
        f"openai-v2 itself adds:       {median['openai-v2'] - median['plain']:6.1f} us"
        f" (paired {paired('openai-v2', 'plain'):.1f})"
    )
    timed_median = statistics.median(processor_ns) / 1e3
    timed_p90 = statistics.quantiles(processor_ns, n=10)[-1] / 1e3
    print(f"the processor's on_start + on_end, timed: {timed_median:.1f} us (p90 {timed_p90:.1f})")
    print(
        f"writer: {stats['written_spans']} spans and {stats['written_traces']} traces stored,"
        f" {stats['dropped']} dropped"
    )


if __name__ == "__main__":
    main()
