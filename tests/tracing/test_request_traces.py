"""What traces know of the request they ran in, and the request's automatic trace."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest
from flask import Flask
from flask import Response
from flask import stream_with_context

import flask_llm_logs
from flask_llm_logs import copy_context_to
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.login import with_login
from tests.helpers.tracing import MESSAGES
from tests.helpers.tracing import one_trace
from tests.helpers.tracing import spans
from tests.helpers.tracing import traces

REQUEST_ATTRIBUTES = ("http.request.method", "http.route", "flask.endpoint")


def ask(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)


def request_context_of(row: Any) -> dict[str, Any]:
    return {key: row.metadata[key] for key in REQUEST_ATTRIBUTES if key in row.metadata}


def test_one_trace_per_request_with_its_route_user_and_environment(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    app = with_login(make_app())
    client = fake_openai.client()

    @app.post("/chat/<int:chat_id>")
    def chat(chat_id: int) -> dict[str, Any]:
        ask(client)
        with flask_llm_logs.span("retrieve"):
            pass
        ask(client)
        return {"trace_id": flask_llm_logs.current_trace_id()}

    http = app.test_client()
    http.post("/login/ana")
    trace_id = http.post("/chat/42?secret=1").get_json()["trace_id"]

    with app.app_context():
        row, children = one_trace(app)
    assert str(row.id) == trace_id
    assert row.name == "POST /chat/<int:chat_id>"
    assert row.status == "completed" and row.spans_count == 3
    assert [span.kind for span in children] == ["llm", "custom", "llm"]
    assert all(span.parent_id is None for span in children)
    assert request_context_of(row) == {
        "http.request.method": "POST",
        "http.route": "/chat/<int:chat_id>",
        "flask.endpoint": "chat",
    }
    assert (row.user_id, row.session_id, row.environment) == ("ana", None, "production")
    assert row.input_tokens == sum(span.input_tokens or 0 for span in children)


def test_the_first_call_of_a_request_shows_its_trace_running_before_the_request_ends(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    app = with_login(make_app())
    client = fake_openai.client()
    seen: list[Any] = []

    @app.post("/chat/<int:chat_id>")
    def chat(chat_id: int) -> str:
        ask(client)
        assert flask_llm_logs.flush(timeout=10)
        seen.extend(traces(app))  # the span's running record: the request is still on
        return "ok"

    http = app.test_client()
    http.post("/login/ana")
    http.post("/chat/42")
    [running] = seen
    assert (running.name, running.status, running.user_id) == (
        "POST /chat/<int:chat_id>",
        "running",
        "ana",
    )
    assert request_context_of(running)["flask.endpoint"] == "chat"
    with app.app_context():
        row, [span] = one_trace(app)
    assert row.id == running.id and row.status == "completed" and span.trace_id == row.id


def test_a_call_that_ends_before_the_first_one_finds_the_trace_stored(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    """The metrics rows of a request's calls carry its name and user, whichever call
    ends first: a stream opened first and read last, with a flush in between."""
    app = with_login(make_app())
    client = fake_openai.client()

    @app.post("/chat")
    def chat() -> str:
        stream = client.chat.completions.create(
            model="gpt-4.1-mini", messages=MESSAGES, stream=True
        )
        ask(client)  # ends first
        assert flask_llm_logs.flush(timeout=10)  # as the writer's flush interval would
        for _ in stream:
            pass
        return "ok"

    http = app.test_client()
    http.post("/login/ana")
    http.post("/chat")
    with app.app_context():
        assert flask_llm_logs.flush(timeout=10)
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
        rows = flask_llm_logs.metrics(since=since, group_by=("name", "user"))
    assert [(row["name"], row["user"], row["calls"]) for row in rows] == [("POST /chat", "ana", 2)]


def test_a_request_without_llm_calls_stores_no_trace(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    app.add_url_rule("/plain", "plain", lambda: "ok")
    assert app.test_client().get("/plain").status_code == 200
    with app.app_context():
        assert traces(app) == []


def test_call_mode_keeps_one_trace_per_call_with_the_request_context(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    app = make_app(
        LLM_LOGS_AUTO_TRACE="call",
        LLM_LOGS_USER_ID=lambda: 7,
        LLM_LOGS_SESSION_ID=lambda: "conversation-1",
        LLM_LOGS_ENVIRONMENT="staging",
    )
    client = fake_openai.client()

    @app.get("/twice")
    def twice() -> str:
        ask(client)
        ask(client)
        return "ok"

    app.test_client().get("/twice")
    with app.app_context():
        rows = traces(app)
    assert [row.name for row in rows] == ["auto:chat gpt-4.1-mini"] * 2
    for row in rows:
        assert (row.user_id, row.session_id, row.environment) == ("7", "conversation-1", "staging")
        assert request_context_of(row)["http.route"] == "/twice"


def test_an_explicit_trace_in_a_request_is_its_own_with_the_request_context(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    app = with_login(make_app(DEBUG=True))
    client = fake_openai.client()

    @app.get("/report")
    def report() -> str:
        with flask_llm_logs.trace("report", user_id="override", tags=["nightly"]):
            ask(client)
        ask(client)
        return "ok"

    http = app.test_client()
    http.post("/login/ana")
    http.get("/report")
    with app.app_context():
        explicit, automatic = sorted(traces(app), key=lambda row: row.name != "report")
    assert (explicit.name, explicit.user_id, explicit.tags) == ("report", "override", ["nightly"])
    assert request_context_of(explicit)["flask.endpoint"] == "report"
    assert (automatic.name, automatic.user_id, automatic.tags) == ("GET /report", "ana", [])
    assert explicit.environment == automatic.environment == "development"


@pytest.mark.recorder_errors("LLM_LOGS_SESSION_ID raises on purpose")
def test_no_user_without_login_and_a_failing_callable_is_ignored(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> str:
        raise RuntimeError("session store down")

    app = with_login(make_app(LLM_LOGS_SESSION_ID=broken))
    client = fake_openai.client()

    @app.get("/anonymous")
    def anonymous() -> str:
        ask(client)
        return "ok"

    with caplog.at_level(logging.WARNING, logger="flask_llm_logs"):
        assert app.test_client().get("/anonymous").status_code == 200
    with app.app_context():
        [row] = traces(app)
    assert (row.user_id, row.session_id) == (None, None)
    assert "LLM_LOGS_SESSION_ID raised" in caplog.text


def test_a_streamed_response_ends_the_trace_when_the_stream_ends(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    app = make_app()
    client = fake_openai.client()

    @app.get("/stream")
    def stream() -> Response:
        ask(client)

        def words() -> Iterator[str]:
            yield "first "
            ask(client)
            yield "second"
            ask(client)

        return Response(stream_with_context(words()))

    response = app.test_client().get("/stream")
    assert response.get_data(as_text=True) == "first second"
    with app.app_context():
        assert traces(app)[0].status == "running"
    response.close()  # as the WSGI server does once the response is sent
    with app.app_context():
        row, children = one_trace(app)
    assert row.name == "GET /stream" and row.status == "completed"
    assert len(children) == 3
    assert row.completed_at >= max(span.completed_at for span in children)


def test_threads_of_a_request_join_its_trace_bare_threads_do_not(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    app = make_app()
    client = fake_openai.client()

    def ask_once(_: int) -> None:
        ask(client)

    @app.get("/fan-out")
    def fan_out() -> str:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(copy_context_to(ask_once), range(4)))
        bare = threading.Thread(target=ask, args=(client,))
        bare.start()
        bare.join()
        return "ok"

    app.test_client().get("/fan-out")
    with app.app_context():
        rows = traces(app)
        assert sorted(row.name for row in rows) == ["GET /fan-out", "auto:chat gpt-4.1-mini"]
        [request_trace] = [row for row in rows if row.name == "GET /fan-out"]
        assert len(spans(app, trace_id=request_trace.id)) == 4


def test_an_async_view_gathers_its_calls_into_the_request_trace(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    app = make_app()

    @app.get("/async")
    async def async_view() -> str:
        async with fake_openai.async_client() as client:
            await asyncio.gather(
                *(
                    client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
                    for _ in range(3)
                )
            )
        return "ok"

    assert app.test_client().get("/async").status_code == 200
    with app.app_context():
        row, children = one_trace(app)
    assert row.name == "GET /async" and len(children) == 3


def test_a_failing_view_marks_the_request_trace_failed(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    app = make_app(TESTING=False)
    client = fake_openai.client()

    @app.get("/fails")
    def fails() -> str:
        ask(client)
        raise KeyError("missing")

    assert app.test_client().get("/fails").status_code == 500
    with app.app_context():
        row, _ = one_trace(app)
    assert row.status == "error" and row.error == "KeyError: 'missing'"


def test_update_current_trace_merges_metadata_and_adds_tags(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    app = make_app()
    client = fake_openai.client()

    @app.get("/chat")
    def chat() -> str:
        flask_llm_logs.update_current_trace(session_id="c-1", tags=["beta"], metadata={"a": 1})
        ask(client)
        flask_llm_logs.update_current_trace(user_id=5, tags=["beta", "vip"], metadata={"b": 2})
        return "ok"

    app.test_client().get("/chat")
    with app.app_context():
        [row] = traces(app)
    assert (row.user_id, row.session_id, row.tags) == ("5", "c-1", ["beta", "vip"])
    assert (row.metadata["a"], row.metadata["b"]) == (1, 2)
    assert row.metadata["http.route"] == "/chat"


def test_update_current_trace_inside_an_explicit_trace(app: Flask) -> None:
    with (
        flask_llm_logs.trace("job", metadata={"kept": True}, tags=["batch"]),
        flask_llm_logs.span("step"),
    ):
        flask_llm_logs.update_current_trace(user_id="u", tags=["retry"], metadata={"n": 2})
    [row] = traces(app)
    assert (row.user_id, row.tags, row.metadata) == (
        "u",
        ["batch", "retry"],
        {"kept": True, "n": 2},
    )
    assert row.environment == "production"
    # Outside any trace and any request there is none to change, and nothing is stored.
    flask_llm_logs.update_current_trace(user_id="nobody")
    assert flask_llm_logs.current_trace_id() is None
    assert len(traces(app)) == 1


def test_tags_must_be_a_list_of_strings(app: Flask) -> None:
    with pytest.raises(ValueError, match=r"^tags: must be a list of strings"):
        flask_llm_logs.trace("job", tags="beta")
    with pytest.raises(ValueError, match=r"^tags: must be a list of strings"):
        flask_llm_logs.update_current_trace(tags=[1])  # type: ignore[list-item]
