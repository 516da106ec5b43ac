"""The ``llm_logs`` Blueprint: access control, security headers, error pages.

Templates live under ``templates/llm_logs/`` so the host can override any of
them by putting a file with the same path in its own ``templates`` folder.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from typing import cast

import sqlalchemy as sa
from flask import Blueprint
from flask import Request
from flask import abort
from flask import current_app
from flask import render_template
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import ServiceUnavailable
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response

from ..migrations.status import describe
from ..models.base import as_utc
from ..state import get_state
from .access import ActionRefused
from .access import is_allowed
from .rendering import json_text
from .rendering import payload_html

blueprint = Blueprint(
    "llm_logs",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

#: No inline script or style anywhere: what an LLM wrote can never run, even
#: if some escaping were missed. Images only from the UI itself.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


@blueprint.before_request
def check_access() -> None:
    # The stylesheet is public so that the 403 page itself looks right.
    if request.endpoint == "llm_logs.static":
        return
    # The host's callable gets the request itself, not Flask's proxy to it:
    # it may keep it past this request (a log, an audit trail). Flask types
    # the proxy as the Request it stands for, hence the cast.
    current_request = cast("LocalProxy[Request]", request)._get_current_object()
    if not is_allowed(current_app, current_request):
        abort(403)


@blueprint.after_request
def security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


ERROR_TITLES = {
    400: "Bad request",
    403: "Access to the LLM logs is not enabled",
    404: "Not found",
    405: "Method not allowed",
    503: "The LLM logs tables need an upgrade",
}


@blueprint.errorhandler(HTTPException)
def error_page(error: HTTPException) -> Any:
    """Every HTTP error under the UI's prefix as a page of the UI (never a 500)."""
    code = error.code or 500
    if code not in ERROR_TITLES:
        return error
    refused = isinstance(error, ActionRefused)
    title = "Not allowed" if refused else ERROR_TITLES[code]
    return render_template(
        "llm_logs/error.html", error=error, code=code, title=title, refused=refused
    ), code


@blueprint.errorhandler(sa.exc.DBAPIError)
def schema_not_ready(error: sa.exc.DBAPIError) -> Any:
    """Tables missing or behind the package: say what to run, not a bare 500.

    Any other database error is raised again, as if this handler were not here.
    """
    problem = describe(error, get_state().engine)
    if problem is None:
        raise error
    return error_page(ServiceUnavailable(problem))


class Format:
    """Number and time formatting for templates, shared by every page."""

    #: Shown for a value that was not recorded.
    MISSING = "\u2013"

    @staticmethod
    def number(value: int | float | None) -> str:
        return Format.MISSING if value is None else f"{value:,}"

    @staticmethod
    def cost(value: float | None) -> str:
        if value is None:
            return Format.MISSING
        if value >= 100:
            return f"${value:,.2f}"
        # Single calls cost fractions of a cent: keep up to six decimals, at least four.
        decimals = f"{value:.6f}".rstrip("0").partition(".")[2]
        return f"${value:.{max(len(decimals), 4)}f}"

    @staticmethod
    def percent(share: float | None) -> str:
        """A share from 0 to 1 (an error rate) as a percentage."""
        if share is None:
            return Format.MISSING
        return f"{share * 100:.1f}%" if share >= 0.001 or share == 0 else f"{share * 100:.2f}%"

    @staticmethod
    def duration(ms: float | None) -> str:
        if ms is None:
            return Format.MISSING
        if ms < 1000:
            return f"{ms:.0f} ms"
        if ms < 60_000:
            return f"{ms / 1000:.2f} s"
        return f"{ms / 60_000:.1f} min"

    @staticmethod
    def when(value: dt.datetime | None) -> str:
        """UTC, to the second; naive values (SQLite) are UTC already."""
        if value is None:
            return Format.MISSING
        return as_utc(value).strftime("%Y-%m-%d %H:%M:%S")

    @staticmethod
    def iso(value: dt.datetime | None) -> str:
        if value is None:
            return ""
        return as_utc(value).isoformat()


#: The navigation: (label, endpoint, the endpoint prefixes of its section).
NAVIGATION = [
    ("Dashboard", "llm_logs.dashboard", ("llm_logs.dashboard",)),
    ("Traces", "llm_logs.traces", ("llm_logs.trace", "llm_logs.span", "llm_logs.index")),
    ("Sessions", "llm_logs.sessions", ("llm_logs.session", "llm_logs.user")),
    ("Prompts", "llm_logs.prompts", ("llm_logs.prompt",)),
    ("Batches", "llm_logs.batches", ("llm_logs.batch",)),
    ("Alerts", "llm_logs.alerts", ("llm_logs.alert",)),
]


@blueprint.context_processor
def template_helpers() -> dict[str, Any]:
    return {
        "fmt": Format,
        "navigation": NAVIGATION,
        "payload_html": payload_html,
        "json_text": json_text,
    }
