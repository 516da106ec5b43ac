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

from collections.abc import Iterator
from contextlib import closing
from contextlib import contextmanager

import overhead
from google import genai
from google.genai import types
from overhead import Call

MODEL = "gemini-2.5-flash"
CONTENTS = "Summarise the quarterly figures for the board in one line."
CONFIG = types.GenerateContentConfig(
    system_instruction="You are a terse financial analyst.", max_output_tokens=100
)


@contextmanager
def sides(url: str) -> Iterator[tuple[Call, Call]]:
    client = genai.Client(
        api_key="bench",
        http_options=types.HttpOptions(
            base_url=url, retry_options=types.HttpRetryOptions(attempts=1)
        ),
    )
    with closing(client):
        models = client.models
        # The SDK's own method, as uninstrumented code calls it.
        unpatched = type(models).generate_content.__wrapped__

        def generate() -> None:
            models.generate_content(model=MODEL, contents=CONTENTS, config=CONFIG)

        def generate_unpatched() -> None:
            unpatched(models, model=MODEL, contents=CONTENTS, config=CONFIG)

        yield generate, generate_unpatched


if __name__ == "__main__":
    overhead.main(
        __doc__.splitlines()[0],
        name="google_overhead",
        sdks=["google"],
        pricing_provider="google",
        sides=sides,
        reported_sdk="google.genai",
    )
