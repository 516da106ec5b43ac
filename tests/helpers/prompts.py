"""Prompts the prompt page tests start from, and the new-prompt form (tests/web_prompts)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask

from flask_llm_logs import Prompt
from flask_llm_logs.prompts.store import Version
from flask_llm_logs.state import get_state
from tests.helpers.writer import span_record
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record

#: Stored content that must show as text everywhere: markup and triple Mustache.
HOSTILE = "<script>window.pwned = 1</script> {{{triple}}} <img src=x onerror=alert(1)>"

#: The new-prompt form as a person fills it in.
NEW = {
    "slug": "welcome",
    "name": "Welcome",
    "description": "First contact.",
    "tags": "onboarding, email",
    "messages-0-role": "system",
    "messages-0-name": "",
    "messages-0-content": "You write for {{company}}.",
    "messages-1-role": "user",
    "messages-1-name": "",
    "messages-1-content": "Welcome {{name}}.\r\nKeep it short.",
    "model": "gpt-4.1-mini",
    "temperature": "0.5",
    "max_tokens": "300",
    "top_p": "",
    "extra_params": '{"seed": 7}',
    "default_variables": '{"company": "Acme"}',
    "changelog": "First draft",
}


def make_greeting(versions: int = 1, **create: Any) -> Prompt:
    """A prompt ``greeting`` with ``versions`` versions: v1 says "Hello", later ones "Hi vN"."""
    create.setdefault("slug", "greeting")
    create.setdefault("name", "Greeting")
    prompt = Prompt.create(**create)
    for number in range(1, versions + 1):
        words = "Hello" if number == 1 else f"Hi v{number}"
        prompt.update_content(
            messages=[
                {"role": "system", "content": "You are {{tone}}."},
                {"role": "user", "content": f"{words} {{{{name}}}}!"},
            ],
            model="gpt-4.1-mini" if number == 1 else "gpt-4.1",
            model_params={"temperature": 0.2 * number},
            default_variables={"tone": "kind"},
            changelog=f"change {number}",
        )
    return prompt


def make_prompt(
    slug: str,
    name: str,
    system: str,
    user: str,
    *,
    model_params: dict[str, Any],
    default_variables: dict[str, Any],
    then: tuple[str, dict[str, Any]] | None = None,
) -> Prompt:
    """A prompt whose v1 is a ``system`` and a ``user`` message on gpt-4.1-mini.

    With ``then`` (a user message and its model parameters), a v2 of that one
    message on claude-sonnet-4-5: an OpenAI version and an Anthropic one, what
    the playground runs side by side.
    """
    prompt = Prompt.create_with_content(
        slug,
        name,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        model="gpt-4.1-mini",
        model_params=model_params,
        default_variables=default_variables,
    )
    if then is not None:
        content, params = then
        prompt.update_content(
            messages=[{"role": "user", "content": content}],
            model="claude-sonnet-4-5",
            model_params=params,
        )
    return prompt


def current_version(prompt: Prompt) -> Version:
    """``prompt``'s current version, which the test expects it to have."""
    version = prompt.current_version
    assert version is not None, f"{prompt.slug} has no version"
    return version


def record_version_calls(app: Flask, version_id: int, *calls: dict[str, Any]) -> list[uuid.UUID]:
    """One trace per call built from a prompt version, through the writer; their ids.

    The trace is linked to the version (what scores are compared by) and its
    LLM span's metadata names it (what the metrics table counts calls by).
    A call's fields (``duration_ms``, ``cost``, ``status``) go on its span.
    """
    records: list[Any] = []
    for call in calls:
        trace = trace_record(status="completed", prompt_version_id=version_id)
        metadata = {"prompt_version_id": version_id}
        span = span_record(trace.id, kind="llm", model="gpt-4.1", metadata=metadata, **call)
        records += [trace, span]
    submit(app, *records)
    assert get_state(app).writer.flush(10), "the writer did not store the calls in time"
    return [record.id for record in records[::2]]
