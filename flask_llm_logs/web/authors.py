"""Who uses the UI: the author of the scores and comments added there."""

from __future__ import annotations

from flask import current_app

from ..state import get_state

#: What the ``author`` column holds.
MAX_AUTHOR_LENGTH = 255


def current_author() -> str | None:
    """``LLM_LOGS_CURRENT_USER``'s answer, else Flask-Login's logged-in user's id.

    The host's callable is not guarded: a UI that stored scores without the
    author it was set up to record would hide the host's bug.
    """
    current_user = get_state().settings.current_user
    author = current_user() if current_user is not None else _flask_login_user_id()
    return None if author is None else str(author)[:MAX_AUTHOR_LENGTH]


def _flask_login_user_id() -> str | None:
    """The id of Flask-Login's ``current_user``, when the app uses Flask-Login and
    someone is logged in."""
    if getattr(current_app, "login_manager", None) is None:
        return None
    from flask_login import current_user

    if not current_user.is_authenticated:
        return None
    user_id = current_user.get_id()
    return None if user_id is None else str(user_id)
