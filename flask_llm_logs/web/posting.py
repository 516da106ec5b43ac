"""The check every state-changing button of the UI goes through."""

from __future__ import annotations

from werkzeug.exceptions import BadRequest

from ..state import note_write
from .forms import Form


def require_valid_form() -> None:
    """Refuse a POST without a valid CSRF token, with a 400 page that says what to do.

    A valid one is about to change something: this browser's next pages read
    the primary, not a replica that may not have the change yet.
    """
    if not Form().validate_on_submit():
        raise BadRequest(
            "The form expired or did not come from this page: reload the page and try again."
        )
    note_write()
