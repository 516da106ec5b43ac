"""What a trace started inside a Flask request knows of it: the route, the endpoint, the user.

Read once per trace, when it starts, never per LLM call. The route is the
URL rule (``/chat/<int:id>``), not the path: a path holds ids and the query
string holds anything, and neither groups traces. The attributes carry
OpenTelemetry's names, so exported traces read as any HTTP server's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from flask import Request
from flask import current_app
from flask import request

from ..config import Settings
from ..log import get_logger

try:
    import flask_login
except ImportError:  # optional: the default user is Flask-Login's when it is installed
    flask_login = None


@dataclasses.dataclass(slots=True)
class RequestContext:
    #: ``http.request.method``, ``http.route`` and ``flask.endpoint``, for the trace's metadata.
    attributes: dict[str, str]
    user_id: str | None
    session_id: str | None


def read(settings: Settings) -> RequestContext:
    """The current request's context; call it inside a request only.

    The request is looked up once: each attribute read through Flask's
    ``request`` proxy would look it up again.
    """
    current: Request = request._get_current_object()  # type: ignore[attr-defined]
    attributes = {"http.request.method": current.method}
    rule = current.url_rule
    if rule is not None:
        attributes["http.route"] = rule.rule
        if rule.endpoint is not None:  # what ``request.endpoint`` reads
            attributes["flask.endpoint"] = rule.endpoint
    return RequestContext(
        attributes,
        _call("LLM_LOGS_USER_ID", settings.user_id or flask_login_user_id),
        _call("LLM_LOGS_SESSION_ID", settings.session_id),
    )


def route_name() -> str:
    """The name of a request's automatic trace: ``POST /chat/<int:id>``."""
    current: Request = request._get_current_object()  # type: ignore[attr-defined]
    rule = current.url_rule
    return current.method if rule is None else f"{current.method} {rule.rule}"


def flask_login_user_id() -> str | None:
    """The id of Flask-Login's ``current_user``, when Flask-Login runs and it is logged in."""
    if flask_login is None or not hasattr(current_app, "login_manager"):
        return None
    user = flask_login.current_user
    if not user.is_authenticated:
        return None
    user_id: str = user.get_id()
    return user_id


def _call(key: str, read_value: Callable[[], Any] | None) -> str | None:
    """The app's callable's answer as text; its failure is the app's bug, never the request's."""
    if read_value is None:
        return None
    try:
        value = read_value()
    except Exception:
        get_logger().warning(
            "flask-llm-logs: %s raised; the trace goes without it", key, exc_info=True
        )
        return None
    return None if value is None else str(value)
