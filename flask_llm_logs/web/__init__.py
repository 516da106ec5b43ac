"""The web UI: a Blueprint named ``llm_logs`` served under ``LLM_LOGS_URL_PREFIX``."""

from __future__ import annotations

from flask import Flask

from ..config import Settings
from .blueprint import blueprint
from .views import batches
from .views import prompts
from .views import traces

__all__ = ["batches", "blueprint", "prompts", "register", "traces"]


def register(app: Flask, settings: Settings) -> None:
    """Serve the UI on ``app``; called by :meth:`LlmLogs.init_app`."""
    app.register_blueprint(blueprint, url_prefix=settings.url_prefix)
