"""The package imports and records without the ``otel`` extra installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Run in a fresh interpreter where every ``opentelemetry`` module fails to import.
SCRIPT = """
import importlib.abc
import sys

class NoOpenTelemetry(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, NoOpenTelemetry())

from flask import Flask
import flask_llm_logs
from flask_llm_logs import migrations
from flask_llm_logs.config import ConfigurationError
from flask_llm_logs.state import get_state

app = Flask("plain")
app.config["SQLALCHEMY_DATABASE_URI"] = sys.argv[1]
# anthropic's SDK imports OpenTelemetry itself: only openai is recorded here.
app.config["LLM_LOGS_INSTRUMENT"] = ["openai"]
flask_llm_logs.LlmLogs(app)
with app.app_context():
    with get_state().engine.begin() as connection:
        migrations.upgrade(connection)
    with flask_llm_logs.trace("no otel"):
        with flask_llm_logs.span("step"):
            pass
    assert flask_llm_logs.flush(10)
    counts = flask_llm_logs.stats()
    assert counts["written_traces"] == 1 and counts["written_spans"] == 1, counts
    assert "exported" not in counts

other = Flask("exporting")
other.config["SQLALCHEMY_DATABASE_URI"] = sys.argv[1]
other.config["LLM_LOGS_OTLP_ENDPOINT"] = "http://127.0.0.1:4318"
other.config["LLM_LOGS_INSTRUMENT"] = ["openai"]
try:
    flask_llm_logs.LlmLogs(other)
except ConfigurationError as error:
    assert error.key == "LLM_LOGS_OTLP_ENDPOINT" and "flask-llm-logs[otel]" in str(error), error
else:
    raise AssertionError("an export without OpenTelemetry installed was accepted")
assert not [name for name in sys.modules if name.startswith("opentelemetry")]
print("ok")
"""


def test_the_package_works_without_opentelemetry(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, f"sqlite:///{tmp_path / 'logs.sqlite3'}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
