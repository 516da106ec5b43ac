"""``build()`` inside a trace links the trace to the prompt version, end to end.

The real ``openai`` SDK calls the fake OpenAI server over loopback HTTP and
the background writer stores the trace, as in production.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import scoped_session

from flask_llm_logs import Prompt
from flask_llm_logs import flush
from flask_llm_logs import span
from flask_llm_logs import trace
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.state import get_state
from flask_llm_logs.testing import FakeOpenAI


def test_build_in_a_trace_links_the_trace_to_the_version(
    app: Flask, db_session: scoped_session[Any], fake_openai: FakeOpenAI
) -> None:
    prompt = Prompt.create(slug="strategy-analysis", name="Strategy Analysis")
    prompt.update_content(
        messages=[{"role": "user", "content": "Old {{strategy_name}}"}], model="gpt-4.1-mini"
    )
    used = prompt.update_content(
        messages=[
            {"role": "system", "content": "You analyze trading strategies for {{app_name}}."},
            {"role": "user", "content": "Analyze {{strategy_name}}."},
        ],
        model_params={"temperature": 0.3},
    )
    client = fake_openai.client()
    with trace("strategy analysis"):
        params = Prompt.load("strategy-analysis").build(
            app_name="Tradebot", strategy_name="Momentum Alpha"
        )
        client.chat.completions.create(**params)
    with trace("unrelated"):
        client.chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": "Hi"}]
        )
    assert flush(timeout=10)
    client.close()

    sent = fake_openai.requests_to("/v1/chat/completions")[0].json
    assert sent["messages"][1] == {"role": "user", "content": "Analyze Momentum Alpha."}
    assert sent["temperature"] == 0.3
    rows = dict(db_session.execute(sa.select(Trace.name, Trace.prompt_version_id)).all())
    assert rows == {"strategy analysis": used.id, "unrelated": None}
    spans = db_session.execute(
        sa.select(Trace.name, Span.metadata_)
        .join(Span, Span.trace_id == Trace.id)
        .where(Span.kind == "llm")
    ).all()
    linked = {name: metadata.get("prompt_version_id") for name, metadata in spans}
    assert linked == {"strategy analysis": used.id, "unrelated": None}


def test_build_outside_a_trace_links_the_calls_own_trace(
    app: Flask, db_session: scoped_session[Any], fake_openai: FakeOpenAI
) -> None:
    prompt = Prompt.create(slug="greeting", name="Greeting")
    version = prompt.update_content(
        messages=[{"role": "user", "content": "Hello {{name}}"}], model="gpt-4.1-mini"
    )
    client = fake_openai.client()
    client.chat.completions.create(**Prompt.load("greeting").build(name="Ada"))
    client.chat.completions.create(
        model="gpt-4.1-mini", messages=[{"role": "user", "content": "Unrelated"}]
    )
    assert flush(timeout=10)
    client.close()
    linked = db_session.scalars(sa.select(Trace.prompt_version_id).order_by(Trace.started_at))
    assert list(linked) == [version.id, None]


def test_a_link_left_unused_by_a_request_does_not_reach_the_next_request(
    app: Flask, db_session: scoped_session[Any], fake_openai: FakeOpenAI
) -> None:
    """A sync worker serves requests one after another in one context."""
    Prompt.create(slug="preview", name="Preview").update_content(
        messages=[{"role": "user", "content": "Hello {{name}}"}], model="gpt-4.1-mini"
    )
    client = fake_openai.client()

    @app.get("/preview")
    def preview() -> Any:
        return Prompt.load("preview").build(name="Ada")

    @app.get("/ask")
    def ask() -> str:
        client.chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": "Unrelated"}]
        )
        return "ok"

    web = app.test_client()
    assert web.get("/preview").status_code == 200
    assert web.get("/ask").status_code == 200
    assert flush(timeout=10)
    client.close()
    spans = db_session.scalars(sa.select(Span.metadata_).where(Span.kind == "llm")).all()
    assert [metadata.get("prompt_version_id") for metadata in spans] == [None]
    assert db_session.scalars(sa.select(Trace.prompt_version_id)).all() == [None]


def test_a_build_in_a_trace_without_llm_call_links_no_later_call(
    app: Flask, db_session: scoped_session[Any], fake_openai: FakeOpenAI
) -> None:
    """Its link ends with the trace; one built before a trace waits for its call."""
    version = Prompt.create(slug="draft", name="Draft").update_content(
        messages=[{"role": "user", "content": "Hello {{name}}"}], model="gpt-4.1-mini"
    )
    client = fake_openai.client()
    with trace("preview"):
        Prompt.load("draft").build(name="Ada")
    client.chat.completions.create(
        model="gpt-4.1-mini", messages=[{"role": "user", "content": "Unrelated"}]
    )
    params = Prompt.load("draft").build(name="Bob")
    with span("retrieve"):
        pass
    client.chat.completions.create(**params)
    assert flush(timeout=10)
    client.close()

    traces = db_session.execute(
        sa.select(Trace.name, Trace.prompt_version_id).order_by(Trace.started_at)
    ).all()
    assert traces == [
        ("preview", version.id),
        ("auto:chat gpt-4.1-mini", None),
        ("auto:retrieve", None),
        ("auto:chat gpt-4.1-mini", version.id),
    ]


def test_the_variables_of_a_build_are_kept_with_the_content(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    """They let the UI's playground run the same build again; redacted like the content."""
    app = make_app(
        LLM_LOGS_REDACT=lambda value: json.loads(json.dumps(value).replace("secret", "[x]"))
    )
    with app.app_context():
        session = get_state(app).session
        Prompt.create(slug="greeting", name="Greeting").update_content(
            messages=[{"role": "user", "content": "{{greeting}} {{name}}"}],
            model="gpt-4.1-mini",
            default_variables={"greeting": "Hello"},
        )
        client = fake_openai.client()
        client.chat.completions.create(
            **Prompt.load("greeting").build({"name": "Ada", "note": "secret"})
        )
        app.config["LLM_LOGS_CAPTURE_CONTENT"] = False
        client.chat.completions.create(**Prompt.load("greeting").build(name="Bob"))
        app.config["LLM_LOGS_CAPTURE_CONTENT"] = True
        client.chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": "Unrelated"}]
        )
        assert flush(timeout=10)
        client.close()
        kept = session.scalars(sa.select(Span.metadata_).order_by(Span.started_at)).all()
    assert [metadata.get("prompt_variables") for metadata in kept] == [
        {"greeting": "Hello", "name": "Ada", "note": "[x]"},
        None,
        None,
    ]
