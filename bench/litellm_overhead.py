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
from importlib.metadata import version
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from overhead import database
from overhead import fake_server
from overhead import make_app
from overhead import measure
from overhead import parse_args
from overhead import report

from flask_llm_logs.instrumentation import instrument
from flask_llm_logs.instrumentation import patching

MESSAGES = [{"role": "user", "content": "Summarise the quarterly figures in one line."}]


def run(calls: int, database_url: str, threads: int | None, enabled: bool) -> dict[str, Any]:
    app = make_app("litellm_overhead", database_url, threads, enabled, "openai")
    instrument(["openai", "litellm"])
    completion = litellm.completion
    unpatched = completion.__wrapped__  # LiteLLM's own function
    with fake_server() as url, app.app_context():
        route = {"api_base": f"{url}/v1", "api_key": "bench", "max_retries": 0}

        def complete() -> None:
            completion(model="openai/gpt-4.1-mini", messages=MESSAGES, **route)

        def complete_unpatched() -> None:
            token = patching._inside_call.set(True)  # as inside an instrumented call
            try:
                unpatched(model="openai/gpt-4.1-mini", messages=MESSAGES, **route)
            finally:
                patching._inside_call.reset(token)

        result = measure(calls, complete, complete_unpatched)
    app.extensions["llm_logs"].shutdown()
    return result


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    with database(args) as url:
        result = run(args.calls, url, args.threads, enabled=not args.disabled)
    print(f"litellm {version('litellm')}, calling the openai SDK underneath")
    report("openai", url, result)


if __name__ == "__main__":
    main()
