"""HTTP plumbing: a threaded stdlib server on 127.0.0.1 that calls an app.

Kept free of any OpenAI knowledge: it turns a socket into
:class:`HttpRequest` objects and :class:`HttpResponse` objects back into
bytes. Choices made for speed, since benchmarks push thousands of calls
through it:

* HTTP/1.1 keep-alive, so a client reuses its connection;
* each response written with one ``sendall`` and ``TCP_NODELAY``, which
  avoids the 40 ms Nagle / delayed-ACK stall of a header write followed by a
  body write;
* streams use chunked transfer encoding, one chunk per event, so clients
  see events one by one and the connection stays reusable;
* no DNS lookup at bind time, no access log, a large listen backlog.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import socketserver
import sys
import threading
import traceback
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

#: Seconds an idle keep-alive connection is kept before the server closes it.
IDLE_TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True)
class HttpRequest:
    """A request as the app sees it: query values and headers already decoded."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclasses.dataclass
class HttpResponse:
    """A response: a whole ``body``, or ``chunks`` to stream (chunked encoding)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    chunks: Iterable[bytes] | None = None


App = Callable[[HttpRequest], HttpResponse]

_REASONS = {status.value: status.phrase for status in HTTPStatus}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """No access log: it would flood test output and cost time."""

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length:
            return self.rfile.read(int(length))
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        return b""

    def _handle(self) -> None:
        path, _, query = self.path.partition("?")
        request = HttpRequest(
            method=self.command,
            path=path,
            query=dict(parse_qsl(query)),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=self._read_body(),
        )
        try:
            response = self.server.app(request)
        except Exception as error:  # a bug in the fake: answer, and show it
            self.server.report(error)
            body = {"error": {"message": f"FakeOpenAI crashed: {error!r}", "type": "server_error"}}
            response = HttpResponse(500, json.dumps(body).encode())
        if request.headers.get("connection", "").lower() == "close":
            self.close_connection = True
        try:
            self._send(response)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (e.g. broke out of a stream)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _head(self, response: HttpResponse, framing: str) -> bytes:
        lines = [
            f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}",
            f"Content-Type: {response.content_type}",
            framing,
        ]
        lines.extend(f"{key}: {value}" for key, value in response.headers.items())
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, response: HttpResponse) -> None:
        write = self.wfile.write
        if response.chunks is None:
            write(self._head(response, f"Content-Length: {len(response.body)}") + response.body)
            return
        head = self._head(response, "Transfer-Encoding: chunked")
        for chunk in response.chunks:
            if chunk:
                write(head + b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                head = b""
        write(head + b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn): a DNS query
        # that can take seconds on some machines. The address is enough.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def close_connections(self) -> None:
        """Shut open keep-alive connections, so their threads end with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return  # clients hanging up are routine, not errors
        super().handle_error(request, client_address)

    def report(self, error: BaseException) -> None:
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)


class HttpServer:
    """A started-on-demand server for ``app`` on ``127.0.0.1:port`` (0: any free port)."""

    def __init__(self, app: App, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the server is not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        if self._server is not None:
            return
        server = _Server(self._address, self._app)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"FakeOpenAI:{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)
