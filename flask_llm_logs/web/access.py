"""Who may open the UI, and who may do what in it.

Traces hold prompts, answers and metadata of real users, so the UI is closed
unless the app runs in debug or testing mode or ``LLM_LOGS_AUTHORIZE`` says
yes for this request. The callable is the host's: it can check Flask-Login's
``current_user``, HTTP basic auth, an IP allow-list, anything.

Some buttons do more than others (moving the ``production`` label changes
what every user gets). An ``LLM_LOGS_AUTHORIZE`` that takes a second
argument is asked about those too, with the action's name (``"view"`` for
opening the UI); one that takes only the request keeps its meaning: whoever
may open the UI may do everything in it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any
from typing import cast

from flask import Flask
from flask import Request
from flask import current_app
from flask import request as current_request
from werkzeug.exceptions import Forbidden
from werkzeug.local import LocalProxy

from ..state import get_state

#: The action of opening any page of the UI.
VIEW = "view"
#: Moving a protected label (``LLM_LOGS_PROTECTED_LABELS``).
PUBLISH = "prompts.publish"


class ActionRefused(Forbidden):
    """The user may open the UI but not do this: the 403 page says which permission it needs."""

    def __init__(self, what: str, action: str) -> None:
        super().__init__(
            f"{what} needs the permission {action!r} (LLM_LOGS_AUTHORIZE), which you do not have."
        )


def _takes_action(authorize: Callable[..., Any]) -> bool:
    """Whether ``authorize`` can be called with the request and an action name.

    Asked on every request, not cached: the host's callable may be an
    object that cannot be hashed, and the check costs microseconds.
    """
    try:
        inspect.signature(authorize).bind(None, VIEW)
    except TypeError:
        return False
    except ValueError:  # a builtin without a signature: called as before
        return False
    return True


def is_allowed(app: Flask, request: Request, action: str = VIEW) -> bool:
    """Whether ``request`` may do ``action`` in the UI of ``app``.

    In debug and testing mode the UI is open, but an ``LLM_LOGS_AUTHORIZE``
    that takes the action is still asked about every other action: it was
    written to refuse some.
    """
    authorize = get_state(app).settings.authorize
    takes_action = authorize is not None and _takes_action(authorize)
    if (app.debug or app.testing) and not (takes_action and action != VIEW):
        return True
    if authorize is None:
        return False
    return bool(authorize(request, action) if takes_action else authorize(request))


def may_move_label(label: str) -> bool:
    """Whether the current request may move ``label`` (``LLM_LOGS_PROTECTED_LABELS``)."""
    if label not in get_state().prompt_store.labels.protected:
        return True
    # The host's callable gets the request itself, as in the blueprint's access check.
    request = cast("LocalProxy[Request]", current_request)._get_current_object()
    return is_allowed(current_app, request, PUBLISH)
