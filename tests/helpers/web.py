"""Fixtures and helpers of the UI tests (tests/web*): rows inserted through
the ORM, a test client, URLs under the prefix, a query counter, CSRF tokens.

A plugin of the suite (``pytest_plugins`` in tests/conftest.py), so that the
three UI folders share the fixtures without importing one another.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any
from typing import Protocol

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from flask_llm_logs.models import Score
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.models.base import id_made_at
from flask_llm_logs.tracing import bounds

START = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)


class Store:
    """Adds traces, spans and scores the way the writer leaves them in the tables."""

    def __init__(self, app: Flask) -> None:
        self.session = app.extensions["llm_logs"].session

    def trace(self, name: str = "pipeline", *, minutes: float = 0, **fields: Any) -> Trace:
        fields.setdefault("status", "completed")
        fields.setdefault("models", [])
        started_at = START + dt.timedelta(minutes=minutes)
        # Its id made when it started, as the recorder's are (the trace page looks
        # a trace up in the partitions of its id's time first).
        fields.setdefault("id", id_made_at(started_at))
        trace = Trace(name=name, started_at=started_at, **fields)
        self.session.add(trace)
        # The time bounds of its session and user, as the writer widens them.
        row = {"session_id": trace.session_id, "user_id": trace.user_id, "started_at": started_at}
        bounds.add(self.session.connection(bind_arguments={"mapper": Trace}), [row])
        self.session.commit()
        return trace

    def span(self, trace: Trace, name: str = "chat", *, ms: float = 0, **fields: Any) -> Span:
        fields.setdefault("started_at", START + dt.timedelta(milliseconds=ms))
        span = Span(trace_id=trace.id, name=name, **fields)
        self.session.add(span)
        self.session.commit()
        return span

    def score(self, trace: Trace, name: str = "helpful", **fields: Any) -> Score:
        fields.setdefault("created_at", trace.started_at)
        score = Score(trace_id=trace.id, name=name, **fields)
        self.session.add(score)
        self.session.commit()
        return score

    def add_all(self, rows: list[Any]) -> None:
        self.session.add_all(rows)
        self.session.commit()


@pytest.fixture
def store(app: Flask) -> Store:
    return Store(app)


@pytest.fixture
def make_store() -> type[Store]:
    """For tests that build their own app: ``make_store(app)``."""
    return Store


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Url(Protocol):
    """The ``url`` fixture: a path of the UI under the configured prefix."""

    def __call__(self, path: str = "/") -> str: ...


@pytest.fixture
def url(app: Flask) -> Url:
    """``url("/traces")`` -> the path under the configured prefix."""
    prefix = app.config["LLM_LOGS_URL_PREFIX"]
    return lambda path="/": prefix + path


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


#: The ``count_queries`` fixture: ``with count_queries() as counter:``.
CountQueries = Callable[[], contextlib.AbstractContextManager[QueryCounter]]


@pytest.fixture
def count_queries(app: Flask) -> CountQueries:
    """``with count_queries() as counter:`` counts the SQL statements run inside."""
    engine = app.extensions["llm_logs"].engine

    @contextlib.contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()

        def before_cursor_execute(*args: Any) -> None:
            counter.statements.append(args[2])

        sa.event.listen(engine, "before_cursor_execute", before_cursor_execute)
        try:
            yield counter
        finally:
            sa.event.remove(engine, "before_cursor_execute", before_cursor_execute)

    return counting


def html_of(response: Any, status: int = 200) -> str:
    """The page of ``response``, after checking its status."""
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return str(response.get_data(as_text=True))


def flashes(html: str) -> list[str]:
    """The flash messages shown on a page."""
    return re.findall(r'<p class="flash flash-\w+" role="status">(.*?)</p>', html)


def csrf_token(html: str) -> str:
    """The CSRF token of a page's form."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def token(client: FlaskClient) -> Callable[[str], str]:
    """``token(page_url)``: the CSRF token of a page, as a browser would have it."""

    def get(page: str) -> str:
        response = client.get(page)
        assert response.status_code == 200, response.status_code
        return csrf_token(response.get_data(as_text=True))

    return get
