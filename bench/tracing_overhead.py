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
        [--threads N] [--disabled] [--in-request {request,call}] [--stream]

By default the spans go to a throw-away SQLite file; with ``--postgres`` to
a throw-away database made on the local server (``LLM_LOGS_BENCH_POSTGRES``,
default postgres@127.0.0.1:5432) and dropped afterwards; with
``--database-url`` to that database, migrated first. ``--disabled`` sets
``LLM_LOGS_ENABLED = False``: the patched method returns at its first check,
so the difference is the method's noise floor plus the patch's wrapper.
``--stream`` asks for a streamed answer (``stream=True``, with its usage
chunk) and reads it to its end; ``--in-request``: see :mod:`overhead`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from contextlib import contextmanager
from typing import Any

import openai
import overhead
from overhead import Call

MESSAGES = [
    {"role": "system", "content": "You are a terse financial analyst."},
    {"role": "user", "content": "Summarise the quarterly figures for the board in one line."},
]


@contextmanager
def completions_of(url: str) -> Iterator[Any]:
    """``client.chat.completions`` of a client of the fake server, closed at the end."""
    client = openai.OpenAI(
        base_url=f"{url}/v1",
        api_key="bench",
        max_retries=0,
        http_client=openai.DefaultHttpxClient(verify=False),
    )
    with closing(client):
        yield client.chat.completions


@contextmanager
def sides(url: str) -> Iterator[tuple[Call, Call]]:
    with completions_of(url) as completions:
        # The SDK's own method, as uninstrumented code calls it. Switching
        # the patch on and off between calls instead would reset the
        # interpreter's attribute caches for the class every time.
        unpatched = type(completions).create.__wrapped__

        def create() -> None:
            completions.create(model="gpt-4.1-mini", messages=MESSAGES)

        def create_unpatched() -> None:
            unpatched(completions, model="gpt-4.1-mini", messages=MESSAGES)

        yield create, create_unpatched


@contextmanager
def stream_sides(url: str) -> Iterator[tuple[Call, Call]]:
    """The same request streamed with its usage chunk, each stream read to its
    end (where its span ends)."""
    with completions_of(url) as completions:
        unpatched = type(completions).create.__wrapped__
        options: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}

        def create() -> None:
            for _chunk in completions.create(model="gpt-4.1-mini", messages=MESSAGES, **options):
                pass

        def create_unpatched() -> None:
            stream = unpatched(completions, model="gpt-4.1-mini", messages=MESSAGES, **options)
            for _chunk in stream:
                pass

        yield create, create_unpatched


if __name__ == "__main__":
    overhead.main(
        __doc__.splitlines()[0],
        name="tracing_overhead",
        sdks=["openai"],
        pricing_provider="openai",
        sides=sides,
        reported_sdk="openai",
        stream_sides=stream_sides,
    )
