"""The prompt editor's forms: what they accept, what they refuse and where the error goes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from flask_llm_logs import Prompt
from flask_llm_logs.web.prompt_forms import NewPromptForm
from flask_llm_logs.web.prompt_forms import PromptForm
from flask_llm_logs.web.prompt_forms import version_content

VALID = {
    "slug": "greeting",
    "name": "Greeting",
    "description": "",
    "tags": "support, onboarding, support",
    "messages-0-role": "system",
    "messages-0-name": "",
    "messages-0-content": "You are {{tone}}.",
    "messages-1-role": "user",
    "messages-1-name": "",
    "messages-1-content": "Hello {{name}}!",
    "model": "gpt-4.1-mini",
    "temperature": "0.3",
    "max_tokens": "",
    "top_p": "",
    "extra_params": '{"seed": 7}',
    "default_variables": "",
    "changelog": "First draft",
}


@pytest.fixture
def request_context(app: Flask) -> Iterator[None]:
    with app.test_request_context(method="POST"):
        yield


def submit(**changes: Any) -> PromptForm:
    return NewPromptForm(formdata=MultiDict({**VALID, **changes}), meta={"csrf": False})


def invalid(**changes: Any) -> PromptForm:
    form = submit(**changes)
    assert not form.validate()
    return form


@pytest.mark.usefixtures("request_context")
class TestValid:
    def test_content_and_metadata(self) -> None:
        form = submit()
        assert form.validate(), form.errors
        assert form.metadata() == {
            "name": "Greeting",
            "description": None,
            "tags": ["support", "onboarding"],
        }
        assert form.content() == {
            "messages": [
                {"role": "system", "content": "You are {{tone}}."},
                {"role": "user", "content": "Hello {{name}}!"},
            ],
            "model": "gpt-4.1-mini",
            "model_params": {"seed": 7, "temperature": 0.3},
            "default_variables": {},
        }
        assert form.changelog.data == "First draft"

    def test_browser_line_endings_are_stored_as_newlines(self) -> None:
        form = submit(
            **{"messages-1-content": "Line one\r\nLine two\rthree", "description": "a\r\nb"}
        )
        assert form.validate(), form.errors
        assert form.content()["messages"][1]["content"] == "Line one\nLine two\nthree"
        assert form.metadata()["description"] == "a\nb"

    def test_optional_message_name_and_blank_model(self) -> None:
        form = submit(**{"messages-1-name": "alice", "model": "  "})
        assert form.validate(), form.errors
        content = form.content()
        assert content["messages"][1] == {
            "role": "user",
            "content": "Hello {{name}}!",
            "name": "alice",
        }
        assert content["model"] is None

    def test_triple_mustache_and_markup_are_accepted_as_written(self) -> None:
        text = "<script>alert(1)</script> {{{triple}}} {{#items}}- {{.}}\n{{/items}}"
        form = submit(**{"messages-0-content": text})
        assert form.validate(), form.errors
        assert form.content()["messages"][0]["content"] == text


@pytest.mark.usefixtures("request_context")
class TestErrors:
    def test_empty_message(self) -> None:
        form = invalid(**{"messages-1-content": "  \r\n "})
        assert form.errors == {"messages": [{}, {"content": ["A message needs content."]}]}

    def test_template_that_does_not_parse_names_the_line(self) -> None:
        form = invalid(**{"messages-0-content": "Intro\n{{#items}}\n- {{name}}"})
        (error,) = form.messages[0].form.content.errors
        assert error.startswith("Line 2: ")
        assert "{{#items}}" in error
        assert form.messages[0].form.content.data == "Intro\n{{#items}}\n- {{name}}"

    def test_invalid_json_keeps_what_was_typed(self) -> None:
        form = invalid(extra_params='{"seed": 7,}')
        (error,) = form.extra_params.errors
        assert error.startswith("Not valid JSON: ")
        assert "line 1" in error
        assert "{&#34;seed&#34;: 7,}</textarea>" in form.extra_params()

    def test_json_must_be_an_object(self) -> None:
        form = invalid(default_variables="[1, 2]")
        assert form.errors == {"default_variables": ['Enter a JSON object, such as {"seed": 7}.']}

    def test_reserved_parameters(self) -> None:
        form = invalid(extra_params='{"model": "x", "messages": []}')
        assert form.errors["extra_params"][0].startswith("model, messages cannot be a parameter")

    def test_parameter_set_twice(self) -> None:
        form = invalid(extra_params='{"temperature": 1}')
        assert form.errors == {
            "extra_params": ["temperature is already set in its own field above."]
        }

    def test_parameter_only_in_json_is_fine(self) -> None:
        form = submit(temperature="", extra_params='{"temperature": 1}')
        assert form.validate(), form.errors
        assert form.model_params() == {"temperature": 1}

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("temperature", "warm", "Not a valid float value."),
            ("temperature", "3", "Number must be between 0 and 2."),
            ("temperature", "nan", "Enter a finite number."),
            ("max_tokens", "0", "Number must be at least 1."),
            ("max_tokens", "1.5", "Not a valid integer value."),
            ("top_p", "1.5", "Number must be between 0 and 1."),
        ],
    )
    def test_typed_parameters(self, field: str, value: str, message: str) -> None:
        form = invalid(**{field: value})
        assert form.errors == {field: [message]}
        assert f'value="{value}"' in form[field]()

    def test_required_name(self) -> None:
        assert invalid(name=" ").errors == {"name": ["This field is required."]}

    def test_invalid_slug(self) -> None:
        (error,) = invalid(slug="has space").errors["slug"]
        assert error.startswith("Invalid slug 'has space': use 1 to 255 letters")

    def test_duplicate_slug(self) -> None:
        Prompt.create(slug="greeting", name="Existing")
        assert invalid().errors == {"slug": ["A prompt with slug 'greeting' already exists."]}

    def test_every_error_at_once(self) -> None:
        form = invalid(
            slug="",
            **{"messages-0-content": ""},
            extra_params="{",
            top_p="2",
        )
        assert set(form.errors) == {"slug", "messages", "extra_params", "top_p"}


@pytest.mark.usefixtures("request_context")
class TestMessagesEditor:
    def contents(self, form: PromptForm) -> list[tuple[str, str | None]]:
        return [(entry.form.role.data, entry.form.content.data) for entry in form.messages]

    def press(self, button: str, **changes: Any) -> PromptForm:
        form = submit(**changes, **{button: "1"})
        assert form.apply_editor_action(MultiDict({**VALID, **changes, button: "1"}))
        return form

    def test_no_button_means_save(self) -> None:
        form = submit()
        assert not form.apply_editor_action(MultiDict(VALID))

    def test_add(self) -> None:
        form = self.press("add_message")
        role, content = self.contents(form)[2]
        assert (role, content or "") == ("user", "")
        assert form.messages[2].form.content.name == "messages-2-content"

    def test_remove(self) -> None:
        form = self.press("remove_message-0")
        assert self.contents(form) == [("user", "Hello {{name}}!")]
        assert form.messages[0].form.content.name == "messages-0-content"

    def test_removing_the_last_message_leaves_an_empty_one(self) -> None:
        one = MultiDict({key: value for key, value in VALID.items() if "-1-" not in key})
        one["remove_message-0"] = "1"
        form = NewPromptForm(formdata=one, meta={"csrf": False})
        assert form.apply_editor_action(one)
        assert [entry.form.content.data or "" for entry in form.messages] == [""]

    def test_move_up_and_down(self) -> None:
        expected = [("user", "Hello {{name}}!"), ("system", "You are {{tone}}.")]
        assert self.contents(self.press("move_up-1")) == expected
        assert self.contents(self.press("move_down-0")) == expected
        unchanged = [("system", "You are {{tone}}."), ("user", "Hello {{name}}!")]
        assert self.contents(self.press("move_up-0")) == unchanged
        assert self.contents(self.press("move_down-1")) == unchanged
        assert self.contents(self.press("move_down-7")) == unchanged

    def test_moving_keeps_typed_text_in_the_page(self) -> None:
        form = self.press("move_up-1", **{"messages-0-content": "<b>{{{raw}}}</b>"})
        html = form.messages[1].form.content()
        assert "&lt;b&gt;{{{raw}}}&lt;/b&gt;" in html
        assert 'name="messages-1-content"' in html


def test_round_trip_of_a_stored_version(app: Flask) -> None:
    """Loading a prompt into the form and saving it unchanged gives the same content."""
    prompt = Prompt.create(slug="p", name="P", tags=["a", "b"])
    version = prompt.update_content(
        messages=[{"role": "system", "content": "Hi\nthere", "name": "sys"}],
        model="m",
        model_params={"temperature": 0.3, "max_tokens": 2048, "seed": 7},
        default_variables={"who": "you"},
    )
    with app.test_request_context():
        form = PromptForm(formdata=None, data=PromptForm.data_of(prompt), meta={"csrf": False})
        assert form.temperature.data == 0.3
        assert form.max_tokens.data == 2048
        assert form.top_p.data is None
        assert form.extra_params.data == {"seed": 7}
        assert form.tags._value() == "a, b"
        posted = MultiDict(
            (field.name, field.data if field.type == "SelectField" else field._value())
            for field in _leaves(form)
        )
    with app.test_request_context(method="POST"):
        form = PromptForm(formdata=posted, meta={"csrf": False})
        assert form.validate(), form.errors
        assert form.content() == version_content(version)
        assert form.metadata() == {"name": "P", "description": None, "tags": ["a", "b"]}


def _leaves(form: Any) -> Iterator[Any]:
    for field in form:
        if field.type == "FieldList":
            for entry in field:
                yield from _leaves(entry.form)
        elif field.type == "FormField":
            yield from _leaves(field.form)
        else:
            yield field
