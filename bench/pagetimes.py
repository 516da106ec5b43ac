"""How the UI benchmarks time pages: one app with the web UI and nothing
recorded, each page rendered through Flask's test client (server time:
queries, Python and Jinja, no network) after one warm-up, medians shown.

Shared by ``ui_pages.py`` and ``ui_big_trace.py`` (run as
``python bench/<script>.py``, which puts this folder on ``sys.path``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from flask_llm_logs import LlmLogs


@contextmanager
def ui_app(name: str, url: str) -> Iterator[Flask]:
    """The app serving the UI on ``url``; auto-instrumentation off, so the
    timings are the pages' alone. Its writer is shut down at the end."""
    app = Flask(name)
    app.config.update(
        TESTING=True,
        SECRET_KEY="bench",
        SQLALCHEMY_DATABASE_URI=url,
        LLM_LOGS_AUTO_INSTRUMENT=False,
    )
    LlmLogs(app)
    try:
        yield app
    finally:
        app.extensions["llm_logs"].shutdown()


def time_pages(
    app: Flask, pages: dict[str, str], repeat: int, *, label_width: int, size_width: int
) -> None:
    """Print the median and minimum render time and the size of each page, by label."""
    client = app.test_client()
    print(f"\n{'page':<{label_width}} {'median ms':>10} {'min ms':>8} {'KiB':>{size_width}}")
    for label, path in pages.items():
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - began) * 1000)
        size = len(response.data) / 1024
        print(
            f"{label:<{label_width}} {statistics.median(times):>10.1f} {min(times):>8.1f}"
            f" {size:>{size_width}.0f}"
        )
