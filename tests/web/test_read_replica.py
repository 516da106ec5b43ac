"""``LLM_LOGS_READ_BIND``: pages and ``metrics()`` read a replica; a browser's own writes show.

Two databases stand in for the primary (the app's logs database) and its
replica: a trace stored in only one of them tells which one a page read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

import flask_llm_logs
from flask_llm_logs import ConfigurationError
from flask_llm_logs import migrations
from flask_llm_logs.models import Trace
from tests.helpers.web import csrf_token
from tests.helpers.web import html_of


@pytest.fixture
def replica_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'replica.sqlite3'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        migrations.upgrade(connection)
    engine.dispose()
    return url


@pytest.fixture
def replicated_app(make_app: Callable[..., Flask], replica_url: str) -> Flask:
    return make_app(SQLALCHEMY_BINDS={"replica": replica_url}, LLM_LOGS_READ_BIND="replica")


def store_in(app: Flask, bind: str | None, name: str) -> Trace:
    """A trace in the database of ``bind`` only (``None``: the primary)."""
    with (
        app.app_context(),
        Session(app.extensions["llm_logs"].db.engines[bind], expire_on_commit=False) as session,
    ):
        trace = Trace(
            name=name, status="completed", started_at=dt.datetime.now(dt.timezone.utc), models=[]
        )
        session.add(trace)
        session.commit()
    return trace


def test_pages_read_the_replica_until_the_browser_writes(
    replicated_app: Flask,
) -> None:
    app = replicated_app
    on_primary = store_in(app, None, "only-on-primary")
    on_replica = store_in(app, "replica", "only-on-replica")
    client = app.test_client()

    html = html_of(client.get("/llm_logs/traces"))
    assert "only-on-replica" in html and "only-on-primary" not in html
    assert "only-on-replica" in html_of(client.get(f"/llm_logs/traces/{on_replica.id}"))
    assert client.get(f"/llm_logs/traces/{on_primary.id}").status_code == 404

    # The browser scores a trace: a write, to the primary.
    token = csrf_token(html_of(client.get(f"/llm_logs/traces/{on_replica.id}")))
    response = client.post(
        f"/llm_logs/traces/{on_primary.id}/scores",
        data={"csrf_token": token, "name": "helpful", "value": "1"},
    )
    assert response.status_code == 302
    # Its next pages read the primary: the score it added is there.
    assert "helpful" in html_of(client.get(f"/llm_logs/traces/{on_primary.id}"))
    html = html_of(client.get("/llm_logs/traces"))
    assert "only-on-primary" in html and "only-on-replica" not in html

    # Another browser, which wrote nothing, still reads the replica.
    html = html_of(app.test_client().get("/llm_logs/traces"))
    assert "only-on-replica" in html and "only-on-primary" not in html


def test_read_your_writes_lasts_a_while_then_the_replica_serves_again(
    replicated_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = replicated_app
    on_primary = store_in(app, None, "only-on-primary")
    on_replica = store_in(app, "replica", "only-on-replica")
    client = app.test_client()
    token = csrf_token(html_of(client.get(f"/llm_logs/traces/{on_replica.id}")))
    client.post(
        f"/llm_logs/traces/{on_primary.id}/scores",
        data={"csrf_token": token, "name": "helpful", "value": "1"},
    )
    assert "only-on-primary" in html_of(client.get("/llm_logs/traces"))
    monkeypatch.setattr(flask_llm_logs.state, "READ_YOUR_WRITES_SECONDS", 0.0)
    assert "only-on-replica" in html_of(client.get("/llm_logs/traces"))


def test_metrics_read_the_replica(replicated_app: Flask) -> None:
    app = replicated_app
    with app.app_context():
        state = app.extensions["llm_logs"]
        assert state.read_engine.url == state.db.engines["replica"].url
        assert state.read_engine.url != state.engine.url
        # Outside a request nobody wrote: the replica answers.
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
        assert flask_llm_logs.metrics(since=since) == []


def test_without_a_read_bind_pages_read_the_logs_database(app: Flask) -> None:
    state = app.extensions["llm_logs"]
    assert state.read_session is state.session
    assert state.read_engine.url == state.engine.url


def test_an_unknown_read_bind_is_refused_at_init_app(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(ConfigurationError, match=r"LLM_LOGS_READ_BIND.*'nope' is not a key"):
        make_app(LLM_LOGS_READ_BIND="nope")
