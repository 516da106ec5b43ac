"""Trace every LLM call of a Flask app, manage versioned prompts, run batches."""

from .config import ConfigurationError
from .extension import LlmLogs
from .extension import flush
from .extension import stats

__all__ = ["ConfigurationError", "LlmLogs", "flush", "stats"]
