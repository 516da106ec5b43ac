"""The extension's logger, still heard after the host reconfigured logging.

Alembic's and Flask-Migrate's ``env.py`` call ``logging.config.fileConfig``,
which by default disables every logger that exists at that moment and is not
named in ``alembic.ini``: ours included, in every host process that runs
``flask db upgrade`` or ``upgrade()`` at start-up. Our warnings say that
records are lost or waiting, so :func:`get_logger` undoes that before each
use. A host that wants them quiet raises the logger's level, which is kept.
"""

from __future__ import annotations

import logging

NAME = "flask_llm_logs"


def get_logger(name: str = NAME) -> logging.Logger:
    """The logger ``name`` (ours, or one below it), enabled again if it was disabled."""
    logger = logging.getLogger(name)
    logger.disabled = False
    return logger
