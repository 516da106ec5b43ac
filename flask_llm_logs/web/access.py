"""Who may open the UI, and who may do what in it.

Traces hold prompts, answers and metadata of real users, so the UI is closed
unless the app runs in debug or testing mode or ``LLM_LOGS_AUTHORIZE`` says
yes for this request. The callable is the host's: it can check Flask-Login's
``current_user``, HTTP basic auth, an IP allow-list, anything.

Some buttons do more than read (running a prompt through the provider spends
money): they name an action, such as ``"prompts.run"``. A callable that takes
a second argument is asked about each action (``None`` for reading the
pages); one that takes only the request answers for everything, as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask import Request

from ..state import get_state


def takes_action(authorize: Callable[..., Any]) -> bool:
    """Whether ``authorize`` accepts a second positional argument, the action."""
    try:
        parameters = inspect.signature(authorize).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: the request alone
        return False
    positional = [
        p
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) >= 2 or any(
        p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters
    )


def is_allowed(app: Flask, request: Request, action: str | None = None) -> bool:
    """Whether ``request`` may see the UI of ``app`` (``action`` ``None``), or do ``action``."""
    if app.debug or app.testing:
        return True
    authorize = get_state(app).settings.authorize
    if authorize is None:
        return False
    if takes_action(authorize):
        return bool(authorize(request, action))
    return bool(authorize(request))
