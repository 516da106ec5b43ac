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

from flask import Flask
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
    #: The name of the request's automatic trace: ``POST /chat/<int:id>``.
    route: str
    #: ``http.request.method``, ``http.route`` and ``flask.endpoint``, for the trace's metadata.
    attributes: dict[str, str]
    user_id: str | None
    session_id: str | None


def read(settings: Settings, app: Flask | None) -> RequestContext:
    """The current request's context; call it inside a request only.

    ``app`` is the current app. The request is looked up once: each
    attribute read through Flask's ``request`` proxy would look it up again
    (and ``current_app``'s, to ask whether Flask-Login runs).
    """
    current: Request = request._get_current_object()  # type: ignore[attr-defined]
    method = current.method
    attributes = {"http.request.method": method}
    rule = current.url_rule
    route = method
    if rule is not None:
        route = f"{method} {rule.rule}"
        attributes["http.route"] = rule.rule
        if rule.endpoint is not None:  # what ``request.endpoint`` reads
            attributes["flask.endpoint"] = rule.endpoint
    read_user = settings.user_id
    if read_user is None and _uses_flask_login(app):
        read_user = _logged_in_user_id
    return RequestContext(
        route,
        attributes,
        None if read_user is None else _call("LLM_LOGS_USER_ID", read_user),
        None if settings.session_id is None else _call("LLM_LOGS_SESSION_ID", settings.session_id),
    )


def flask_login_user_id() -> str | None:
    """The id of Flask-Login's ``current_user``, when Flask-Login runs and it is logged in."""
    return _logged_in_user_id() if _uses_flask_login(current_app) else None


def _uses_flask_login(app: Flask | None) -> bool:
    """Whether Flask-Login is installed and ``app`` set it up (its default user is ours)."""
    return flask_login is not None and app is not None and hasattr(app, "login_manager")


def _logged_in_user_id() -> str | None:
    """The id of Flask-Login's ``current_user`` if logged in; Flask-Login runs."""
    user = flask_login.current_user
    if not user.is_authenticated:
        return None
    user_id: str = user.get_id()
    return user_id


def _call(key: str, read_value: Callable[[], Any]) -> str | None:
    """The app's callable's answer as text; its failure is the app's bug, never the request's."""
    try:
        value = read_value()
    except Exception:
        get_logger().warning(
            "flask-llm-logs: %s raised; the trace goes without it", key, exc_info=True
        )
        return None
    return None if value is None else str(value)
