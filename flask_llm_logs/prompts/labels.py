"""Labels and A/B splits: which version of a prompt ``Prompt.load()`` builds.

A label names one version of a prompt. ``production`` and ``staging`` exist
for every prompt, naming no version until one is set; apps add their own
(``candidate``, ``eu``). A split shares a prompt's traffic between labels by
weight: :func:`pick_label` hashes the prompt's slug and the caller's key, so
the same key (a user id) always gets the same label, in every process and
on every machine, for as long as the weights stay the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from ..config import ConfigurationError
from .errors import InvalidPrompt
from .validation import check_slug

#: The labels every prompt has, naming no version until one is set.
STANDARD_LABELS = ("production", "staging")

LABEL_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,49}")

#: A split's weights by label, sorted by label: the order :func:`pick_label`
#: walks, whatever order the mapping was written (or stored as JSON) in.
Weights = tuple[tuple[str, int], ...]


def check_label(label: Any, argument: str | None = "label") -> str:
    """``label`` if it can name a label; else :class:`InvalidPrompt` naming ``argument``."""
    if not isinstance(label, str) or not LABEL_PATTERN.fullmatch(label):
        where = "" if argument is None else f"{argument}: "
        raise InvalidPrompt(
            f"{where}invalid label {label!r}: use 1 to 50 lowercase letters, digits,"
            " '-', '_' or '.', starting with a letter or digit"
        )
    return label


def check_weights(weights: Any) -> Weights:
    """A split's weights: a non-empty mapping of labels to positive integers.

    :raises InvalidPrompt: the message says which label or weight is wrong.
    """
    if not isinstance(weights, Mapping) or not weights:
        raise InvalidPrompt(
            "weights: must be a non-empty mapping of labels to positive integers,"
            f" such as {{'production': 90, 'candidate': 10}}, got {weights!r}"
        )
    for label, weight in weights.items():
        check_label(label, "weights")
        if isinstance(weight, bool) or not isinstance(weight, int) or weight <= 0:
            raise InvalidPrompt(
                f"weights: the weight of label {label!r} must be a positive integer, got {weight!r}"
            )
    return tuple(sorted(weights.items()))


def pick_label(slug: str, key: str, weights: Weights) -> str:
    """The label of ``weights`` that ``key`` gets, always the same for the same inputs.

    SHA-256 of the slug and the key, not :func:`hash` (salted per process):
    every worker must give a user the same version. 64 bits of the digest
    modulo the total weight leave a bias far below anything measurable.
    """
    total = sum(weight for _, weight in weights)
    digest = hashlib.sha256(f"{slug}\x00{key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for label, weight in weights:
        if point < weight:
            return label
        point -= weight
    raise AssertionError("unreachable: point < total")


@dataclasses.dataclass(frozen=True)
class LabelSettings:
    """``LLM_LOGS_PROMPT_LABEL``, ``LLM_LOGS_PROTECTED_LABELS`` and ``LLM_LOGS_PROMPT_SPLITS``."""

    #: The label ``load()`` uses when given none (``None``: the latest version).
    default: str | None = None
    #: Labels that the UI moves only for users allowed the action ``prompts.publish``.
    protected: frozenset[str] = frozenset({"production"})
    #: Splits set by configuration, by slug; they win over ``Prompt.split()``.
    splits: Mapping[str, Weights] = dataclasses.field(default_factory=dict)


def read_label_settings(config: Mapping[str, Any]) -> LabelSettings:
    """The keys, validated at ``init_app``: a typo fails at start-up, naming the key.

    Whether a split's labels name a version is known only to the database:
    a label that names none fails the ``load()`` that picks it, with
    :class:`~.errors.LabelNotSet`.
    """
    key = "LLM_LOGS_PROMPT_LABEL"
    default = config[key]
    try:
        if default is not None:
            check_label(default, None)
        key = "LLM_LOGS_PROTECTED_LABELS"
        protected = config[key]
        if isinstance(protected, str) or not isinstance(protected, (list, tuple, set, frozenset)):
            raise InvalidPrompt(f"must be a list of labels, got {protected!r}")
        for label in protected:
            check_label(label, "a protected label")
        key = "LLM_LOGS_PROMPT_SPLITS"
        splits = config[key]
        if not isinstance(splits, Mapping):
            raise InvalidPrompt(
                "must map prompt slugs to {label: weight} mappings, such as"
                f" {{'support-reply': {{'production': 90, 'candidate': 10}}}}, got {splits!r}"
            )
        checked = {}
        for slug, weights in splits.items():
            try:
                checked[check_slug(slug)] = check_weights(weights)
            except InvalidPrompt as error:
                raise InvalidPrompt(f"prompt {slug!r}: {error}") from None
    except InvalidPrompt as error:
        raise ConfigurationError(key, str(error)) from None
    return LabelSettings(default, frozenset(protected), checked)


@dataclasses.dataclass(frozen=True, slots=True)
class LabelMove:
    """One move of a label, as the prompt's history shows it."""

    label: str
    #: The version the label named before (``None``: it named none).
    from_version: int | None
    to_version: int
    #: Who moved it: the UI's user, or the ``by`` given to ``set_label()``.
    moved_by: str | None
    moved_at: dt.datetime
