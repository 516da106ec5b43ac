"""Forms of the UI; every state-changing request goes through one.

They are Flask-WTF forms so the CSRF token is checked whether or not the
host enables ``CSRFProtect`` (a plain WTForms ``SessionCSRF`` form would be
rejected once it does). Needs the host's ``SECRET_KEY``.
"""

from __future__ import annotations

from flask_wtf import FlaskForm


class Form(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no types
    """Base of the UI's forms: CSRF-protected, nothing else.

    A bare instance is the form of a button that only posts (delete, retry).
    """

    class Meta(FlaskForm.Meta):  # type: ignore[misc]  # as above
        #: Always on, whatever ``WTF_CSRF_ENABLED`` says: hosts turn that off
        #: for their JSON APIs or their own CSRF scheme, which says nothing
        #: about a cookie-authenticated admin UI that deletes data.
        csrf = True
