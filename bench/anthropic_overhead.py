"""What recording adds to ``anthropic`` ``messages.create`` on the caller's thread.

The real ``anthropic`` SDK calls the fake Messages API on loopback, in a
process of its own, once through the instrumented method (a span and an
automatic trace per call, stored by the real writer in a real database)
and once through the SDK's own, interleaved; see :mod:`overhead`.

Usage::

    python bench/anthropic_overhead.py [--calls 3000] [--postgres | --database-url URL]
        [--threads N] [--disabled]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from contextlib import contextmanager

import anthropic
import overhead
from overhead import Call

MODEL = "claude-sonnet-4-5"
SYSTEM = "You are a terse financial analyst."
MESSAGES = [
    {"role": "user", "content": "Summarise the quarterly figures for the board in one line."},
]


@contextmanager
def sides(url: str) -> Iterator[tuple[Call, Call]]:
    client = anthropic.Anthropic(
        base_url=url,
        api_key="bench",
        max_retries=0,
        http_client=anthropic.DefaultHttpxClient(verify=False),
    )
    with closing(client):
        messages = client.messages
        # The SDK's own method, as uninstrumented code calls it.
        unpatched = type(messages).create.__wrapped__

        def create() -> None:
            messages.create(model=MODEL, max_tokens=100, system=SYSTEM, messages=MESSAGES)

        def create_unpatched() -> None:
            unpatched(messages, model=MODEL, max_tokens=100, system=SYSTEM, messages=MESSAGES)

        yield create, create_unpatched


if __name__ == "__main__":
    overhead.main(
        __doc__.splitlines()[0],
        name="anthropic_overhead",
        sdks=["anthropic"],
        pricing_provider="anthropic",
        sides=sides,
        reported_sdk="anthropic",
    )
