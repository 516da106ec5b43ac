"""The web UI: a Blueprint named ``llm_logs`` served under ``LLM_LOGS_URL_PREFIX``."""

from __future__ import annotations

from flask import Flask

from ..config import Settings
from .blueprint import blueprint

# Importing a view module adds its routes to the blueprint.
from .views import alerts  # noqa: F401
from .views import batches  # noqa: F401
from .views import dashboard  # noqa: F401
from .views import metrics_api  # noqa: F401
from .views import playground  # noqa: F401
from .views import prompt_labels  # noqa: F401
from .views import prompts  # noqa: F401
from .views import sessions  # noqa: F401
from .views import traces  # noqa: F401

__all__ = ["blueprint", "register"]


def register(app: Flask, settings: Settings) -> None:
    """Serve the UI on ``app``; called by :meth:`LlmLogs.init_app`."""
    app.register_blueprint(blueprint, url_prefix=settings.url_prefix)
