"""The per-process cache: TTL, invalidation in the saving process, bypass, snapshots.

A second app on the same database has its own cache, exactly like another
process: it stands in for one here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask

from flask_llm_logs import Prompt
from tests.helpers.prompts import current_version


def save(content: str) -> None:
    Prompt.load("p", cache=False).update_content(messages=[{"role": "user", "content": content}])


def content(cache: bool = True) -> str:
    return str(Prompt.load("p", cache=cache).build()["messages"][0]["content"])


def two_apps(make_app: Callable[..., Flask], ttl: float) -> tuple[Flask, Flask]:
    this, other = make_app(LLM_LOGS_PROMPT_CACHE_TTL=ttl), make_app(LLM_LOGS_PROMPT_CACHE_TTL=ttl)
    with this.app_context():
        Prompt.create(slug="p", name="P").update_content(
            messages=[{"role": "user", "content": "v1"}]
        )
    return this, other


def test_other_processes_see_a_save_within_the_ttl(make_app: Callable[..., Flask]) -> None:
    this, other = two_apps(make_app, ttl=0.5)
    with other.app_context():
        assert content() == "v1"
    with this.app_context():
        save("v2")
        assert content() == "v2"  # invalidated at once where it was saved
    with other.app_context():
        assert content() == "v1"  # still cached over there
        assert content(cache=False) == "v2"
        time.sleep(0.6)
        assert content() == "v2"


def test_the_saving_process_sees_every_kind_of_save_at_once(make_app: Callable[..., Flask]) -> None:
    this, _ = two_apps(make_app, ttl=60)
    with this.app_context():
        prompt = Prompt.load("p")
        prompt.update_content(messages=[{"role": "user", "content": "v2"}])
        assert content() == "v2"
        prompt.rollback_to(1)
        assert content() == "v1"
        prompt.update(name="Renamed")
        assert Prompt.load("p").name == "Renamed"
        prompt.delete()
        assert Prompt.all() == []


def test_partials_are_cached_too(make_app: Callable[..., Flask]) -> None:
    this, other = two_apps(make_app, ttl=60)
    with this.app_context():
        Prompt.create(slug="frag", name="Frag").update_content(
            messages=[{"role": "system", "content": "old"}]
        )
        save("[{{> frag}}]")
    with other.app_context():
        assert content() == "[old]"
    with this.app_context():
        Prompt.load("frag").update_content(messages=[{"role": "system", "content": "new"}])
        assert content() == "[new]"
    with other.app_context():
        assert content() == "[old]"
        # cache=False reads the partials from the database as well.
        assert content(cache=False) == "[new]"


def test_ttl_zero_turns_the_cache_off(make_app: Callable[..., Flask]) -> None:
    this, other = two_apps(make_app, ttl=0)
    with other.app_context():
        assert content() == "v1"
    with this.app_context():
        save("v2")
    with other.app_context():
        assert content() == "v2"


def test_ttl_set_at_runtime_applies_to_later_loads(make_app: Callable[..., Flask]) -> None:
    this, other = two_apps(make_app, ttl=60)
    other.config["LLM_LOGS_PROMPT_CACHE_TTL"] = 0
    with other.app_context():
        assert content() == "v1"
    with this.app_context():
        save("v2")
    with other.app_context():
        assert content() == "v2"


def test_cached_loads_share_one_immutable_snapshot(app: Flask) -> None:
    Prompt.create(slug="p", name="P").update_content(messages=[{"role": "user", "content": "v1"}])
    first, second = Prompt.load("p"), Prompt.load("p")
    assert first is not second
    assert first.current_version is current_version(second)
    # Saving through one handle moves that handle on, not the cached snapshot's readers.
    first.update_content(messages=[{"role": "user", "content": "v2"}])
    assert current_version(first).version_number == 2
    assert current_version(second).version_number == 1
    assert current_version(Prompt.load("p")).version_number == 2
