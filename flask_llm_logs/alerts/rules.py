"""``LLM_LOGS_ALERTS``: what a rule may say, and its validation at ``init_app``.

A rule is a plain dict in the app's config (or an :class:`AlertRule`), checked
once at start-up so that a typo in a threshold or a webhook URL fails the
deploy with the rule's name and the field, not the first check hours later.
This module is pure: it reads nothing of the app's state, so the state can
name its types.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import urllib.parse
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from ..config import ConfigurationError
from ..models.metrics import QUERY_DIMENSIONS

KEY = "LLM_LOGS_ALERTS"

#: What a rule measures, and the ``metrics()`` column it reads (``tokens``:
#: input plus output tokens, cached ones being part of the input).
METRICS = ("cost", "error_rate", "p95_duration", "calls", "tokens")

#: The dimensions of ``flask_llm_logs.metrics()``: what ``filters`` and ``per`` may name.
DIMENSIONS = tuple(QUERY_DIMENSIONS)

COMPARISONS = ("above", "below")

#: The longest rule name and dimension value the state tables hold.
MAX_NAME_LENGTH = 255

#: ``"15m"``, ``"1h"``, ``"7d"``, ``"1w"``.
_WINDOW = re.compile(r"\s*(\d+)\s*([mhdw])\s*")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

#: The aggregates are kept per minute: a shorter window would measure nothing.
MIN_WINDOW = dt.timedelta(minutes=1)

DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 2
#: A webhook is tried at most this many times more after its first attempt.
MAX_RETRIES = 5

#: What a callable ``notify`` is given: the :class:`~.delivery.Alert`.
Notify = Callable[[Any], object]


@dataclasses.dataclass(frozen=True, eq=False)
class AlertRule:
    """One validated rule of ``LLM_LOGS_ALERTS``; see :doc:`/alerts`.

    A host may give these instead of dicts; they are validated the same way.
    """

    name: str
    #: One of :data:`METRICS`.
    metric: str
    window: dt.timedelta
    threshold: float
    #: A webhook URL (``http``/``https``) or a callable given the alert.
    notify: str | Notify
    #: ``"above"`` (the default) or ``"below"``.
    comparison: str = "above"
    #: Dimension -> value: only the calls that match all of them count.
    filters: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: A dimension: the rule is evaluated for each of its values on its own.
    per: str | None = None
    #: Fewer calls than this in the window never fire (one failed call of one
    #: is an error rate of 100%).
    min_calls: int = 0
    #: Seconds a webhook POST may take, and how many times a failed one is retried.
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES

    @property
    def webhook(self) -> str | None:
        return self.notify if isinstance(self.notify, str) else None

    def breached(self, value: float | None, calls: int) -> bool:
        """Whether ``value``, measured over ``calls`` calls, is past the threshold."""
        if value is None or calls < self.min_calls:
            return False
        return value > self.threshold if self.comparison == "above" else value < self.threshold

    def describe(self) -> str:
        """``cost per user above 5 over 1 day``: the rule in words, for pages and messages."""
        per = f" per {self.per}" if self.per else ""
        where = "".join(f", {key}={value}" for key, value in sorted(self.filters.items()))
        return (
            f"{self.metric}{per} {self.comparison} {self.threshold:g}"
            f" over {format_window(self.window)}{where}"
        )


def format_window(window: dt.timedelta) -> str:
    """A window in the largest unit that divides it: ``1 day``, ``15 minutes``."""
    count = int(window.total_seconds() // 60)
    unit = "minute"
    for name, minutes in (("week", 7 * 24 * 60), ("day", 24 * 60), ("hour", 60)):
        if count % minutes == 0:
            count, unit = count // minutes, name
            break
    return f"{count} {unit}{'' if count == 1 else 's'}"


class _RuleError(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")


def _window(value: Any) -> dt.timedelta:
    if isinstance(value, str):
        match = _WINDOW.fullmatch(value)
        if match is None:
            raise _RuleError(
                "window", f'must be like "15m", "1h", "1d" or "1w" (or a timedelta), got {value!r}'
            )
        value = dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if not isinstance(value, dt.timedelta):
        raise _RuleError("window", f'must be like "15m", "1h", "1d" or a timedelta, got {value!r}')
    if value < MIN_WINDOW or value % MIN_WINDOW:
        raise _RuleError("window", f"must be a whole number of minutes, at least 1, got {value}")
    return value


def _number(field: str, value: Any, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _RuleError(field, f"must be a number, got {value!r}")
    if value < minimum:
        raise _RuleError(field, f"must be >= {minimum:g}, got {value!r}")
    return float(value)


def _count(field: str, value: Any, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _RuleError(field, f"must be a whole number >= 0, got {value!r}")
    if maximum is not None and value > maximum:
        raise _RuleError(field, f"must be at most {maximum}, got {value!r}")
    return value


def _choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _RuleError(field, f"must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


def _threshold(metric: str, value: Any) -> float:
    threshold = _number("threshold", value)
    if metric == "error_rate" and threshold > 1:
        raise _RuleError(
            "threshold", f"an error rate is a fraction from 0 to 1 (0.1 is 10%), got {value!r}"
        )
    return threshold


def _filters(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _RuleError("filters", f"must be a dict of dimension -> value, got {value!r}")
    filters = {}
    for dimension, wanted in value.items():
        _choice("filters", dimension, DIMENSIONS)
        if isinstance(wanted, bool) or not isinstance(wanted, (str, int)) or wanted == "":
            raise _RuleError(
                f"filters[{dimension!r}]", f"must be a text or a number, got {wanted!r}"
            )
        if dimension == "prompt_version" and not str(wanted).isdigit():
            raise _RuleError(
                "filters['prompt_version']", f"must be a prompt version id, got {wanted!r}"
            )
        filters[str(dimension)] = str(wanted)
    return filters


def _notify(value: object) -> str | Notify:
    if callable(value):
        return value
    if isinstance(value, str):
        parts = urllib.parse.urlsplit(value)
        if parts.scheme in ("http", "https") and parts.hostname:
            return value
    # The value may be a webhook URL with a token in it: name its kind, not the value.
    shown = f"a {type(value).__name__}" if isinstance(value, str) else repr(value)
    raise _RuleError("notify", f"must be an http(s) webhook URL or a callable, got {shown}")


#: The fields a rule dict may have; anything else is a typo.
FIELDS = tuple(field.name for field in dataclasses.fields(AlertRule))
_REQUIRED = ("name", "metric", "window", "threshold", "notify")


def _rule(fields: Mapping[str, Any]) -> AlertRule:
    unknown = sorted(set(fields) - set(FIELDS), key=str)
    if unknown:
        raise _RuleError(
            str(unknown[0]), f"is not a field of a rule (the fields are {', '.join(FIELDS)})"
        )
    for field in _REQUIRED:
        if fields.get(field) is None:
            raise _RuleError(field, "is required")
    metric = _choice("metric", fields["metric"], METRICS)
    filters = _filters(fields.get("filters"))
    per = fields.get("per")
    if per is not None:
        per = _choice("per", per, DIMENSIONS)
        if per in filters:
            raise _RuleError(
                "per", f"{per!r} is also in filters: evaluate per value, or filter on one"
            )
    return AlertRule(
        name=fields["name"],
        metric=metric,
        window=_window(fields["window"]),
        threshold=_threshold(metric, fields["threshold"]),
        notify=_notify(fields["notify"]),
        comparison=_choice("comparison", fields.get("comparison", "above"), COMPARISONS),
        filters=filters,
        per=per,
        min_calls=_count("min_calls", fields.get("min_calls", 0)),
        timeout=_number("timeout", fields.get("timeout", DEFAULT_TIMEOUT), minimum=0.001),
        retries=_count("retries", fields.get("retries", DEFAULT_RETRIES), MAX_RETRIES),
    )


def load_rules(config: Mapping[str, Any]) -> tuple[AlertRule, ...]:
    """The validated rules of ``LLM_LOGS_ALERTS``.

    :raises ConfigurationError: naming the rule (by name, else by position)
        and the field at fault.
    """
    value = config.get(KEY)
    if value is None:
        return ()
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise ConfigurationError(KEY, f"must be a list of rules (dicts), got {value!r}")
    rules: list[AlertRule] = []
    for position, item in enumerate(value, 1):
        if isinstance(item, AlertRule):
            item = {field: getattr(item, field) for field in FIELDS}
        if not isinstance(item, Mapping):
            raise ConfigurationError(KEY, f"rule #{position}: must be a dict, got {item!r}")
        name = item.get("name")
        label = f"rule {name!r}" if isinstance(name, str) and name else f"rule #{position}"
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
            raise ConfigurationError(
                KEY, f"{label}: name: must be a text of 1 to {MAX_NAME_LENGTH} characters"
            )
        if any(rule.name == name for rule in rules):
            raise ConfigurationError(KEY, f"{label}: name: two rules have this name")
        try:
            rules.append(_rule(item))
        except _RuleError as error:
            raise ConfigurationError(KEY, f"{label}: {error}") from None
    return tuple(rules)
