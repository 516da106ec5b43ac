"""From an alert to the traces behind it: the traces list's query for a rule and a window.

The rules' dimensions are filters of the traces list under the same names
(``model``, ``user``, ``prompt_version`` ...); the window becomes its
``since``/``until``. The page links with ``url_for``; a notification, sent
from a job with no request to build URLs from, carries the path under the UI.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Mapping

from ..models.base import naive_utc


def _utc(value: dt.datetime) -> str:
    """Naive UTC to the second, as the traces list reads ``since`` and ``until``."""
    return naive_utc(value).replace(microsecond=0).isoformat()


def trace_args(
    filters: Mapping[str, str],
    per: str | None,
    value: str | None,
    window: tuple[dt.datetime, dt.datetime],
) -> dict[str, str]:
    """The traces list's query arguments for a rule's filters, one dimension value, a window.

    ``until`` is rounded up to the second so that the window's last traces are in.
    """
    args = dict(filters)
    if per and value is not None:
        args[per] = value
    end = window[1] + dt.timedelta(seconds=1) if window[1].microsecond else window[1]
    args.update(since=_utc(window[0]), until=_utc(end))
    return args


def traces_path(
    url_prefix: str,
    filters: Mapping[str, str],
    per: str | None,
    value: str | None,
    window: tuple[dt.datetime, dt.datetime],
) -> str:
    """:func:`trace_args` as a path under the UI's prefix: ``/llm_logs/traces?model=...``."""
    query = urllib.parse.urlencode(trace_args(filters, per, value, window))
    return f"{url_prefix.rstrip('/')}/traces?{query}"
