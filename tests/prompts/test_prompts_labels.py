"""Labels: ``load(label=)``, ``set_label()``, the history of moves, publishing on save."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_llm_logs import ConfigurationError
from flask_llm_logs import Prompt
from flask_llm_logs import flush
from flask_llm_logs import trace
from flask_llm_logs.models import PromptLabel
from flask_llm_logs.models import Trace
from flask_llm_logs.prompts import InvalidPrompt
from flask_llm_logs.prompts import LabelNotSet
from flask_llm_logs.prompts import VersionNotFound
from flask_llm_logs.state import get_state
from tests.helpers.prompts import current_version
from tests.helpers.prompts import make_greeting


def said(prompt: Prompt) -> str:
    return str(prompt.build(name="Ada")["messages"][1]["content"])


def test_load_builds_the_labelled_version(app: Flask) -> None:
    prompt = make_greeting(versions=3)
    prompt.set_label("production", version=1)
    prompt.set_label("candidate", version=2)

    assert said(Prompt.load("greeting", label="production")) == "Hello Ada!"
    assert said(Prompt.load("greeting", label="candidate")) == "Hi v2 Ada!"
    assert said(Prompt.load("greeting")) == "Hi v3 Ada!"  # no default label: the latest
    loaded = Prompt.load("greeting", label="production", cache=False)
    assert (loaded.label, current_version(loaded).version_number) == ("production", 1)
    assert prompt.labels == {"production": 1, "staging": None, "candidate": 2}


@pytest.mark.parametrize("label", ["production", "staging", "eu"])
def test_a_label_naming_no_version_fails_naming_slug_and_label(app: Flask, label: str) -> None:
    make_greeting()
    with pytest.raises(LabelNotSet, match=f"prompt 'greeting' has no version labelled '{label}'"):
        Prompt.load("greeting", label=label)


@pytest.mark.parametrize("label", ["", "Production", "a b", "x" * 51, 3])
def test_a_malformed_label_is_refused_naming_the_argument(app: Flask, label: Any) -> None:
    prompt = make_greeting()
    with pytest.raises(InvalidPrompt, match="label: invalid label"):
        Prompt.load("greeting", label=label)
    with pytest.raises(InvalidPrompt, match="label: invalid label"):
        prompt.set_label(label, version=1)
    assert prompt.label_moves() == []


def test_the_default_label_comes_from_the_config(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_PROMPT_LABEL="production")
    with app.app_context():
        prompt = make_greeting(versions=2)
        with pytest.raises(LabelNotSet):
            Prompt.load("greeting")
        prompt.set_label("production", version=1)
        assert said(Prompt.load("greeting")) == "Hello Ada!"
        assert said(Prompt.load("greeting", label=None)) == "Hi v2 Ada!"
        assert said(Prompt.load("greeting", label="production")) == "Hello Ada!"


def test_every_move_is_recorded_with_who_when_and_from_where(app: Flask) -> None:
    prompt = make_greeting(versions=3)
    before = dt.datetime.now(dt.timezone.utc)
    prompt.set_label("production", version=1, by="ada")
    prompt.set_label("production", version=3, by="grace")
    prompt.set_label("production", version=3, by="grace")  # already there: no move
    prompt.set_label("staging", version=2)

    moves = prompt.label_moves()
    assert [(m.label, m.from_version, m.to_version, m.moved_by) for m in moves] == [
        ("staging", None, 2, None),
        ("production", 1, 3, "grace"),
        ("production", None, 1, "ada"),
    ]
    assert all(before <= move.moved_at <= dt.datetime.now(dt.timezone.utc) for move in moves)
    assert [m.to_version for m in prompt.label_moves(limit=1)] == [2]
    with pytest.raises(VersionNotFound, match="prompt 'greeting' has no version 9"):
        prompt.set_label("production", version=9)
    with pytest.raises(InvalidPrompt, match="by: must be text"):
        prompt.set_label("production", version=1, by="x" * 256)
    assert Prompt.load("greeting").labels["production"] == 3


def test_a_save_moves_no_label_unless_asked(app: Flask) -> None:
    prompt = make_greeting()
    prompt.set_label("production", version=1)
    prompt.update_content(messages=[{"role": "user", "content": "draft"}])
    assert prompt.labels["production"] == 1

    published = prompt.update_content(
        messages=[{"role": "user", "content": "ship it"}], label="production", by="ada"
    )
    assert published.version_number == 3
    assert prompt.labels["production"] == 3
    assert prompt.label_moves(limit=1)[0].moved_by == "ada"
    assert Prompt.load("greeting", label="production").build()["messages"] == [
        {"role": "user", "content": "ship it"}
    ]


def test_a_refused_publish_saves_nothing(app: Flask) -> None:
    prompt = make_greeting()
    with pytest.raises(InvalidPrompt):
        prompt.update_content(messages=[{"role": "user", "content": "x"}], label="Bad Label")
    assert [v.version_number for v in Prompt.load("greeting", cache=False).versions] == [1]


def test_a_move_reaches_the_cache_like_a_save(make_app: Callable[..., Flask]) -> None:
    this, other = make_app(LLM_LOGS_PROMPT_CACHE_TTL=60), make_app(LLM_LOGS_PROMPT_CACHE_TTL=0.3)
    with this.app_context():
        prompt = make_greeting(versions=2)
        prompt.set_label("production", version=1)
        assert said(Prompt.load("greeting", label="production")) == "Hello Ada!"  # cached now
    with other.app_context():
        assert said(Prompt.load("greeting", label="production")) == "Hello Ada!"
    with this.app_context():
        prompt.set_label("production", version=2)
        assert said(Prompt.load("greeting", label="production")) == "Hi v2 Ada!"  # at once
    with other.app_context():
        assert said(Prompt.load("greeting", label="production")) == "Hello Ada!"  # its TTL
        get_state().prompt_store.cache.clear()
        assert said(Prompt.load("greeting", label="production")) == "Hi v2 Ada!"


def test_a_labelled_version_cannot_be_deleted_and_a_deleted_prompt_takes_its_labels(
    app: Flask,
) -> None:
    prompt = make_greeting(versions=3)
    prompt.set_label("production", version=1)
    with pytest.raises(InvalidPrompt, match="version 1 of prompt 'greeting' is labelled"):
        prompt.delete_version(1)
    prompt.set_label("production", version=2)
    prompt.delete_version(1)
    assert [(m.from_version, m.to_version) for m in prompt.label_moves()] == [(1, 2), (None, 1)]
    prompt.delete()
    session = get_state().session
    assert session.scalar(sa.select(sa.func.count()).select_from(PromptLabel)) == 0
    make_greeting()
    assert Prompt.load("greeting").labels["production"] is None


def test_a_labelled_build_links_its_version_to_the_trace(app: Flask) -> None:
    prompt = make_greeting(versions=2)
    prompt.set_label("production", version=1)
    with trace("reply"):
        Prompt.load("greeting", label="production").build(name="Ada")
    assert flush(timeout=10)
    linked = get_state().session.scalar(sa.select(Trace.prompt_version_id))
    assert linked == prompt.version(1).id


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("LLM_LOGS_PROMPT_LABEL", "Prod", "invalid label 'Prod'"),
        ("LLM_LOGS_PROMPT_LABEL", 1, "invalid label 1"),
        ("LLM_LOGS_PROTECTED_LABELS", "production", "must be a list of labels"),
        ("LLM_LOGS_PROTECTED_LABELS", ["ok", "Not ok"], "invalid label 'Not ok'"),
    ],
)
def test_label_settings_are_checked_at_init_app(
    make_app: Callable[..., Flask], key: str, value: Any, problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"^{key}: .*{problem}"):
        make_app(**{key: value})


def test_concurrent_moves_are_queued_and_each_recorded_from_where_it_was(app: Flask) -> None:
    """Threads moving one label at once: no lost move, each starts where the previous ended."""
    prompt = make_greeting(versions=4)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def move(offset: int) -> None:
        try:
            with app.app_context():
                handle = Prompt.load("greeting", cache=False)
                start.wait()
                for step in range(6):
                    handle.set_label("production", version=(offset + step) % 4 + 1, by=str(offset))
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=move, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    moves = list(reversed(prompt.label_moves()))
    assert moves[0].from_version is None
    for before, after in itertools.pairwise(moves):
        assert after.from_version == before.to_version
        assert after.from_version != after.to_version
    assert prompt.labels["production"] == moves[-1].to_version
