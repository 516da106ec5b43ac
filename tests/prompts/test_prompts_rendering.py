"""Rendering: Mustache without HTML escaping, sections, partials, defaults and strict mode."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from flask_llm_logs import MissingVariables
from flask_llm_logs import NoPromptVersion
from flask_llm_logs import PartialCycle
from flask_llm_logs import PartialNotFound
from flask_llm_logs import Prompt
from flask_llm_logs import TemplateSyntaxError
from tests.helpers.prompts import current_version


def save(slug: str, *contents: str, **kwargs: Any) -> Prompt:
    prompt = Prompt.create(slug=slug, name=slug.title())
    prompt.update_content(
        messages=[
            {"role": "system" if i == 0 else "user", "content": c} for i, c in enumerate(contents)
        ],
        **kwargs,
    )
    return prompt


def rendered(slug: str, **variables: Any) -> list[str]:
    return [m["content"] for m in Prompt.load(slug).build(**variables)["messages"]]


def test_no_html_escaping(app: Flask) -> None:
    save("raw", '<b> & "x" {{value}} {{{value}}} {{&value}}')
    assert rendered("raw", value='<i> & "y"') == ['<b> & "x" <i> & "y" <i> & "y" <i> & "y"']


def test_sections_and_inverted_sections(app: Flask) -> None:
    save(
        "memo",
        "Positions:\n{{#positions}}\n- {{symbol}}: {{quantity}}\n{{/positions}}\n"
        "{{^positions}}\n- none\n{{/positions}}\n{{#urgent}}URGENT {{desk}}{{/urgent}}",
    )
    assert rendered(
        "memo",
        positions=[{"symbol": "AAPL", "quantity": 3}, {"symbol": "MSFT", "quantity": 0}],
        urgent=True,
        desk="Desk A",
    ) == ["Positions:\n- AAPL: 3\n- MSFT: 0\nURGENT Desk A"]
    assert rendered("memo", positions=[]) == ["Positions:\n- none\n"]
    assert rendered("memo") == ["Positions:\n- none\n"]


def test_values_are_text_and_none_is_empty(app: Flask) -> None:
    save("values", "{{n}}|{{f}}|{{none}}|{{user.name}}|{{user.missing}}")
    assert rendered("values", n=3, f=0.5, none=None, user={"name": "Ada"}) == ["3|0.5||Ada|"]


def test_partials_include_another_prompts_current_content(app: Flask) -> None:
    save("disclaimer", "Past performance is no guarantee, {{name}}.")
    save("greeting", "Hello {{name}}.", "Ask me.")
    save("skill", "Intro for {{name}}\n{{> disclaimer}}\nInline: {{> greeting}}End")
    assert rendered("skill", name="Ada") == [
        "Intro for Ada\nPast performance is no guarantee, Ada.\nInline: Hello Ada.\n\nAsk me.End"
    ]
    # The partial's new version is used at once in this process.
    Prompt.load("disclaimer").update_content(
        messages=[{"role": "system", "content": "v2 {{name}}"}]
    )
    assert rendered("skill", name="Ada")[0].startswith("Intro for Ada\nv2 Ada\n")


def test_nested_partials_and_partials_in_sections(app: Flask) -> None:
    save("inner", "[{{symbol}}]")
    save("row", "- {{> inner}}")
    save("list", "{{#rows}}\n{{> row}}\n{{/rows}}")
    assert rendered("list", rows=[{"symbol": "A"}, {"symbol": "B"}]) == ["- [A]\n- [B]\n"]


def test_missing_partial_names_the_slug_and_includer(app: Flask) -> None:
    save("skill", "Intro\n{{> nowhere}}")
    with pytest.raises(PartialNotFound, match=r"no prompt with slug 'nowhere'.*by 'skill'"):
        Prompt.load("skill").build()


def test_partial_without_a_version(app: Flask) -> None:
    Prompt.create(slug="draft", name="Draft")
    save("skill", "{{> draft}}")
    with pytest.raises(NoPromptVersion, match="'draft'"):
        Prompt.load("skill").build()


@pytest.mark.parametrize(
    ("templates", "chain"),
    [
        ({"a": "A {{> b}}", "b": "B {{> a}}"}, "a -> b -> a"),
        ({"a": "A {{> a}}"}, "a -> a"),
        ({"a": "{{> b}}", "b": "{{> c}}", "c": "{{#x}}{{> b}}{{/x}}"}, "a -> b -> c -> b"),
    ],
)
def test_partial_cycles_are_reported(app: Flask, templates: dict[str, str], chain: str) -> None:
    for slug, template in templates.items():
        save(slug, template)
    with pytest.raises(PartialCycle, match=f"in a cycle: {chain}"):
        Prompt.load("a").build()


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("a\n{{#a}}\n{{#b}}\n{{/a}}", "line 4: section {{#b}} is closed by {{/a}}"),
        ("a\n\n{{/a}}", "line 3: {{/a}} closes no open section"),
        ("{{#a}}\n{{^b}}\n{{#c}}{{/c}}", "line 2: section {{^b}} is never closed"),
        ("{{=<% %>=}}\n<%#a%>", "line 2: section <%#a%> is never closed"),
        ("x\n{{=<% %> |=}}", "line 2: {{=<% %> |=}} must give two delimiters"),
    ],
)
def test_syntax_errors_name_the_tag_and_its_line(app: Flask, template: str, problem: str) -> None:
    with pytest.raises(TemplateSyntaxError, match=re.escape(problem)):
        save("p", template)


def test_default_variables_fill_gaps(app: Flask) -> None:
    save("greet", "{{greeting}}, {{name}}!", default_variables={"greeting": "Hello", "name": "you"})
    assert rendered("greet") == ["Hello, you!"]
    assert rendered("greet", name="Ada") == ["Hello, Ada!"]
    assert Prompt.load("greet").build(strict=True)["messages"][0]["content"] == "Hello, you!"


def test_strict_lists_every_missing_variable(app: Flask) -> None:
    save("p", "{{b}} {{a}} {{#opt}}{{inside}}{{/opt}}{{^opt}}none{{/opt}}", "{{c}} {{a}}")
    assert rendered("p") == ["  none", " "]
    with pytest.raises(MissingVariables) as caught:
        Prompt.load("p").build(strict=True, c="given")
    assert caught.value.names == ("a", "b")
    assert str(caught.value) == (
        "prompt 'p' version 1 is missing variables: a, b"
        " (pass them to build() or set default_variables)"
    )
    # Section names may be absent (optional blocks); names used inside a shown section may not.
    with pytest.raises(MissingVariables, match=r"missing variables: inside \("):
        Prompt.load("p").build(strict=True, a=1, b=2, c=3, opt=True)
    assert Prompt.load("p").build(strict=True, a=1, b=2, c=3)["messages"][1]["content"] == "3 1"


def test_strict_from_config(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_PROMPT_STRICT=True)
    with app.app_context():
        save("p", "{{a}} {{> frag}}")
        save("frag", "{{b}}")
        with pytest.raises(MissingVariables, match="missing variables: a, b"):
            Prompt.load("p").build()
        assert Prompt.load("p").build(strict=False)["messages"][0]["content"] == " "


def test_strict_setting_is_read_live(app: Flask) -> None:
    save("p", "{{a}}")
    assert Prompt.load("p").build()["messages"][0]["content"] == ""
    app.config["LLM_LOGS_PROMPT_STRICT"] = True
    with pytest.raises(MissingVariables, match="missing variables: a "):
        Prompt.load("p").build()


def test_variables_lists_names_of_the_current_version(app: Flask) -> None:
    prompt = save(
        "p", "{{b}} {{#items}}{{name}}{{.}}{{/items}} {{^a}}{{/a}} {{> frag}}", "{{b}} {{c.d}}"
    )
    assert prompt.variables == ["a", "b", "c.d", "items", "name"]
    assert current_version(Prompt.load("p")).variables == prompt.variables
