"""OpenTelemetry both ways: export our traces over OTLP, take in other instrumentations' spans.

Needs the ``otel`` extra (``pip install flask-llm-logs[otel]``); nothing
else in the package imports this one unless the app configures an export,
so the package works without OpenTelemetry installed. See
``docs/opentelemetry.rst``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LlmLogsSpanProcessor"]


def __getattr__(name: str) -> Any:
    # Imported on use: the export must not need what the ingest imports, and the
    # reverse.
    if name == "LlmLogsSpanProcessor":
        from .ingest import LlmLogsSpanProcessor

        return LlmLogsSpanProcessor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
