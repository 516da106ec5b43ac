"""Checks shared by the Python API and ``sync-prompts``: one set of rules for what can be stored.

Each check raises :class:`InvalidPrompt` (or :class:`TemplateSyntaxError`)
with the prompt and the field at fault, and returns the value in the form it
is stored in.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any

from .errors import InvalidPrompt
from .rendering import RenderLimits
from .rendering import Template
from .rendering import check_section_depth
from .rendering import parse

ROLES = ("system", "developer", "user", "assistant")

#: What a stored message may hold: all text, so a shallow copy is a full copy.
MESSAGE_KEYS = ("role", "content", "name")

#: Slugs are used as ``{{> slug}}`` partial names, so no spaces and no braces.
SLUG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")

#: Keys :meth:`Prompt.build` sets itself, so ``model_params`` may not override them.
RESERVED_PARAMS = ("model", "messages")

#: Model parameters whose values are checked, as the editor's typed fields
#: check them: the types allowed and the lowest and highest value.
NUMBER_PARAMS: dict[str, tuple[tuple[type[int] | type[float], ...], float, float]] = {
    "temperature": ((int, float), 0, 2),
    "max_tokens": ((int,), 1, math.inf),
    "top_p": ((int, float), 0, 1),
}


def check_text(slug: str, field: str, value: str) -> str:
    """Any text that is stored: PostgreSQL refuses NUL in text and JSON, and no prompt needs one."""
    if "\x00" in value:
        raise InvalidPrompt(f"prompt {slug!r}: {field} contains a NUL character")
    return value


def _json_strings(value: Any) -> Iterator[str]:
    """Every key and string inside JSON data, without recursion (the data may nest deeply)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)


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
    return check_text(slug, "name", name)


def check_description(slug: str, description: Any) -> str | None:
    return _optional_text(slug, "description", description)


def check_changelog(slug: str, changelog: Any) -> str | None:
    return _optional_text(slug, "changelog", changelog)


def _optional_text(slug: str, field: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidPrompt(f"prompt {slug!r}: {field} must be a string, got {value!r}")
    return value if value is None else check_text(slug, field, value)


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
        check_text(slug, "tags", tag)
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
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidPrompt(f"prompt {slug!r}: {field} must be JSON data ({error})") from None
    for text in _json_strings(value):
        check_text(slug, field, text)


def check_template(content: str, where: str, limits: RenderLimits) -> Template:
    """A message's content: Mustache that parses, its sections no deeper than rendering allows.

    :raises TemplateSyntaxError: it does not parse.
    :raises SectionsTooDeep: its sections nest deeper than ``limits`` allow.
    """
    template = parse(content, where)
    check_section_depth(template, where, limits)
    return template


def check_messages(slug: str, messages: Any, limits: RenderLimits) -> list[dict[str, Any]]:
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
        name = message.get("name", "")
        if not isinstance(name, str):
            raise InvalidPrompt(f"{where} ({role}): name must be a string")
        check_text(slug, f"message {number} ({role}) name", name)
        check_text(slug, f"message {number} ({role}) content", content)
        check_template(content, f"{where} ({role})", limits)
        checked.append(dict(message))
    return checked


def check_model(slug: str, model: Any) -> str | None:
    if model is not None and (not isinstance(model, str) or not model or len(model) > 255):
        raise InvalidPrompt(
            f"prompt {slug!r}: model must be a non-empty string of at most 255 characters,"
            f" got {model!r}"
        )
    return model if model is None else check_text(slug, "model", model)


def check_model_params(slug: str, model_params: Any) -> dict[str, Any]:
    params = _json_object(slug, "model_params", model_params)
    reserved = [key for key in RESERVED_PARAMS if key in params]
    if reserved:
        raise InvalidPrompt(
            f"prompt {slug!r}: model_params may not contain {', '.join(map(repr, reserved))};"
            " pass the model as model= and the messages as messages="
        )
    for key, (types, lowest, highest) in NUMBER_PARAMS.items():
        value = params.get(key)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, types)
            or not lowest <= value <= highest
        ):
            kind = "an integer" if types == (int,) else "a number"
            bounds = f">= {lowest}" if highest == math.inf else f"from {lowest} to {highest}"
            raise InvalidPrompt(
                f"prompt {slug!r}: model_params {key} must be {kind} {bounds}, got {value!r}"
            )
    return params


def check_default_variables(slug: str, default_variables: Any) -> dict[str, Any]:
    return _json_object(slug, "default_variables", default_variables)
