"""Render limits: output size, partial depth and section nesting stop a build early, by name."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from flask_llm_logs import ConfigurationError
from flask_llm_logs import InvalidPrompt
from flask_llm_logs import OutputTooLarge
from flask_llm_logs import PartialsTooDeep
from flask_llm_logs import Prompt
from flask_llm_logs import RenderLimitExceeded
from flask_llm_logs import SectionsTooDeep
from flask_llm_logs.models import PromptRecord
from flask_llm_logs.models import PromptVersion
from flask_llm_logs.state import get_state


def store_rows(templates: dict[str, str]) -> None:
    """Store prompts in one transaction, as a sync or an older version of the package would."""
    with get_state().prompt_store.sessions.begin() as session:
        for slug, content in templates.items():
            record = PromptRecord(slug=slug, name=slug, tags=[])
            record.versions.append(
                PromptVersion(
                    version_number=1,
                    messages=[{"role": "system", "content": content}],
                    model_params={},
                    default_variables={},
                )
            )
            session.add(record)


def nested_sections(depth: int) -> str:
    return (
        "".join(f"{{{{#s{i}}}}}" for i in range(depth))
        + "x"
        + "".join(f"{{{{/s{i}}}}}" for i in reversed(range(depth)))
    )


def test_doubling_partials_stop_at_the_output_limit_fast(app: Flask) -> None:
    templates = {f"p{i}": f"{{{{> p{i + 1}}}}} and {{{{> p{i + 1}}}}}" for i in range(20)}
    templates["p20"] = "Five words of text here."
    store_rows(templates)
    started = time.perf_counter()
    with pytest.raises(OutputTooLarge) as caught:
        Prompt.load("p0").build()
    assert time.perf_counter() - started < 0.5
    assert "LLM_LOGS_PROMPT_MAX_OUTPUT_CHARS = 1000000" in str(caught.value)
    assert "prompt 'p0' version 1" in str(caught.value)
    assert isinstance(caught.value, RenderLimitExceeded)


def test_a_long_chain_of_partials_is_a_depth_error(app: Flask) -> None:
    templates = {f"c{i}": f"{i} {{{{> c{i + 1}}}}}" for i in range(1100)}
    templates["c1100"] = "end"
    store_rows(templates)
    with pytest.raises(PartialsTooDeep) as caught:
        Prompt.load("c0").build()
    assert "LLM_LOGS_PROMPT_MAX_PARTIAL_DEPTH = 32" in str(caught.value)
    assert caught.value.chain[:3] == ("c0", "c1", "c2")
    # 32 levels are allowed.
    assert Prompt.load("c1068").build()["messages"][0]["content"].endswith("1099 end")


def test_deeply_nested_sections_are_refused_on_save_and_on_render(app: Flask) -> None:
    prompt = Prompt.create(slug="deep", name="Deep")
    with pytest.raises(SectionsTooDeep, match=r"line 1: sections nested 500 deep"):
        prompt.update_content(messages=[{"role": "user", "content": nested_sections(500)}])
    with pytest.raises(InvalidPrompt):  # what the editor and sync catch
        prompt.update_content(messages=[{"role": "user", "content": nested_sections(33)}])
    prompt.update_content(messages=[{"role": "user", "content": nested_sections(32)}])

    # Stored before the limit existed: rendering refuses it, without a RecursionError.
    store_rows({"old": nested_sections(500)})
    with pytest.raises(SectionsTooDeep):
        Prompt.load("old").build({f"s{i}": True for i in range(500)})


def test_nesting_counts_through_partials(app: Flask) -> None:
    outer = nested_sections(30).replace("x", "{{> inner}}")
    store_rows({"outer": outer, "inner": nested_sections(3)})
    variables = {f"s{i}": True for i in range(30)}
    with pytest.raises(SectionsTooDeep, match="sections nested 33 deep"):
        Prompt.load("outer").build(variables)


def test_limits_are_configurable(make_app: Callable[..., Flask]) -> None:
    app = make_app(
        LLM_LOGS_PROMPT_MAX_OUTPUT_CHARS=10,
        LLM_LOGS_PROMPT_MAX_PARTIAL_DEPTH=1,
        LLM_LOGS_PROMPT_MAX_SECTION_DEPTH=1,
    )
    with app.app_context():
        store_rows({"a": "{{> b}}", "b": "{{> c}}", "c": "c", "long": "{{text}}"})
        with pytest.raises(PartialsTooDeep, match="= 1"):
            Prompt.load("a").build()
        assert Prompt.load("b").build()["messages"][0]["content"] == "c"
        with pytest.raises(OutputTooLarge, match="= 10"):
            Prompt.load("long").build(text="eleven char")
        assert Prompt.load("long").build(text="ten chars!")["messages"][0]["content"]
        with pytest.raises(SectionsTooDeep):
            Prompt.create(slug="n", name="N").update_content(
                messages=[{"role": "user", "content": nested_sections(2)}]
            )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("LLM_LOGS_PROMPT_MAX_OUTPUT_CHARS", 0),
        ("LLM_LOGS_PROMPT_MAX_PARTIAL_DEPTH", "10"),
        ("LLM_LOGS_PROMPT_MAX_SECTION_DEPTH", 101),
    ],
)
def test_bad_limits_fail_at_init(make_app: Callable[..., Flask], key: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=key):
        make_app(**{key: value})
