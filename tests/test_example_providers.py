"""``examples/providers``: one app calling every SDK against the bundled fake server.

Run as a user runs it, in processes of its own on a copy of the example (so
its SQLite file starts empty).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parent.parent / "examples" / "providers"
SDKS = ("openai", "anthropic", "google-genai", "litellm")


def flask(app_dir: Path, *command: str) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "app.py", *command],
        cwd=app_dir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_tour_records_every_served_sdk_in_one_trace(tmp_path: Path) -> None:
    app_dir = tmp_path / "providers"
    shutil.copytree(EXAMPLE, app_dir, ignore=shutil.ignore_patterns("instance", "__pycache__"))
    flask(app_dir, "llm-logs", "db", "upgrade")
    lines = dict(line.split(": ", 1) for line in flask(app_dir, "providers").splitlines())
    assert set(lines) == set(SDKS)
    answered = {sdk for sdk, answer in lines.items() if not answer.startswith("skipped: ")}
    assert {"openai", "litellm"} <= answered
    with sqlite3.connect(app_dir / "instance" / "providers.sqlite3") as db:
        [(name, status)] = db.execute("SELECT name, status FROM llm_logs_traces").fetchall()
        rows = db.execute("SELECT name, provider FROM llm_logs_spans WHERE kind = 'llm'")
        providers = dict(rows.fetchall())
    assert name == "providers_tour"
    assert providers["chat gpt-4.1-mini"] == "127.0.0.1"  # the openai SDK, at the fake's host
    assert providers["chat openai/gpt-4.1-mini"] == "openai"  # where LiteLLM routed it
    assert len(providers) == len(answered)  # one span per call, none for LiteLLM's inner call
    if answered == set(SDKS):
        assert status == "completed"
