"""The Prompt API: create, versions, rollback, metadata, deletion and bad input."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import scoped_session

from flask_llm_logs import InvalidPrompt
from flask_llm_logs import NoPromptVersion
from flask_llm_logs import Prompt
from flask_llm_logs import PromptAlreadyExists
from flask_llm_logs import PromptNotFound
from flask_llm_logs import TemplateSyntaxError
from flask_llm_logs import VersionNotFound
from flask_llm_logs.models import PromptRecord
from flask_llm_logs.models import PromptVersion
from flask_llm_logs.models import Trace
from tests.helpers.prompts import current_version

STRATEGY_MESSAGES = [
    {"role": "system", "content": "You analyze trading strategies for {{app_name}}."},
    {"role": "user", "content": "Analyze {{strategy_name}} on the {{timeframe}} timeframe."},
]


def make_strategy_prompt() -> Prompt:
    prompt = Prompt.create(slug="strategy-analysis", name="Strategy Analysis")
    prompt.update_content(
        messages=STRATEGY_MESSAGES,
        model="claude-sonnet-4",
        model_params={"temperature": 0.3, "max_tokens": 2048},
        changelog="First draft",
    )
    return prompt


def stored_versions(db_session: scoped_session[Any]) -> list[tuple[int, Any, str | None]]:
    rows = db_session.execute(
        sa.select(
            PromptVersion.version_number, PromptVersion.messages, PromptVersion.changelog
        ).order_by(PromptVersion.version_number)
    )
    return [tuple(row) for row in rows]


def test_issue_example(app: Flask) -> None:
    make_strategy_prompt()
    prompt = Prompt.load("strategy-analysis")
    params = prompt.build(app_name="Tradebot", strategy_name="Momentum Alpha", timeframe="4h")
    assert params == {
        "model": "claude-sonnet-4",
        "messages": [
            {"role": "system", "content": "You analyze trading strategies for Tradebot."},
            {"role": "user", "content": "Analyze Momentum Alpha on the 4h timeframe."},
        ],
        "temperature": 0.3,
        "max_tokens": 2048,
    }
    assert current_version(prompt).version_number == 1
    assert current_version(prompt).changelog == "First draft"
    assert prompt.variables == ["app_name", "strategy_name", "timeframe"]


def test_metadata_attributes(app: Flask) -> None:
    created = Prompt.create(
        slug="memo", name="Memo", description="Weekly memo", tags=["desk", "weekly"]
    )
    assert created.current_version is None
    assert created.versions == []
    assert created.variables == []
    prompt = Prompt.load("memo", cache=False)
    assert (prompt.slug, prompt.name, prompt.description) == ("memo", "Memo", "Weekly memo")
    assert prompt.tags == ["desk", "weekly"]
    assert prompt.id == created.id
    assert prompt.created_at.tzinfo is not None
    assert abs(prompt.created_at - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=1)
    assert repr(prompt) == "<Prompt 'memo' no version>"


def test_every_save_is_a_new_version_and_old_ones_never_change(
    app: Flask, db_session: scoped_session[Any]
) -> None:
    prompt = make_strategy_prompt()
    second = prompt.update_content(
        messages=[{"role": "user", "content": "Updated prompt"}], changelog="Simplified"
    )
    third = prompt.update_content(messages=[{"role": "user", "content": "Third"}])
    assert [second.version_number, third.version_number] == [2, 3]
    assert prompt.current_version == third
    assert [v.version_number for v in prompt.versions] == [1, 2, 3]
    assert prompt.version(1).messages == STRATEGY_MESSAGES
    assert prompt.version(2).changelog == "Simplified"

    rolled = prompt.rollback_to(1)
    assert rolled.version_number == 4
    assert rolled.changelog == "Rolled back to version 1"
    assert (rolled.messages, rolled.model, rolled.model_params) == (
        STRATEGY_MESSAGES,
        "claude-sonnet-4",
        {"temperature": 0.3, "max_tokens": 2048},
    )
    assert rolled.id != prompt.version(1).id
    params = Prompt.load("strategy-analysis").build(app_name="X")
    assert params["messages"][0]["content"] == "You analyze trading strategies for X."

    # What is stored: four rows, the first three exactly as they were saved.
    assert stored_versions(db_session) == [
        (1, STRATEGY_MESSAGES, "First draft"),
        (2, [{"role": "user", "content": "Updated prompt"}], "Simplified"),
        (3, [{"role": "user", "content": "Third"}], None),
        (4, STRATEGY_MESSAGES, "Rolled back to version 1"),
    ]


def test_rollback_with_own_changelog(app: Flask) -> None:
    prompt = make_strategy_prompt()
    prompt.update_content(messages=[{"role": "user", "content": "v2"}])
    assert prompt.rollback_to(1, changelog="v2 was worse").changelog == "v2 was worse"


def test_omitted_model_fields_carry_over_and_empty_dicts_clear(app: Flask) -> None:
    prompt = make_strategy_prompt()
    kept = prompt.update_content(
        messages=[{"role": "user", "content": "v2"}], default_variables={"app_name": "Bot"}
    )
    assert (kept.model, kept.model_params) == (
        "claude-sonnet-4",
        {"temperature": 0.3, "max_tokens": 2048},
    )
    carried = prompt.update_content(messages=[{"role": "user", "content": "v3"}])
    assert carried.default_variables == {"app_name": "Bot"}
    cleared = prompt.update_content(
        messages=[{"role": "user", "content": "v4"}], model_params={}, default_variables={}
    )
    assert (cleared.model_params, cleared.default_variables) == ({}, {})
    assert Prompt.load("strategy-analysis").build() == {
        "model": "claude-sonnet-4",
        "messages": [{"role": "user", "content": "v4"}],
    }


def test_build_without_model_leaves_the_key_out(app: Flask) -> None:
    prompt = Prompt.create(slug="plain", name="Plain")
    prompt.update_content(messages=[{"role": "user", "content": "Hi"}])
    assert prompt.build() == {"messages": [{"role": "user", "content": "Hi"}]}


def test_update_metadata_makes_no_version(app: Flask) -> None:
    prompt = make_strategy_prompt()
    before = prompt.updated_at
    assert prompt.update(name="Renamed", tags=["analysis"]) is prompt
    assert (prompt.name, prompt.tags, prompt.description) == ("Renamed", ["analysis"], None)
    prompt.update(description="Now described")
    loaded = Prompt.load("strategy-analysis")
    assert (loaded.name, loaded.description, loaded.tags) == (
        "Renamed",
        "Now described",
        ["analysis"],
    )
    assert [v.version_number for v in loaded.versions] == [1]
    assert loaded.updated_at >= before


def test_list_prompts(app: Flask) -> None:
    make_strategy_prompt()
    Prompt.create(slug="a-fragment", name="Fragment", tags=["fragments"])
    Prompt.create(slug="memo", name="Memo", tags=["templates", "fragments"])
    prompts = Prompt.all()
    assert [p.slug for p in prompts] == ["a-fragment", "memo", "strategy-analysis"]
    assert current_version(prompts[2]).version_number == 1
    assert prompts[0].current_version is None
    assert [p.slug for p in Prompt.all(tag="fragments")] == ["a-fragment", "memo"]


def test_delete_an_old_version(app: Flask) -> None:
    prompt = make_strategy_prompt()
    prompt.update_content(messages=[{"role": "user", "content": "v2"}])
    prompt.update_content(messages=[{"role": "user", "content": "v3"}])
    prompt.delete_version(2)
    assert [v.version_number for v in prompt.versions] == [1, 3]
    with pytest.raises(VersionNotFound, match="prompt 'strategy-analysis' has no version 2"):
        prompt.version(2)
    with pytest.raises(VersionNotFound):
        prompt.delete_version(2)
    with pytest.raises(InvalidPrompt, match="version 3 is the current version"):
        prompt.delete_version(3)
    assert prompt.update_content(messages=[{"role": "user", "content": "v4"}]).version_number == 4


def test_delete_a_prompt(app: Flask, db_session: scoped_session[Any]) -> None:
    prompt = make_strategy_prompt()
    Prompt.load("strategy-analysis")  # cached
    prompt.delete()
    with pytest.raises(PromptNotFound, match="'strategy-analysis'"):
        Prompt.load("strategy-analysis")
    assert db_session.scalar(sa.select(sa.func.count()).select_from(PromptVersion)) == 0
    with pytest.raises(PromptNotFound, match="it was deleted"):
        prompt.update_content(messages=[{"role": "user", "content": "again"}])


def test_unknown_slug_is_named(app: Flask) -> None:
    with pytest.raises(PromptNotFound, match="no prompt with slug 'nope'") as caught:
        Prompt.load("nope")
    assert caught.value.slug == "nope"
    with pytest.raises(PromptNotFound):
        Prompt.load("nope", cache=False)


def test_build_without_a_version(app: Flask) -> None:
    Prompt.create(slug="empty", name="Empty")
    with pytest.raises(NoPromptVersion, match="prompt 'empty' has no version yet"):
        Prompt.load("empty").build()


def test_duplicate_slug(app: Flask) -> None:
    Prompt.create(slug="memo", name="Memo")
    with pytest.raises(PromptAlreadyExists, match="'memo' already exists"):
        Prompt.create(slug="memo", name="Other")
    assert Prompt.load("memo").name == "Memo"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"slug": "has space", "name": "X"}, "invalid slug 'has space'"),
        ({"slug": "", "name": "X"}, "invalid slug ''"),
        ({"slug": "ok", "name": ""}, "prompt 'ok': name must be a non-empty string"),
        ({"slug": "ok", "name": "X", "tags": "one"}, "tags must be a list of strings"),
        ({"slug": "ok", "name": "X", "tags": ["a", 3]}, "every tag must be a non-empty string"),
    ],
)
def test_create_rejects_bad_fields(app: Flask, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidPrompt, match=message):
        Prompt.create(**kwargs)
    assert Prompt.all() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"messages": []}, "messages must be a non-empty list"),
        ({"messages": "Hello"}, "messages must be a non-empty list"),
        ({"messages": [{"content": "x"}]}, "message 1: role must be one of"),
        ({"messages": [{"role": "user"}]}, r"message 1 \(user\): content must be a string"),
        (
            {"messages": [{"role": "user", "content": "x", "tool_calls": []}]},
            r"message 1 \(user\): unknown keys 'tool_calls'",
        ),
        (
            {"messages": [{"role": "user", "content": "ok"}, "text"]},
            "message 2: must be a dict",
        ),
        (
            {"messages": STRATEGY_MESSAGES, "model_params": {"model": "x"}},
            "model_params may not contain 'model'",
        ),
        ({"messages": STRATEGY_MESSAGES, "model_params": [1]}, "model_params must be a dict"),
        (
            {"messages": STRATEGY_MESSAGES, "default_variables": {"when": dt.date(2024, 1, 1)}},
            "default_variables must be JSON data",
        ),
        ({"messages": STRATEGY_MESSAGES, "model": ""}, "model must be a non-empty string"),
        ({"messages": STRATEGY_MESSAGES, "changelog": 3}, "'p': changelog must be a string"),
    ],
)
def test_update_content_rejects_bad_input(
    app: Flask, db_session: scoped_session[Any], kwargs: dict[str, Any], message: str
) -> None:
    prompt = Prompt.create(slug="p", name="P")
    with pytest.raises(InvalidPrompt, match=message):
        prompt.update_content(**kwargs)
    assert stored_versions(db_session) == []


def test_unparsable_template_is_refused_with_message_and_line(
    app: Flask, db_session: scoped_session[Any]
) -> None:
    prompt = Prompt.create(slug="p", name="P")
    with pytest.raises(TemplateSyntaxError) as caught:
        prompt.update_content(
            messages=[
                {"role": "system", "content": "fine"},
                {"role": "user", "content": "Positions:\n{{#positions}}\n- {{symbol}}\n"},
            ]
        )
    assert "prompt 'p' message 2 (user), line 2:" in str(caught.value)
    assert "{{#positions}}" in str(caught.value)
    assert caught.value.line == 2
    assert stored_versions(db_session) == []


def test_snapshots_are_read_only_and_builds_are_fresh(app: Flask) -> None:
    make_strategy_prompt()
    version = current_version(Prompt.load("strategy-analysis"))
    with pytest.raises(TypeError, match="read-only"):
        version.messages.append({"role": "user", "content": "x"})
    with pytest.raises(TypeError, match="read-only"):
        version.messages[0]["content"] = "changed"
    with pytest.raises(TypeError, match="read-only"):
        version.model_params["temperature"] = 1.0
    with pytest.raises(AttributeError):
        version.model = "other"  # type: ignore[misc]
    mutable = copy.deepcopy(version.messages)
    mutable.append({"role": "user", "content": "mine"})

    params = Prompt.load("strategy-analysis").build(app_name="A")
    params["messages"].append({"role": "user", "content": "extra"})
    params["temperature"] = 2.0
    again = Prompt.load("strategy-analysis").build(app_name="A")
    assert len(again["messages"]) == 2
    assert again["temperature"] == 0.3


def test_writes_do_not_touch_the_callers_session(
    app: Flask, db_session: scoped_session[Any]
) -> None:
    """The API commits its own short transaction: the caller's pending work stays pending."""
    pending = Trace(name="host work in progress")
    db_session.add(pending)
    prompt = Prompt.create(slug="p", name="P")
    prompt.update_content(messages=[{"role": "user", "content": "Hi"}])
    assert pending in db_session.new
    db_session.rollback()

    assert current_version(Prompt.load("p", cache=False)).version_number == 1
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Trace)) == 0
    assert db_session.scalar(sa.select(sa.func.count()).select_from(PromptRecord)) == 1
