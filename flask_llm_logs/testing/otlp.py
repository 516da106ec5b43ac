"""A fake OpenTelemetry collector: OTLP/HTTP (protobuf) on 127.0.0.1, spans kept in memory.

For the export tests and ``bench/otel_export.py``: it decodes each request
with ``opentelemetry-proto`` (the test extra) into :class:`ReceivedSpan`
objects, so a test asserts the attribute names and values a real collector
would get. It can be stopped and started again on the same port, as a
collector that goes away and comes back.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto
from opentelemetry.proto.trace.v1.trace_pb2 import Status as StatusProto


@dataclasses.dataclass(frozen=True)
class ReceivedSpan:
    """One span as the collector got it; ids in hex (``parent_id`` ``""`` for a root)."""

    name: str
    kind: str  # "CLIENT", "INTERNAL", ...
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    status: str  # "UNSET", "OK", "ERROR"
    status_message: str
    start_ns: int
    end_ns: int
    scope: str
    resource: dict[str, Any]


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return {item.key: _value(item.value) for item in value.kvlist_value.values}
    return None if which is None else getattr(value, which)


def decode(body: bytes) -> list[ReceivedSpan]:
    """The spans of one OTLP/HTTP protobuf request body."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    found = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                found.append(
                    ReceivedSpan(
                        name=span.name,
                        kind=SpanProto.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        status=StatusProto.StatusCode.Name(span.status.code).removeprefix(
                            "STATUS_CODE_"
                        ),
                        status_message=span.status.message,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        scope=scope_spans.scope.name,
                        resource=resource,
                    )
                )
    return found


class FakeCollector:
    """An OTLP/HTTP receiver; ``with FakeCollector() as collector:`` runs it.

    ``collector.endpoint`` is what ``LLM_LOGS_OTLP_ENDPOINT`` takes;
    ``spans`` is what arrived, ``headers`` the headers of each request.
    """

    def __init__(self, port: int = 0) -> None:
        self.spans: list[ReceivedSpan] = []
        self.headers: list[dict[str, str]] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FakeCollector:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                spans = decode(body) if self.path == "/v1/traces" else None
                with collector._lock:
                    collector.requests += 1
                    if spans is not None:
                        collector.spans.extend(spans)
                        collector.headers.append(dict(self.headers))
                self.send_response(200 if spans is not None else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                """How many spans arrived: for a collector run in a process of its own."""
                body = json.dumps({"spans": len(collector.spans)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Go away: the port refuses connections until :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self, **where: Any) -> list[ReceivedSpan]:
        """The spans received so far, those whose fields equal ``where``."""
        with self._lock:
            spans = list(self.spans)
        return [s for s in spans if all(getattr(s, k) == v for k, v in where.items())]

    def __enter__(self) -> FakeCollector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    # ``python -m flask_llm_logs.testing.otlp PORT``: a collector in a process of
    # its own, as a real one is (the benchmark's, so decoding does not share our GIL).
    FakeCollector(int(sys.argv[1])).start()
    threading.Event().wait()
