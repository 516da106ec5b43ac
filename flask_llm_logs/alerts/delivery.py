"""Sending an alert: a JSON POST to a webhook (with a timeout and bounded retries), or a call.

Delivery never raises: a webhook that is down or a callable that fails is
logged and recorded on the alert's event (``failed``, with the error), and
the check goes on with its other rules. A webhook URL often holds a token
(Slack's do), so neither the logs nor the database ever see it: only its host.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ..log import get_logger
from .rules import AlertRule

#: Seconds before the first retry of a webhook; each retry waits twice as long.
RETRY_BACKOFF = 0.25
#: Statuses worth another try: the receiver's trouble, not the request's.
_RETRY_STATUSES = frozenset({408, 429})
USER_AGENT = "flask-llm-logs alerts"


@dataclasses.dataclass(frozen=True)
class Alert:
    """What a notification says: given to a callable ``notify``, POSTed as JSON to a webhook."""

    #: The event's id in the history (``/llm_logs/alerts``).
    id: int
    rule: str
    #: ``"firing"`` when the condition starts, ``"resolved"`` when it ends.
    status: str
    #: The rule in words: ``cost per user above 5 over 1 day``.
    description: str
    metric: str
    #: The value measured over the window (``None``: no call in it).
    value: float | None
    threshold: float
    comparison: str
    #: The rule's ``per`` dimension and its value, or ``None``.
    dimension: str | None
    dimension_value: str | None
    filters: dict[str, str]
    window_start: dt.datetime
    window_end: dt.datetime
    #: The traces list filtered to the calls behind the alert, a path under the UI.
    traces_url: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON a webhook receives (times in ISO 8601, UTC)."""
        fields = dataclasses.asdict(self)
        for key in ("window_start", "window_end"):
            fields[key] = fields[key].isoformat()
        return fields


@dataclasses.dataclass(frozen=True)
class Delivery:
    sent: bool
    attempts: int
    error: str | None = None


def webhook_host(url: str) -> str:
    """What may be shown of a webhook URL: its host (the path may hold a token)."""
    return urllib.parse.urlsplit(url).hostname or "?"


def deliver(rule: AlertRule, alert: Alert) -> Delivery:
    """Send ``alert`` where ``rule`` says; log and return a failure, never raise it."""
    notify = rule.notify
    if isinstance(notify, str):
        delivery = post_json(notify, alert.as_dict(), rule.timeout, rule.retries)
        where = f"webhook at {webhook_host(notify)}"
    else:
        where = "notify callable"
        try:
            notify(alert)
        except Exception as error:
            delivery = Delivery(False, 1, f"{error.__class__.__name__}: {error}")
        else:
            delivery = Delivery(True, 1)
    if not delivery.sent:
        get_logger(__name__).warning(
            "alert %r (%s): the %s failed after %d attempt(s): %s",
            rule.name,
            alert.status,
            where,
            delivery.attempts,
            delivery.error,
        )
    return delivery


def post_json(url: str, payload: Any, timeout: float, retries: int) -> Delivery:
    """POST ``payload`` as JSON; retry a connection failure, a timeout or a 5xx/408/429.

    ``timeout`` bounds each attempt's connection and each wait for data. Other
    4xx answers are not retried: the same request would fail the same way.
    """
    body = json.dumps(payload, sort_keys=True).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    attempt = 0
    while True:
        attempt += 1
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                return Delivery(True, attempt)
        except urllib.error.HTTPError as error:
            problem = f"HTTP {error.code} {error.reason}"
            retry = error.code >= 500 or error.code in _RETRY_STATUSES
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            problem = f"{reason.__class__.__name__}: {reason}"
            retry = True
        if not retry or attempt > retries:
            return Delivery(False, attempt, problem)
        time.sleep(RETRY_BACKOFF * 2 ** (attempt - 1))
