"""OpenTelemetry both ways: export our traces over OTLP, take in other instrumentations' spans.

Needs the ``otel`` extra (``pip install flask-llm-logs[otel]``); nothing
else in the package imports this one unless the app configures an export,
so the package works without OpenTelemetry installed. See
``docs/opentelemetry.rst``.
"""
