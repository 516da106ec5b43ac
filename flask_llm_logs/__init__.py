"""Trace every LLM call of a Flask app, manage versioned prompts, run batches."""

from .config import ConfigurationError
from .extension import LlmLogs

__all__ = ["ConfigurationError", "LlmLogs"]
