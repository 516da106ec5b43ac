"""Who may open the UI.

Traces hold prompts, answers and metadata of real users, so the UI is closed
unless the app runs in debug or testing mode or ``LLM_LOGS_AUTHORIZE`` says
yes for this request. The callable is the host's: it can check Flask-Login's
``current_user``, HTTP basic auth, an IP allow-list, anything.
"""

from __future__ import annotations

from flask import Flask
from flask import Request

from ..state import get_state


def is_allowed(app: Flask, request: Request) -> bool:
    """Whether ``request`` may see the UI of ``app``."""
    if app.debug or app.testing:
        return True
    authorize = get_state(app).settings.authorize
    return authorize is not None and bool(authorize(request))
