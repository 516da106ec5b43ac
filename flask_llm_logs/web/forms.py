"""Forms of the UI; every state-changing request goes through one.

They are Flask-WTF forms so the CSRF token is checked whether or not the
host enables ``CSRFProtect`` (a plain WTForms ``SessionCSRF`` form would be
rejected once it does). Needs the host's ``SECRET_KEY``.
"""

from __future__ import annotations

import math

import wtforms
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.validators import StopValidation


class Form(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no types
    """Base of the UI's forms: CSRF-protected, nothing else.

    A bare instance is the form of a button that only posts (delete, retry).
    """

    class Meta(FlaskForm.Meta):  # type: ignore[misc]  # as above
        #: Always on, whatever ``WTF_CSRF_ENABLED`` says: hosts turn that off
        #: for their JSON APIs or their own CSRF scheme, which says nothing
        #: about a cookie-authenticated admin UI that deletes data.
        csrf = True


def normalize_newlines(value: str | None) -> str | None:
    """Browsers send textarea lines ending in CRLF; stored prompts use LF.

    Without this, saving an untouched prompt from a browser would look like a
    content change and make a new version.
    """
    if value is None:
        return None
    return value.replace("\r\n", "\n").replace("\r", "\n")


def blank_to_none(value: str | None) -> str | None:
    return value if value and value.strip() else None


def number(form: wtforms.Form, field: Field) -> None:
    """Stop at "not a valid number" instead of adding a range error; refuse NaN."""
    if field.process_errors:
        raise StopValidation()
    if not math.isfinite(field.data):
        raise StopValidation("Enter a finite number.")
