"""The playground: a version run through the app's clients (the real SDKs against the fakes)."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask import Request
from flask.testing import FlaskClient

from flask_llm_logs import Prompt
from flask_llm_logs import flush
from flask_llm_logs import trace
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.state import get_state
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.prompts import current_version
from tests.helpers.prompts import make_prompt
from tests.helpers.web import csrf_token
from tests.helpers.web import html_of

PREFIX = "/llm_logs"


def make_memo() -> Prompt:
    """Two versions: v1 on gpt-4.1-mini, v2 on claude, with sections and a default."""
    return make_prompt(
        "memo",
        "Memo",
        "You write memos for {{desk}}.",
        "Week {{week}}:{{#items}} {{name}}{{/items}}",
        model_params={"temperature": 0.3, "max_tokens": 200},
        default_variables={"desk": "Desk A", "items": [{"name": "AAPL"}]},
        then=("v2 week {{week}} for {{desk}}", {"max_tokens": 100}),
    )


@pytest.fixture
def playground_app(make_app: Callable[..., Flask], fake_openai: FakeOpenAI) -> Iterator[Flask]:
    app = make_app(
        LLM_LOGS_OPENAI_CLIENT=fake_openai.client,
        LLM_LOGS_ANTHROPIC_CLIENT=fake_openai.anthropic_client(),
    )
    with app.app_context():
        yield app


def page(client: FlaskClient, number: int = 1, query: str = "") -> str:
    return html_of(client.get(f"{PREFIX}/prompts/memo/versions/{number}/playground{query}"))


def post(client: FlaskClient, number: int = 1, /, **fields: str) -> Any:
    token = csrf_token(page(client, number))
    data = {
        "csrf_token": token,
        "var-desk": "Desk B",
        "var-week": "12",
        "var-items": '[{"name": "MSFT"}, {"name": "NVDA"}]',
        "model": "gpt-4.1-mini",
        "provider": "openai",
        "model_params": '{"temperature": 0.5, "max_tokens": 50}',
        "compare_version": "",
        "compare_model": "",
        **fields,
    }
    return client.post(f"{PREFIX}/prompts/memo/versions/{number}/playground", data=data)


def traces(app: Flask) -> list[Trace]:
    assert flush(timeout=10)
    session = get_state(app).session
    session.rollback()
    return list(session.scalars(sa.select(Trace).order_by(Trace.started_at)))


def test_the_form_is_prefilled_from_the_defaults(playground_app: Flask) -> None:
    make_memo()
    html = page(playground_app.test_client())
    assert ">Desk A</textarea>" in html
    assert "[{&#34;name&#34;: &#34;AAPL&#34;}]</textarea>" in html
    assert 'name="model" value="gpt-4.1-mini"' in html
    assert '<option value="openai" selected>' in html
    assert "&#34;temperature&#34;: 0.3" in html
    assert 'value="2">v2</option>' in html


def test_a_run_shows_the_reply_and_is_recorded(
    playground_app: Flask, fake_openai: FakeOpenAI
) -> None:
    prompt = make_memo()
    html = html_of(post(playground_app.test_client()))
    assert "Fake reply to: Week 12: MSFT NVDA" in html
    assert "Tokens in / out" in html and "Duration" in html

    sent = fake_openai.requests_to("/v1/chat/completions")[0].json
    assert sent["messages"][0] == {"role": "system", "content": "You write memos for Desk B."}
    assert (sent["temperature"], sent["max_tokens"]) == (0.5, 50)
    [recorded] = traces(playground_app)
    assert recorded.name == "playground:memo" and recorded.tags == ["playground"]
    assert recorded.prompt_version_id == prompt.version(1).id
    assert recorded.status == "completed" and recorded.input_tokens > 0
    assert f'href="{PREFIX}/traces/{recorded.id}"' in html
    span = get_state(playground_app).session.scalars(sa.select(Span)).one()
    assert span.metadata_["prompt_variables"]["desk"] == "Desk B"


def test_side_by_side_with_another_version_on_anthropic(
    playground_app: Flask, fake_openai: FakeOpenAI
) -> None:
    make_memo()
    html = html_of(post(playground_app.test_client(), compare_version="2"))
    first, second = html.split('aria-label="Run 2"')
    assert "v1 · gpt-4.1-mini" in first and "Fake reply to: Week 12: MSFT NVDA" in first
    assert "v2 · claude-sonnet-4-5" in second and "Fake reply to: v2 week 12 for Desk B" in second
    assert fake_openai.requests_to("/v1/messages")[0].json["max_tokens"] == 100
    assert [t.name for t in traces(playground_app)] == ["playground:memo"] * 2


def test_side_by_side_with_another_model(playground_app: Flask, fake_openai: FakeOpenAI) -> None:
    make_memo()
    html_of(post(playground_app.test_client(), compare_model="gpt-4.1-nano"))
    models = [r.json["model"] for r in fake_openai.requests_to("/v1/chat/completions")]
    assert models == ["gpt-4.1-mini", "gpt-4.1-nano"]


def test_errors_are_shown_never_a_500(playground_app: Flask, fake_openai: FakeOpenAI) -> None:
    make_memo()
    client = playground_app.test_client()
    fake_openai.fail_next(429, message="Slow down <now>")
    html = html_of(post(client))
    assert "RateLimitError" in html and "Slow down &lt;now&gt;" in html
    assert traces(playground_app)[0].status == "error"

    html = html_of(post(client, provider="anthropic", model="claude-sonnet-4-5"))
    assert "&#39;temperature&#39; has no counterpart in the anthropic API" in html
    html = html_of(post(client, **{"var-week": ""}))
    assert "week" in html and "error-box" in html
    html = html_of(post(client, model_params="[1]"))
    assert "Model parameters: must be a JSON object" in html
    assert post(client, provider="mistral").status_code == 400


def test_a_run_needs_the_csrf_token(playground_app: Flask) -> None:
    make_memo()
    response = playground_app.test_client().post(
        f"{PREFIX}/prompts/memo/versions/1/playground", data={"model": "gpt-4.1-mini"}
    )
    assert response.status_code == 400


def test_a_run_is_an_action_authorize_is_asked_about(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    asked: list[str] = []

    def authorize(request: Request, action: str) -> bool:
        asked.append(action)
        return action != "prompts.run"

    app = make_app(
        TESTING=False, LLM_LOGS_AUTHORIZE=authorize, LLM_LOGS_OPENAI_CLIENT=fake_openai.client
    )
    with app.app_context():
        make_memo()
        response = post(app.test_client())
    assert response.status_code == 403
    assert "prompts.run" in asked and "view" in asked
    assert fake_openai.requests_to("/v1/chat/completions") == []

    # A callable of the request alone answers for every action, as before.
    app = make_app(
        TESTING=False,
        LLM_LOGS_AUTHORIZE=lambda request: True,
        LLM_LOGS_OPENAI_CLIENT=fake_openai.client,
    )
    with app.app_context():
        assert post(app.test_client()).status_code == 200


def test_open_in_playground_from_a_past_call(
    playground_app: Flask, fake_openai: FakeOpenAI
) -> None:
    make_memo()
    client = fake_openai.anthropic_client()
    with trace("memo job"):
        built = Prompt.load("memo").build({"week": 7, "desk": "Desk <C>"}, api="anthropic")
        client.messages.create(**built)
    client.close()
    [recorded] = traces(playground_app)
    session = get_state(playground_app).session
    span = session.scalars(sa.select(Span).where(Span.kind == "llm")).one()
    web = playground_app.test_client()
    html = html_of(web.get(f"{PREFIX}/traces/{recorded.id}/spans/{span.id}"))
    link = f"{PREFIX}/prompts/memo/versions/2/playground?trace={recorded.id}&amp;span={span.id}"
    assert f'href="{link}"' in html
    html = page(web, 2, f"?trace={recorded.id}&span={span.id}")
    assert ">7</textarea>" in html and ">Desk &lt;C&gt;</textarea>" in html
    assert current_version(Prompt.load("memo", cache=False)).version_number == 2


def test_prompts_synced_from_a_file_say_so(playground_app: Flask, tmp_path: Any) -> None:
    folder = tmp_path / "prompts" / "skills"
    folder.mkdir(parents=True)
    (folder / "memo.md").write_text("---\nslug: memo\nname: Memo\n---\nHi {{desk}}.\n")
    runner = playground_app.test_cli_runner()
    result = runner.invoke(args=["llm-logs", "sync-prompts", "--path", str(tmp_path / "prompts")])
    assert result.exit_code == 0, result.output
    client = playground_app.test_client()
    html = html_of(client.get(f"{PREFIX}/prompts/memo"))
    assert "Managed in <code>skills/memo.md</code>" in html
    assert f'href="{PREFIX}/prompts/memo/versions/1/playground"' in html
    html = html_of(client.get(f"{PREFIX}/prompts/memo/edit"))
    assert "the next <code>flask llm-logs sync-prompts</code> replaces what you save here" in html
    make = Prompt.create_with_content
    make("other", "Other", messages=[{"role": "user", "content": "x"}])
    assert "Managed in" not in html_of(client.get(f"{PREFIX}/prompts/other"))
    assert "replaces what you save" not in html_of(client.get(f"{PREFIX}/prompts/other/edit"))
