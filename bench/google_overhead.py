"""What recording adds to ``google-genai`` ``generate_content`` on the caller's thread.

The real ``google-genai`` SDK calls the fake Gemini API on loopback, in a
process of its own, once through the instrumented method (a span and an
automatic trace per call, stored by the real writer in a real database)
and once through the SDK's own, interleaved; see :mod:`overhead`.

Usage::

    python bench/google_overhead.py [--calls 3000] [--postgres | --database-url URL]
        [--threads N] [--disabled]
"""

from __future__ import annotations

from typing import Any

from google import genai
from google.genai import types
from overhead import database
from overhead import fake_server
from overhead import make_app
from overhead import measure
from overhead import parse_args
from overhead import report

from flask_llm_logs.instrumentation import instrument

MODEL = "gemini-2.5-flash"
CONTENTS = "Summarise the quarterly figures for the board in one line."
CONFIG = types.GenerateContentConfig(
    system_instruction="You are a terse financial analyst.", max_output_tokens=100
)


def run(calls: int, database_url: str, threads: int | None, enabled: bool = True) -> dict[str, Any]:
    app = make_app("google_overhead", database_url, threads, enabled, "google")
    instrument(["google"])
    with fake_server() as url, app.app_context():
        client = genai.Client(
            api_key="bench",
            http_options=types.HttpOptions(
                base_url=url, retry_options=types.HttpRetryOptions(attempts=1)
            ),
        )
        models = client.models
        # The SDK's own method, as uninstrumented code calls it.
        unpatched = type(models).generate_content.__wrapped__

        def generate() -> None:
            models.generate_content(model=MODEL, contents=CONTENTS, config=CONFIG)

        def generate_unpatched() -> None:
            unpatched(models, model=MODEL, contents=CONTENTS, config=CONFIG)

        result = measure(calls, generate, generate_unpatched)
        client.close()
    app.extensions["llm_logs"].shutdown()
    return result


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    with database(args) as url:
        result = run(args.calls, url, args.threads, enabled=not args.disabled)
    report("google.genai", url, result)


if __name__ == "__main__":
    main()
