"""The new and edit pages: what saves a version, what does not, and every error path."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_llm_logs import Prompt
from flask_llm_logs import PromptNotFound
from tests.helpers.prompts import NEW
from tests.helpers.prompts import current_version
from tests.helpers.prompts import make_greeting
from tests.helpers.web import Url
from tests.helpers.web import csrf_token
from tests.helpers.web import flashes
from tests.helpers.web import html_of


def edit_data(html: str) -> dict[str, str]:
    """What a browser would submit from the edit page, untouched."""
    data = {}
    for tag, name, value in re.findall(r'(<input [^>]*name="([^"]+)"[^>]*value="([^"]*)")', html):
        if 'type="checkbox"' not in tag or " checked" in tag:  # as a browser sends them
            data[name] = value
    for attributes, text in re.findall(r"<textarea ([^>]*)>\r?\n?(.*?)</textarea>", html, re.S):
        name = re.search(r'name="([^"]+)"', attributes)
        if name:
            data[name.group(1)] = text.replace("\n", "\r\n")
    for name, body in re.findall(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        selected = re.search(
            r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', body
        )
        if selected:
            data[name] = selected.group(1) or selected.group(2)
    return {key: unescape(value) for key, value in data.items() if key != "save"}


def unescape(value: str) -> str:
    import html

    return html.unescape(value)


class TestNew:
    def test_form(self, client: FlaskClient, url: Url) -> None:
        html = html_of(client.get(url("/prompts/new")))
        assert 'name="slug"' in html and 'name="messages-0-content"' in html
        assert 'name="add_message"' in html
        assert 'name="csrf_token"' in html
        assert "<script>" not in html.split("</head>")[1]  # no inline script in the body

    def test_create(
        self, client: FlaskClient, url: Url, post_new: Callable[..., TestResponse]
    ) -> None:
        response = post_new()
        assert response.status_code == 302
        assert response.headers["Location"].endswith(url("/prompts/welcome"))
        prompt = Prompt.load("welcome", cache=False)
        assert (prompt.name, prompt.description, list(prompt.tags)) == (
            "Welcome",
            "First contact.",
            ["onboarding", "email"],
        )
        version = current_version(prompt)
        assert version.version_number == 1
        assert version.messages == [
            {"role": "system", "content": "You write for {{company}}."},
            {"role": "user", "content": "Welcome {{name}}.\nKeep it short."},
        ]
        assert version.model == "gpt-4.1-mini"
        assert version.model_params == {"seed": 7, "temperature": 0.5, "max_tokens": 300}
        assert version.default_variables == {"company": "Acme"}
        assert version.changelog == "First draft"
        html = html_of(client.get(response.headers["Location"]))
        assert "Created prompt &#39;welcome&#39; with version 1." in flashes(html)

    def test_duplicate_slug_keeps_what_was_typed(
        self, post_new: Callable[..., TestResponse]
    ) -> None:
        make_greeting()
        html = html_of(post_new(slug="greeting", name="Typed name"), 200)
        assert "A prompt with slug &#39;greeting&#39; already exists." in html
        assert 'value="Typed name"' in html
        assert "Welcome {{name}}." in html
        assert "Nothing was saved" in html
        assert Prompt.load("greeting", cache=False).name == "Greeting"

    def test_invalid_json(self, post_new: Callable[..., TestResponse]) -> None:
        html = html_of(post_new(extra_params='{"seed": 7'), 200)
        errors = error_list(html, "extra_params")
        assert errors and errors[0].startswith("Not valid JSON:")
        assert "{&#34;seed&#34;: 7</textarea>" in html
        with pytest.raises(PromptNotFound):
            Prompt.load("welcome", cache=False)

    def test_template_that_does_not_parse(self, post_new: Callable[..., TestResponse]) -> None:
        html = html_of(post_new(**{"messages-1-content": "Hi\r\n{{#items}}\r\n- {{.}}"}), 200)
        (error,) = error_list(html, "messages-1-content")
        assert error.startswith("Line 2: ") and "{{#items}}" in error
        assert error_list(html, "messages-0-content") == []

    def test_empty_message(self, post_new: Callable[..., TestResponse]) -> None:
        html = html_of(post_new(**{"messages-0-content": "  "}), 200)
        assert error_list(html, "messages-0-content") == ["A message needs content."]

    def test_bad_number(self, post_new: Callable[..., TestResponse]) -> None:
        html = html_of(post_new(temperature="hot"), 200)
        assert error_list(html, "temperature") == ["Not a valid float value."]
        assert 'value="hot"' in html

    def test_invalid_slug(self, post_new: Callable[..., TestResponse]) -> None:
        html = html_of(post_new(slug="no spaces please"), 200)
        (error,) = error_list(html, "slug")
        assert error.startswith("Invalid slug")

    def test_slug_taken_between_check_and_save(
        self, post_new: Callable[..., TestResponse], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The unique constraint still answers if another request wins the race."""
        from flask_llm_logs.web import prompt_forms

        monkeypatch.setattr(prompt_forms.NewPromptForm, "validate_slug", lambda self, field: None)
        make_greeting()
        html = html_of(post_new(slug="greeting"), 200)
        assert error_list(html, "slug") == ["A prompt with slug 'greeting' already exists."]

    def test_without_csrf_token(self, client: FlaskClient, url: Url) -> None:
        response = client.post(url("/prompts/new"), data=NEW)
        html = html_of(response, 400)
        assert "The form expired" in html
        assert 'value="Welcome"' in html  # nothing typed is lost
        with pytest.raises(PromptNotFound):
            Prompt.load("welcome", cache=False)


def error_list(html: str, field_id: str) -> list[str]:
    match = re.search(
        rf'<ul class="field-errors" id="{re.escape(field_id)}-errors">(.*?)</ul>', html, re.S
    )
    if not match:
        return []
    import html as html_module

    return [html_module.unescape(e) for e in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


class TestMessagesEditor:
    """Add, remove and reorder are plain submit buttons: no JavaScript, nothing saved."""

    def test_add(self, post_new: Callable[..., TestResponse]) -> None:
        html = html_of(post_new(add_message="1"))
        assert 'name="messages-2-content"' in html
        assert "Welcome {{name}}." in html
        assert 'class="field-errors"' not in html  # not validated yet
        with pytest.raises(PromptNotFound):
            Prompt.load("welcome", cache=False)

    def test_remove(self, post_new: Callable[..., TestResponse]) -> None:
        html = html_of(post_new(**{"remove_message-0": "1"}))
        assert "You write for" not in html
        assert 'name="messages-1-content"' not in html
        assert "Welcome {{name}}." in html

    def test_move_up(self, post_new: Callable[..., TestResponse]) -> None:
        html = html_of(post_new(**{"move_up-1": "1"}))
        assert html.index("Welcome {{name}}.") < html.index("You write for")
        first = html[html.index('id="message-0"') : html.index('id="message-1"')]
        assert '<option selected value="user">' in first or '<option value="user" selected' in first

    def test_move_down_then_save(
        self, post_new: Callable[..., TestResponse], client: FlaskClient, url: Url
    ) -> None:
        html = html_of(post_new(**{"move_down-0": "1"}))
        data = edit_data(html)
        response = client.post(url("/prompts/new"), data=data)
        assert response.status_code == 302, response.get_data(as_text=True)
        roles = [m["role"] for m in current_version(Prompt.load("welcome", cache=False)).messages]
        assert roles == ["user", "system"]


class TestEdit:
    def test_form_is_filled_in(self, client: FlaskClient, url: Url) -> None:
        make_greeting(versions=2, tags=["a", "b"])
        html = html_of(client.get(url("/prompts/greeting/edit")))
        assert 'value="Greeting"' in html and 'value="a, b"' in html
        assert "Hi v2 {{name}}!" in html
        assert 'value="gpt-4.1"' in html and 'value="0.4"' in html
        assert "&#34;tone&#34;: &#34;kind&#34;" in html
        assert 'name="slug"' not in html  # permanent

    def test_saving_untouched_form_makes_no_version(self, client: FlaskClient, url: Url) -> None:
        make_greeting(versions=2)
        html = html_of(client.get(url("/prompts/greeting/edit")))
        response = client.post(url("/prompts/greeting/edit"), data=edit_data(html))
        assert response.status_code == 302, response.get_data(as_text=True)
        assert len(Prompt.load("greeting", cache=False).versions) == 2
        assert "Nothing changed, so no version was made." in flashes(
            html_of(client.get(response.headers["Location"]))
        )

    def test_metadata_only_makes_no_version(self, client: FlaskClient, url: Url) -> None:
        make_greeting(versions=1)
        data = edit_data(html_of(client.get(url("/prompts/greeting/edit"))))
        data.update(name="Greeting 2", tags="x, y", description="New words")
        response = client.post(url("/prompts/greeting/edit"), data=data)
        assert response.status_code == 302
        prompt = Prompt.load("greeting", cache=False)
        assert (prompt.name, list(prompt.tags), prompt.description) == (
            "Greeting 2",
            ["x", "y"],
            "New words",
        )
        assert len(prompt.versions) == 1
        assert "Saved name, description and tags." in flashes(
            html_of(client.get(response.headers["Location"]))
        )

    def test_content_change_makes_a_version(self, client: FlaskClient, url: Url) -> None:
        make_greeting(versions=1)
        data = edit_data(html_of(client.get(url("/prompts/greeting/edit"))))
        data.update({"messages-1-content": "Hey {{name}}", "changelog": "Shorter"})
        response = client.post(url("/prompts/greeting/edit"), data=data)
        assert response.status_code == 302
        version = current_version(Prompt.load("greeting", cache=False))
        assert version.version_number == 2
        assert version.messages[1]["content"] == "Hey {{name}}"
        assert version.changelog == "Shorter"
        assert version.model == "gpt-4.1-mini"
        assert version.default_variables == {"tone": "kind"}

    @pytest.mark.parametrize(
        "change",
        [{"model": "gpt-5"}, {"top_p": "0.9"}, {"extra_params": '{"seed": 1}'}],
    )
    def test_model_and_parameter_changes_make_a_version(
        self, client: FlaskClient, url: Url, change: dict[str, str]
    ) -> None:
        make_greeting(versions=1)
        data = edit_data(html_of(client.get(url("/prompts/greeting/edit"))))
        data.update(change)
        client.post(url("/prompts/greeting/edit"), data=data)
        assert len(Prompt.load("greeting", cache=False).versions) == 2

    def test_errors_keep_everything_typed(self, client: FlaskClient, url: Url) -> None:
        make_greeting(versions=1)
        data = edit_data(html_of(client.get(url("/prompts/greeting/edit"))))
        data.update(
            {
                "name": "Renamed",
                "messages-0-content": "{{#open}} never closed",
                "default_variables": "not json",
            }
        )
        html = html_of(client.post(url("/prompts/greeting/edit"), data=data), 200)
        assert 'value="Renamed"' in html
        assert "{{#open}} never closed" in html
        assert "\r\nnot json</textarea>" in html
        assert error_list(html, "messages-0-content")[0].startswith("Line 1: ")
        assert error_list(html, "default_variables")[0].startswith("Not valid JSON")
        prompt = Prompt.load("greeting", cache=False)
        assert prompt.name == "Greeting" and len(prompt.versions) == 1

    def test_first_content_of_an_empty_prompt(
        self, client: FlaskClient, url: Url, token: Callable[[str], str]
    ) -> None:
        Prompt.create(slug="empty", name="Empty")
        data = edit_data(html_of(client.get(url("/prompts/empty/edit"))))
        data.update({"messages-0-content": "Now with text"})
        response = client.post(url("/prompts/empty/edit"), data=data)
        assert response.status_code == 302
        assert current_version(Prompt.load("empty", cache=False)).version_number == 1

    def test_without_csrf_token(self, client: FlaskClient, url: Url) -> None:
        make_greeting(versions=1)
        data = edit_data(html_of(client.get(url("/prompts/greeting/edit"))))
        data.pop("csrf_token")
        data["name"] = "Changed"
        html = html_of(client.post(url("/prompts/greeting/edit"), data=data), 400)
        assert "The form expired" in html and 'value="Changed"' in html
        assert Prompt.load("greeting", cache=False).name == "Greeting"

    def test_prompt_deleted_meanwhile(self, client: FlaskClient, url: Url) -> None:
        prompt = make_greeting(versions=1)
        html = html_of(client.get(url("/prompts/greeting/edit")))
        data = edit_data(html)
        data["messages-0-content"] = "changed"
        prompt.delete()
        html_of(client.post(url("/prompts/greeting/edit"), data=data), 404)


def test_csrf_token_of_pages(client: FlaskClient, url: Url) -> None:
    make_greeting()
    for path in ("/prompts/new", "/prompts/greeting/edit", "/prompts/greeting/delete"):
        assert csrf_token(html_of(client.get(url(path))))


def test_works_when_the_host_enables_csrf_protect(make_app: Callable[..., Flask]) -> None:
    """With Flask-WTF's CSRFProtect on the host, the editor and its buttons still work."""
    from flask_wtf.csrf import CSRFProtect

    app = make_app()
    CSRFProtect(app)
    with app.app_context():
        make_greeting(versions=2)
        client = app.test_client()
        data = edit_data(html_of(client.get("/llm_logs/prompts/greeting/edit")))
        assert html_of(
            client.post("/llm_logs/prompts/greeting/edit", data={**data, "add_message": "1"})
        )
        data["messages-1-content"] = "Changed {{name}}"
        response = client.post("/llm_logs/prompts/greeting/edit", data=data)
        assert response.status_code == 302
        restore = "/llm_logs/prompts/greeting/versions/1/restore"
        assert client.post(restore, data={"csrf_token": data["csrf_token"]}).status_code == 302
        assert client.post(restore).status_code == 400
        assert current_version(Prompt.load("greeting", cache=False)).version_number == 4
