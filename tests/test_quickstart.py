"""The README's first command: ``flask --app examples/quickstart/quickstart.py quickstart``.

Run as a user runs it, in a process of its own on a copy of the example (so
its SQLite file starts empty), without ``OPENAI_API_KEY`` so the demo talks
to the offline fake; the served UI must show the demo traces.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from flask_llm_logs.state import get_state

EXAMPLE = Path(__file__).parent.parent / "examples" / "quickstart"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_when_up(url: str, process: subprocess.Popen[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"quickstart exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_quickstart_serves_the_demo_traces(tmp_path: Path) -> None:
    app_dir = tmp_path / "quickstart"
    shutil.copytree(EXAMPLE, app_dir, ignore=shutil.ignore_patterns("instance", "__pycache__"))
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    flask = Path(sys.executable).parent / "flask"
    process = subprocess.Popen(
        [str(flask), "--app", "quickstart.py", "quickstart", "--port", str(port)],
        cwd=app_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        page = get_when_up(f"http://127.0.0.1:{port}/llm_logs/", process)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "strategy_analysis" in page, output
    assert f"open http://127.0.0.1:{port}/llm_logs/" in output
    assert (app_dir / "instance" / "quickstart.sqlite3").is_file()


def test_quickstart_refuses_a_foreign_host_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a foreign site resolving to 127.0.0.1 passes the IP allow-list,
    but not ``TRUSTED_HOSTS``."""
    app_dir = tmp_path / "quickstart"
    shutil.copytree(EXAMPLE, app_dir, ignore=shutil.ignore_patterns("instance", "__pycache__"))
    monkeypatch.syspath_prepend(str(app_dir))
    spec = importlib.util.spec_from_file_location("quickstart_copy", app_dir / "quickstart.py")
    assert spec is not None and spec.loader is not None
    quickstart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quickstart)
    app = quickstart.create_app()
    try:
        client = app.test_client()
        for path in ("/", "/llm_logs/"):
            assert client.get(path, headers={"Host": "rebound.example"}).status_code == 400
            assert client.get(path, headers={"Host": "evil.example:5000"}).status_code == 400
        assert client.get("/", headers={"Host": "127.0.0.1:5000"}).status_code == 302
        assert client.get("/", headers={"Host": "localhost:5000"}).status_code == 302
    finally:
        get_state(app).shutdown()
