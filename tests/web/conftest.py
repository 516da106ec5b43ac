"""Fixtures of the UI tests: rows inserted through the ORM, a query counter."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace

START = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)


class Store:
    """Adds traces and spans the way the writer leaves them in the tables."""

    def __init__(self, app: Flask) -> None:
        self.session = app.extensions["llm_logs"].session

    def trace(self, name: str = "pipeline", *, minutes: float = 0, **fields: Any) -> Trace:
        fields.setdefault("status", "completed")
        fields.setdefault("models", [])
        trace = Trace(name=name, started_at=START + dt.timedelta(minutes=minutes), **fields)
        self.session.add(trace)
        self.session.commit()
        return trace

    def span(self, trace: Trace, name: str = "chat", *, ms: float = 0, **fields: Any) -> Span:
        fields.setdefault("started_at", START + dt.timedelta(milliseconds=ms))
        span = Span(trace_id=trace.id, name=name, **fields)
        self.session.add(span)
        self.session.commit()
        return span

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


@pytest.fixture
def url(app: Flask) -> Any:
    """``url("/traces")`` -> the path under the configured prefix."""
    prefix = app.config["LLM_LOGS_URL_PREFIX"]
    return lambda path="/": prefix + path


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app: Flask) -> Any:
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
