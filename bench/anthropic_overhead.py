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

from typing import Any

import anthropic
from overhead import database
from overhead import fake_server
from overhead import make_app
from overhead import measure
from overhead import parse_args
from overhead import report

from flask_llm_logs.instrumentation import instrument

MODEL = "claude-sonnet-4-5"
SYSTEM = "You are a terse financial analyst."
MESSAGES = [
    {"role": "user", "content": "Summarise the quarterly figures for the board in one line."},
]


def run(calls: int, database_url: str, threads: int | None, enabled: bool = True) -> dict[str, Any]:
    app = make_app("anthropic_overhead", database_url, threads, enabled, "anthropic")
    instrument(["anthropic"])
    with fake_server() as url, app.app_context():
        client = anthropic.Anthropic(
            base_url=url,
            api_key="bench",
            max_retries=0,
            http_client=anthropic.DefaultHttpxClient(verify=False),
        )
        messages = client.messages
        # The SDK's own method, as uninstrumented code calls it.
        unpatched = type(messages).create.__wrapped__

        def create() -> None:
            messages.create(model=MODEL, max_tokens=100, system=SYSTEM, messages=MESSAGES)

        def create_unpatched() -> None:
            unpatched(messages, model=MODEL, max_tokens=100, system=SYSTEM, messages=MESSAGES)

        result = measure(calls, create, create_unpatched)
        client.close()
    app.extensions["llm_logs"].shutdown()
    return result


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    with database(args) as url:
        result = run(args.calls, url, args.threads, enabled=not args.disabled)
    report("anthropic", url, result)


if __name__ == "__main__":
    main()
