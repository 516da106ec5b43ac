"""``python -m flask_llm_logs.testing serve``: the fake server as a process of its own.

An app that runs in several processes (a web server and an RQ worker) cannot
share a :class:`~.fake.FakeOpenAI` started inside one of them; this command
serves one for all of them, every API the fake knows on the same port. It
keeps no log of requests (a server left running would grow forever) and
stops on ``SIGINT`` or ``SIGTERM``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .fake import FakeOpenAI

#: The port ``serve`` listens on unless told otherwise.
DEFAULT_PORT = 8765


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m flask_llm_logs.testing",
        description="Offline fakes of the LLM APIs, for tests and local development.",
    )
    commands = main.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve the fake APIs on 127.0.0.1 until interrupted",
        description="Serve the fake APIs on 127.0.0.1 until SIGINT or SIGTERM.",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one, printed)",
    )
    serve.add_argument(
        "--batch-auto-complete",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="complete every valid batch as soon as it is created (default);"
        " with --no-batch-auto-complete batches stay validating",
    )
    serve.add_argument(
        "--api-key",
        help="refuse requests without 'Authorization: Bearer API_KEY' (HTTP 401)",
    )
    return main


def serve(port: int, *, batch_auto_complete: bool, api_key: str | None) -> None:
    """Serve until ``SIGINT`` or ``SIGTERM``; the first line printed says where."""
    stop = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fake = FakeOpenAI(
        port=port,
        batch_auto_complete=batch_auto_complete,
        api_key=api_key,
        record_requests=False,
    )
    with fake:
        print(f"Serving the fake APIs on {fake.url} (OpenAI base URL {fake.base_url})", flush=True)
        stop.wait()
    print("Stopped.", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    if not 0 <= arguments.port <= 65535:
        parser().error(f"--port: {arguments.port} is not a port number (0 to 65535)")
    try:
        serve(
            arguments.port,
            batch_auto_complete=arguments.batch_auto_complete,
            api_key=arguments.api_key,
        )
    except OSError as error:  # the port is taken, or not ours to use
        print(f"error: cannot listen on 127.0.0.1:{arguments.port}: {error}", file=sys.stderr)
        return 1
    return 0
