"""Who uses the UI: the author of the scores and comments added there."""

from __future__ import annotations

from ..state import get_state
from ..tracing.request_context import flask_login_user_id

#: What the ``author`` column holds.
MAX_AUTHOR_LENGTH = 255


def current_author() -> str | None:
    """``LLM_LOGS_CURRENT_USER``'s answer, else Flask-Login's logged-in user's id.

    The host's callable is not guarded: a UI that stored scores without the
    author it was set up to record would hide the host's bug.
    """
    current_user = get_state().settings.current_user
    author = current_user() if current_user is not None else flask_login_user_id()
    return None if author is None else str(author)[:MAX_AUTHOR_LENGTH]
