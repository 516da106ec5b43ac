"""``python -m flask_llm_logs.testing serve``: the fake server as a process, called by the SDK."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from collections.abc import Iterator

import openai
import pytest

SERVE = [sys.executable, "-m", "flask_llm_logs.testing", "serve"]


class Served:
    """A ``serve`` process and the URL it printed."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Serving the fake APIs on http://127.0.0.1:"), first
        self.base_url = first.rsplit("OpenAI base URL ", 1)[1].rstrip(")\n")

    def client(self, api_key: str = "test") -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=api_key, max_retries=0)

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as a process manager stops it: the exit code and what it printed."""
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=10)
        return self.process.returncode, out


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    started: list[subprocess.Popen[str]] = []

    def start(*options: str) -> Served:
        process = subprocess.Popen(
            [*SERVE, "--port", "0", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        started.append(process)
        return Served(process)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def batch_of(client: openai.OpenAI) -> openai.types.Batch:
    line = {
        "custom_id": "r1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}]},
    }
    uploaded = client.files.create(file=("in.jsonl", json.dumps(line).encode()), purpose="batch")
    return client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )


def test_serve_answers_the_openai_sdk_and_stops_on_sigterm(serve: Callable[..., Served]) -> None:
    served = serve()
    client = served.client()
    completion = client.chat.completions.create(
        model="gpt-4.1-mini", messages=[{"role": "user", "content": "hello"}]
    )
    assert completion.choices[0].message.content
    chunks = list(
        client.chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": "hello"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    batch = batch_of(client)
    assert client.batches.retrieve(batch.id).status == "completed"  # by default
    client.close()
    code, out = served.stop()
    assert (code, out.strip()) == (0, "Stopped.")


def test_batches_can_be_left_pending(serve: Callable[..., Served]) -> None:
    served = serve("--no-batch-auto-complete")
    with served.client() as client:
        batch = batch_of(client)
        assert client.batches.retrieve(batch.id).status == "validating"
    assert served.stop()[0] == 0


def test_an_api_key_is_required_when_given(serve: Callable[..., Served]) -> None:
    served = serve("--api-key", "sk-serve")
    with served.client() as client, pytest.raises(openai.AuthenticationError):
        client.models.list()
    with served.client(api_key="sk-serve") as client:
        assert client.chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}]
        ).choices
    assert served.stop()[0] == 0


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*SERVE, "--port", str(port)], capture_output=True, text=True, timeout=30
        )
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_a_bad_port_is_refused(port: str) -> None:
    done = subprocess.run([*SERVE, "--port", port], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "--port" in done.stderr
