"""A host app's own login, with the real Flask-Login: the default user of traces."""

from __future__ import annotations

from flask import Flask
from flask_login import LoginManager
from flask_login import UserMixin
from flask_login import login_user


class User(UserMixin):  # type: ignore[misc]  # Flask-Login ships no types
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def with_login(app: Flask) -> Flask:
    """Flask-Login on ``app``, and ``/login/<name>`` to log in as ``name``."""
    manager = LoginManager(app)
    manager.user_loader(User)

    @app.post("/login/<name>")
    def login(name: str) -> str:
        login_user(User(name))
        return "ok"

    return app
