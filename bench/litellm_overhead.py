"""What recording adds to ``litellm.completion`` on the caller's thread.

LiteLLM routes ``openai/gpt-4.1-mini`` to the fake server (in a process of
its own) through the ``openai`` SDK. The instrumented side records one span
and an automatic trace per call, stored by the real writer in a real
database; LiteLLM's inner ``openai`` call is not recorded again. The plain
side calls LiteLLM's own function; the ``openai`` call it makes underneath
passes the ``openai`` patch's wrapper unrecorded (one context-variable
read), as it does inside an instrumented call. Measured as
``tracing_overhead.py`` measures (see :mod:`overhead`).

Usage::

    python bench/litellm_overhead.py [--calls 2000] [--postgres | --database-url URL]
        [--threads N] [--disabled]
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
import overhead
from overhead import Call

from flask_llm_logs.instrumentation import patching

MESSAGES = [{"role": "user", "content": "Summarise the quarterly figures in one line."}]


@contextmanager
def sides(url: str) -> Iterator[tuple[Call, Call]]:
    completion = litellm.completion
    unpatched = completion.__wrapped__  # LiteLLM's own function
    route = {"api_base": f"{url}/v1", "api_key": "bench", "max_retries": 0}

    def complete() -> None:
        completion(model="openai/gpt-4.1-mini", messages=MESSAGES, **route)

    def complete_unpatched() -> None:
        token = patching._inside_call.set(True)  # as inside an instrumented call
        try:
            unpatched(model="openai/gpt-4.1-mini", messages=MESSAGES, **route)
        finally:
            patching._inside_call.reset(token)

    yield complete, complete_unpatched


if __name__ == "__main__":
    overhead.main(
        __doc__.splitlines()[0],
        name="litellm_overhead",
        sdks=["openai", "litellm"],
        pricing_provider="openai",
        sides=sides,
        reported_sdk="openai",
        note=f"litellm {version('litellm')}, calling the openai SDK underneath",
    )
