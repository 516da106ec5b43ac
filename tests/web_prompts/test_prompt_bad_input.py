"""Bad input in the prompt pages: a 400/404 or an inline error, never a 500; nothing half-made."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_llm_logs import Prompt
from flask_llm_logs import PromptNotFound
from tests.helpers.web import Url
from tests.helpers.web import html_of


@pytest.mark.parametrize("path", ["/prompts/a%00b", "/prompts/a%00b/edit", "/prompts/%00/versions"])
def test_a_nul_in_the_slug_is_a_404(client: FlaskClient, url: Url, path: str) -> None:
    assert client.get(url(path)).status_code == 404


@pytest.mark.parametrize(
    "field",
    ["name", "description", "tags", "messages-0-content", "messages-0-name", "model", "changelog"],
)
def test_a_nul_in_an_editor_field_is_a_400(
    post_new: Callable[..., TestResponse], field: str
) -> None:
    response = post_new(**{field: "a\x00b"})
    assert response.status_code == 400
    assert "contains a NUL character" in response.get_data(as_text=True)
    with pytest.raises(PromptNotFound):
        Prompt.load("welcome", cache=False)


def test_a_nul_in_an_existing_prompts_editor_is_a_400(
    client: FlaskClient, url: Url, token: Callable[[str], str]
) -> None:
    Prompt.create(slug="p", name="P")
    csrf = token(url("/prompts/p/edit"))
    response = client.post(
        url("/prompts/p/edit"),
        data={
            "csrf_token": csrf,
            "name": "P\x00",
            "messages-0-role": "user",
            "messages-0-content": "Hi",
        },
    )
    assert response.status_code == 400
    assert Prompt.load("p", cache=False).name == "P"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"default_variables": '{"who": "\\u0000"}'}, "default_variables contains a NUL"),
        ({"extra_params": '{"temperature": "hot"}', "temperature": ""}, "temperature must be"),
    ],
)
def test_refused_content_creates_no_prompt(
    post_new: Callable[..., TestResponse],
    changes: dict[str, str],
    error: str,
) -> None:
    html = html_of(post_new(**changes), 200)
    assert error in html
    with pytest.raises(PromptNotFound):
        Prompt.load("welcome", cache=False)


def test_sections_nested_too_deep_are_refused_in_the_editor(
    post_new: Callable[..., TestResponse],
) -> None:
    content = "{{#a}}" * 40 + "x" + "{{/a}}" * 40
    html = html_of(post_new(**{"messages-0-content": content}), 200)
    assert "LLM_LOGS_PROMPT_MAX_SECTION_DEPTH = 32" in html
    with pytest.raises(PromptNotFound):
        Prompt.load("welcome", cache=False)


def test_the_preview_shows_a_render_limit_inline(client: FlaskClient, url: Url) -> None:
    for level in range(20, -1, -1):
        text = "Five words of text here." if level == 20 else f"{{{{> p{level + 1}}}}} " * 2
        Prompt.create(slug=f"p{level}", name=f"P{level}").update_content(
            messages=[{"role": "user", "content": text}]
        )
    html = html_of(client.get(url("/prompts/p0"), query_string={"preview": "1"}))
    assert '<pre class="error-box">' in html
    assert "LLM_LOGS_PROMPT_MAX_OUTPUT_CHARS" in html


def test_the_preview_takes_a_variable_named_strict(client: FlaskClient, url: Url) -> None:
    Prompt.create(slug="p", name="P").update_content(
        messages=[{"role": "user", "content": "Mode: {{strict}}"}]
    )
    query = {"preview": "1", "var-strict": "on"}
    html = html_of(client.get(url("/prompts/p"), query_string=query))
    assert "Mode: on" in html
