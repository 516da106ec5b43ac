"""A/B splits: ``load(assign_by=)`` picks a label by weight, the same for the same key."""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_llm_logs import ConfigurationError
from flask_llm_logs import Prompt
from flask_llm_logs import flush
from flask_llm_logs import trace
from flask_llm_logs.models import Trace
from flask_llm_logs.prompts import InvalidPrompt
from flask_llm_logs.prompts import LabelNotSet
from flask_llm_logs.prompts.labels import check_weights
from flask_llm_logs.prompts.labels import pick_label
from flask_llm_logs.state import get_state
from tests.helpers.prompts import current_version
from tests.helpers.prompts import make_greeting

SPLIT = {"production": 90, "candidate": 10}


def labelled_greeting(versions: int = 2) -> Prompt:
    """``greeting`` with production on v1 and candidate on v2."""
    prompt = make_greeting(versions=versions)
    prompt.set_label("production", version=1)
    prompt.set_label("candidate", version=2)
    return prompt


def test_weights_hold_over_10000_keys_within_2_points() -> None:
    for weights in (SPLIT, {"a": 1, "b": 1, "c": 2}, {"production": 50, "candidate": 50}):
        checked = check_weights(weights)
        counts = collections.Counter(
            pick_label("support-reply", f"user-{n}", checked) for n in range(10_000)
        )
        total = sum(weights.values())
        for label, weight in weights.items():
            assert abs(counts[label] / 100 - 100 * weight / total) <= 2, (label, counts)


def test_the_pick_is_a_stable_hash_of_slug_and_key() -> None:
    """SHA-256, never hash(): every process and every release must agree."""
    weights = check_weights(SPLIT)
    for key in ("user-1", "user-2", "42", "é"):
        digest = hashlib.sha256(f"support-reply\x00{key}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") % 100
        expected = "candidate" if point < 10 else "production"  # sorted: candidate first
        assert pick_label("support-reply", key, weights) == expected
    # The mapping's order does not matter; the slug does.
    assert check_weights({"candidate": 10, "production": 90}) == weights
    picks = {pick_label(slug, "user-7", weights) for slug in map(str, range(200))}
    assert picks == {"production", "candidate"}


def test_a_configured_split_is_followed_and_sticky(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_PROMPT_SPLITS={"greeting": SPLIT})
    with app.app_context():
        labelled_greeting()
        weights = check_weights(SPLIT)
        numbers = {"production": 1, "candidate": 2}
        chosen = {}
        for n in range(200):
            prompt = Prompt.load("greeting", assign_by=f"user-{n}")
            label = pick_label("greeting", f"user-{n}", weights)
            assert (prompt.label, current_version(prompt).version_number) == (label, numbers[label])
            chosen[n] = (label, numbers[label])
        assert {label for label, _ in chosen.values()} == {"production", "candidate"}
        again = {
            n: Prompt.load("greeting", assign_by=f"user-{n}", cache=False).label for n in chosen
        }
        assert again == {n: label for n, (label, _) in chosen.items()}
        assert Prompt.load("greeting", assign_by=12345).label == pick_label(
            "greeting", "12345", check_weights(SPLIT)
        )


def test_a_persisted_split(app: Flask) -> None:
    prompt = labelled_greeting()
    assert prompt.split_weights is None
    assert Prompt.load("greeting", assign_by="u").label is None  # no split: the default

    prompt.split({"production": 1, "candidate": 3})
    assert prompt.split_weights == {"candidate": 3, "production": 1}
    loaded = Prompt.load("greeting", cache=False)
    assert loaded.split_weights == {"candidate": 3, "production": 1}
    weights = check_weights({"production": 1, "candidate": 3})
    for key in map(str, range(50)):
        assert Prompt.load("greeting", assign_by=key).label == pick_label("greeting", key, weights)

    prompt.split(None)
    assert Prompt.load("greeting", cache=False).split_weights is None
    assert Prompt.load("greeting", assign_by="u").label is None


@pytest.mark.parametrize(
    ("weights", "problem"),
    [
        ({}, "weights: must be a non-empty mapping"),
        ({"production": 0}, "weight of label 'production' must be a positive integer, got 0"),
        ({"production": -5}, "must be a positive integer, got -5"),
        ({"production": 0.5}, "must be a positive integer, got 0.5"),
        ({"production": True}, "must be a positive integer, got True"),
        ({"Production": 1}, "weights: invalid label 'Production'"),
        (["production"], "weights: must be a non-empty mapping"),
    ],
)
def test_bad_weights_are_refused(app: Flask, weights: Any, problem: str) -> None:
    prompt = labelled_greeting()
    with pytest.raises(InvalidPrompt, match=problem):
        prompt.split(weights)
    assert Prompt.load("greeting", cache=False).split_weights is None


def test_a_split_needs_labels_that_name_versions(app: Flask) -> None:
    prompt = labelled_greeting()
    with pytest.raises(LabelNotSet, match="prompt 'greeting' has no version labelled 'staging'"):
        prompt.split({"production": 50, "staging": 50})
    assert Prompt.load("greeting", cache=False).split_weights is None


def test_the_configured_split_wins_and_cannot_be_overwritten(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(LLM_LOGS_PROMPT_SPLITS={"greeting": {"candidate": 1}})
    with app.app_context():
        prompt = labelled_greeting()
        with pytest.raises(InvalidPrompt, match="set by LLM_LOGS_PROMPT_SPLITS"):
            prompt.split({"production": 1})
        assert prompt.split_weights == {"candidate": 1}
        assert {Prompt.load("greeting", assign_by=n).label for n in range(20)} == {"candidate"}


def test_a_configured_label_without_a_version_fails_the_load_naming_it(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(LLM_LOGS_PROMPT_SPLITS={"greeting": {"eu": 1}})
    with app.app_context():
        labelled_greeting()
        with pytest.raises(LabelNotSet, match="no version labelled 'eu'"):
            Prompt.load("greeting", assign_by="user-1")


def test_label_and_assign_by_are_exclusive(app: Flask) -> None:
    labelled_greeting()
    with pytest.raises(InvalidPrompt, match="label, assign_by: give one or the other"):
        Prompt.load("greeting", label="production", assign_by="user-1")


def test_the_chosen_version_is_linked_to_the_trace(app: Flask) -> None:
    prompt = labelled_greeting()
    prompt.split({"candidate": 1})
    with trace("reply"):
        Prompt.load("greeting", assign_by="user-1").build(name="Ada")
    assert flush(timeout=10)
    linked = get_state().session.scalar(sa.select(Trace.prompt_version_id))
    assert linked == prompt.version(2).id


def test_a_split_change_reaches_the_cache_at_once(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_PROMPT_CACHE_TTL=60)
    with app.app_context():
        prompt = labelled_greeting()
        prompt.split({"production": 1})
        assert Prompt.load("greeting", assign_by="u").label == "production"
        prompt.split({"candidate": 1})
        assert Prompt.load("greeting", assign_by="u").label == "candidate"


@pytest.mark.parametrize(
    ("splits", "problem"),
    [
        ([("greeting", {"production": 1})], "must map prompt slugs to"),
        ({"greeting": {"production": 0}}, "prompt 'greeting': weights: the weight of label"),
        ({"greeting": {}}, "prompt 'greeting': weights: must be a non-empty mapping"),
        ({"greeting": {"Prod": 1}}, "invalid label 'Prod'"),
        ({"bad slug": {"production": 1}}, "prompt 'bad slug': invalid slug"),
    ],
)
def test_splits_are_checked_at_init_app(
    make_app: Callable[..., Flask], splits: Any, problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"^LLM_LOGS_PROMPT_SPLITS: .*{problem}"):
        make_app(LLM_LOGS_PROMPT_SPLITS=splits)
