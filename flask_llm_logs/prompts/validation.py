"""Checks shared by the Python API and ``sync-prompts``: one set of rules for what can be stored.

Each check raises :class:`InvalidPrompt` (or :class:`TemplateSyntaxError`)
with the prompt and the field at fault, and returns the value in the form it
is stored in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import InvalidPrompt
from .rendering import parse

ROLES = ("system", "developer", "user", "assistant")

#: What a stored message may hold: all text, so a shallow copy is a full copy.
MESSAGE_KEYS = ("role", "content", "name")

#: Slugs are used as ``{{> slug}}`` partial names, so no spaces and no braces.
SLUG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")

#: Keys :meth:`Prompt.build` sets itself, so ``model_params`` may not override them.
RESERVED_PARAMS = ("model", "messages")


def check_slug(slug: Any) -> str:
    if not isinstance(slug, str) or not SLUG_PATTERN.fullmatch(slug):
        raise InvalidPrompt(
            f"invalid slug {slug!r}: use 1 to 255 letters, digits, '-', '_' or '.',"
            " starting with a letter or digit"
        )
    return slug


def check_name(slug: str, name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise InvalidPrompt(
            f"prompt {slug!r}: name must be a non-empty string of at most 255 characters,"
            f" got {name!r}"
        )
    return name


def check_description(slug: str, description: Any) -> str | None:
    return _optional_text(slug, "description", description)


def check_changelog(slug: str, changelog: Any) -> str | None:
    return _optional_text(slug, "changelog", changelog)


def _optional_text(slug: str, field: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidPrompt(f"prompt {slug!r}: {field} must be a string, got {value!r}")
    return value


def check_tags(slug: str, tags: Any) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str) or not isinstance(tags, (list, tuple)):
        raise InvalidPrompt(f"prompt {slug!r}: tags must be a list of strings, got {tags!r}")
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise InvalidPrompt(
                f"prompt {slug!r}: every tag must be a non-empty string, got {tag!r}"
            )
    return list(dict.fromkeys(tags))


def _json_object(slug: str, field: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise InvalidPrompt(
            f"prompt {slug!r}: {field} must be a dict with string keys, got {value!r}"
        )
    _check_json(slug, field, value)
    return dict(value)


def _check_json(slug: str, field: str, value: Any) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as error:
        raise InvalidPrompt(f"prompt {slug!r}: {field} must be JSON data ({error})") from None


def check_messages(slug: str, messages: Any) -> list[dict[str, Any]]:
    """Every message needs a known role and a string content that parses as Mustache."""
    if (
        isinstance(messages, (str, Mapping))
        or not isinstance(messages, (list, tuple))
        or not messages
    ):
        raise InvalidPrompt(
            f"prompt {slug!r}: messages must be a non-empty list of"
            f" {{'role': ..., 'content': ...}} dicts, got {messages!r}"
        )
    checked = []
    for number, message in enumerate(messages, 1):
        where = f"prompt {slug!r} message {number}"
        if not isinstance(message, Mapping):
            raise InvalidPrompt(
                f"{where}: must be a dict with 'role' and 'content', got {message!r}"
            )
        role = message.get("role")
        if role not in ROLES:
            raise InvalidPrompt(f"{where}: role must be one of {', '.join(ROLES)}; got {role!r}")
        content = message.get("content")
        if not isinstance(content, str):
            raise InvalidPrompt(f"{where} ({role}): content must be a string, got {content!r}")
        unknown = [key for key in message if key not in MESSAGE_KEYS]
        if unknown:
            raise InvalidPrompt(
                f"{where} ({role}): unknown keys {', '.join(map(repr, unknown))};"
                f" a message has {', '.join(MESSAGE_KEYS)}"
            )
        if not isinstance(message.get("name", ""), str):
            raise InvalidPrompt(f"{where} ({role}): name must be a string")
        parse(content, f"{where} ({role})")
        checked.append(dict(message))
    return checked


def check_model(slug: str, model: Any) -> str | None:
    if model is not None and (not isinstance(model, str) or not model or len(model) > 255):
        raise InvalidPrompt(
            f"prompt {slug!r}: model must be a non-empty string of at most 255 characters,"
            f" got {model!r}"
        )
    return model


def check_model_params(slug: str, model_params: Any) -> dict[str, Any]:
    params = _json_object(slug, "model_params", model_params)
    reserved = [key for key in RESERVED_PARAMS if key in params]
    if reserved:
        raise InvalidPrompt(
            f"prompt {slug!r}: model_params may not contain {', '.join(map(repr, reserved))};"
            " pass the model as model= and the messages as messages="
        )
    return params


def check_default_variables(slug: str, default_variables: Any) -> dict[str, Any]:
    return _json_object(slug, "default_variables", default_variables)
