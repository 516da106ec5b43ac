"""Mustache whitespace: standalone tags leave no trace, partials keep their line's own ending."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_llm_logs import InvalidPrompt
from flask_llm_logs import MissingVariables
from flask_llm_logs import Prompt
from flask_llm_logs.models import PromptVersion


def save(slug: str, content: str, **kwargs: Any) -> None:
    Prompt.create(slug=slug, name=slug).update_content(
        messages=[{"role": "user", "content": content}], **kwargs
    )


def rendered(slug: str, *args: Any, **variables: Any) -> str:
    return str(Prompt.load(slug).build(*args, **variables)["messages"][0]["content"])


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # A standalone partial on the last line adds no line break the author never wrote.
        ("Intro\n{{> frag}}", "Intro\nA\nB"),
        ("Intro\n  {{> frag}}  ", "Intro\n  A\n  B"),
        # Elsewhere it brings its line's own ending, LF or CRLF.
        ("Intro\n{{> frag}}\nEnd", "Intro\nA\nB\nEnd"),
        ("Intro\r\n{{> frag}}\r\nEnd", "Intro\r\nA\nB\r\nEnd"),
        ("Intro\r\n  {{> frag}}\r\nEnd", "Intro\r\n  A\n  B\r\nEnd"),
        # With other delimiters too.
        ("{{=<% %>=}}\nIntro\n<%> frag %>\nEnd", "Intro\nA\nB\nEnd"),
        ("{{=[ ]=}}\r\nIntro\r\n[> frag]\r\n[name]", "Intro\r\nA\nB\r\nAda"),
        # Inside a line: inserted as is.
        ("Intro {{> frag}} end", "Intro A\nB end"),
    ],
)
def test_standalone_partials(app: Flask, template: str, expected: str) -> None:
    save("frag", "A\nB")
    save("p", template)
    assert rendered("p", name="Ada") == expected


def test_a_partial_ending_in_a_section_leaves_no_blank_line(app: Flask) -> None:
    save("frag", "Rules:\n{{#strict}}\n- no guessing\n{{/strict}}")
    save("p", "Intro\n{{> frag}}\nEnd")
    assert rendered("p") == "Intro\nRules:\nEnd"
    assert rendered("p", {"strict": True}) == "Intro\nRules:\n- no guessing\nEnd"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("A\r\n{{#on}}\r\nyes\r\n{{/on}}\r\nB", "A\r\nyes\r\nB"),
        ("A\n  {{! note }}\nB", "A\nB"),
        ("A\n{{=<% %>=}}\n<%name%>", "A\nAda"),
        ("A\n{{^off}}\nno\n{{/off}}", "A\nno\n"),
        ("{{#on}}x{{/on}} {{#on}}\ny\n{{/on}}", "x \ny\n"),  # not alone on its line
    ],
)
def test_standalone_tags_follow_the_spec(app: Flask, template: str, expected: str) -> None:
    save("p", template)
    assert rendered("p", on=True, name="Ada") == expected


def test_blanks_after_a_tag_keep_it_standalone(app: Flask) -> None:
    # The spec's standalone line is "only whitespace"; pystache wants the line end
    # right after the tag, so the renderer drops such blanks before parsing.
    save("frag", "A\nB")
    save("p", "A\n{{#on}} \t\r\nyes\n  {{/on}}  \n{{! note }}\t\n  {{> frag}} \nB")
    assert rendered("p", on=True) == "A\nyes\n  A\n  B\nB"


def test_variables_may_be_passed_as_a_mapping(app: Flask) -> None:
    save("p", "{{strict}} / {{variables}} / {{name}}")
    # A variable named like a parameter of build() goes in the mapping.
    assert rendered("p", {"strict": "yes", "variables": "v", "name": "map"}) == "yes / v / map"
    # Keyword arguments win over the mapping; build(name=...) keeps working.
    assert rendered("p", {"name": "map"}, name="kw") == " /  / kw"
    with pytest.raises(MissingVariables, match="strict, variables"):
        Prompt.load("p").build({"name": "x"}, strict=True)


def test_nul_characters_are_invalid_prompts(app: Flask) -> None:
    with pytest.raises(InvalidPrompt, match="NUL"):
        Prompt.create(slug="p", name="a\x00b")
    with pytest.raises(InvalidPrompt, match="invalid slug"):
        Prompt.create(slug="p\x00", name="P")
    with pytest.raises(InvalidPrompt, match="invalid slug"):
        Prompt.load("p\x00")
    prompt = Prompt.create(slug="p", name="P")
    bad_contents: list[dict[str, Any]] = [
        {"messages": [{"role": "user", "content": "a\x00"}]},
        {"messages": [{"role": "user", "content": "a", "name": "\x00"}]},
        {"messages": [{"role": "user", "content": "a"}], "model": "m\x00"},
        {"messages": [{"role": "user", "content": "a"}], "model_params": {"stop": ["\x00"]}},
        {"messages": [{"role": "user", "content": "a"}], "default_variables": {"\x00": 1}},
        {"messages": [{"role": "user", "content": "a"}], "changelog": "\x00"},
    ]
    for content in bad_contents:
        with pytest.raises(InvalidPrompt, match="NUL"):
            prompt.update_content(**content)
    for metadata in ({"description": "\x00"}, {"tags": ["a\x00"]}):
        with pytest.raises(InvalidPrompt, match="NUL"):
            prompt.update(**metadata)
    assert Prompt.load("p", cache=False).current_version is None


def test_rollback_changelog_is_checked_like_a_saved_one(app: Flask, db_session: Any) -> None:
    """rollback_to() takes a changelog too: a NUL is refused before it reaches the
    database (a driver error on PostgreSQL, stored as is on SQLite)."""
    prompt = Prompt.create(slug="p", name="P")
    prompt.update_content(messages=[{"role": "user", "content": "v1"}])
    with pytest.raises(InvalidPrompt, match="'p': changelog contains a NUL character"):
        prompt.rollback_to(1, changelog="bad\x00")
    with pytest.raises(InvalidPrompt, match="'p': changelog must be a string"):
        prompt.rollback_to(1, changelog=3)  # type: ignore[arg-type]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(PromptVersion)) == 1


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"temperature": "hot"}, "temperature must be a number from 0 to 2, got 'hot'"),
        ({"temperature": 3}, "temperature must be a number from 0 to 2"),
        ({"top_p": True}, "top_p must be a number from 0 to 1"),
        ({"max_tokens": 1.5}, "max_tokens must be an integer >= 1"),
        ({"seed": float("nan")}, "must be JSON data"),
    ],
)
def test_model_params_are_checked(app: Flask, params: dict[str, Any], problem: str) -> None:
    prompt = Prompt.create(slug="p", name="P")
    with pytest.raises(InvalidPrompt, match=problem):
        prompt.update_content(messages=[{"role": "user", "content": "a"}], model_params=params)
