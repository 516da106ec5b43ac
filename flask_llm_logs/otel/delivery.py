"""Sending finished spans to the collector: a bounded queue and a thread of its own.

The span processor of the ``TracerProvider`` we make when the app gives an
endpoint. Like the SDK's ``BatchSpanProcessor`` it queues spans and sends
them in batches from a daemon thread, so a slow or dead collector holds up
that thread only: never the writer, which stores the same records in the
database meanwhile, and never the host. Unlike it, it counts what it sends
and what it loses (``exported``, ``export_dropped`` in ``stats()``), and
retries a failed batch a bounded number of times with backoff while new
spans wait (on top of the OTLP exporter's own retries within its timeout);
a full queue drops new spans rather than growing.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import Span
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from ..log import get_logger

#: Spans per OTLP request.
BATCH_SIZE = 512
#: How long a span may wait for a fuller batch, in seconds.
FLUSH_INTERVAL = 0.5
#: Attempts per batch before it is dropped, and the backoff between them.
ATTEMPTS = 3
RETRY_FIRST_DELAY = 0.2
RETRY_MAX_DELAY = 5.0
#: Warnings about export failures, at most this often, in seconds.
WARNING_INTERVAL = 60.0


class Delivery(SpanProcessor):
    """See the module docstring. ``max_queue`` spans wait at most."""

    def __init__(self, exporter: SpanExporter, max_queue: int) -> None:
        self._exporter = exporter
        self._max_queue = max_queue
        self._reset()

    def _reset(self) -> None:
        """Start from nothing: at creation, and in a child process after a fork."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._has_work = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._sending = 0
        self._closing = False
        #: A flush waits: send what is queued without waiting for a fuller batch.
        self._flushing = False
        self._thread: threading.Thread | None = None
        self._last_warning = float("-inf")
        self.exported = 0
        self.dropped = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if self._pid != os.getpid():
            self._reset()
        with self._lock:
            if self._closing or len(self._queue) >= self._max_queue:
                self.dropped += 1
                return
            self._queue.append(span)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="flask-llm-logs-otlp", daemon=True
                )
                self._thread.start()
            if len(self._queue) in (1, BATCH_SIZE):
                self._has_work.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                deadline = time.monotonic() + FLUSH_INTERVAL
                while not (self._closing or self._flushing) and len(self._queue) < BATCH_SIZE:
                    left = deadline - time.monotonic()
                    if self._queue and left <= 0:
                        break
                    self._has_work.wait(left if self._queue else None)
                if not self._queue:  # closing or flushing, and nothing left
                    self._flushing = False
                    self._idle.notify_all()
                    if self._closing:
                        return
                    continue
                batch = [self._queue.popleft() for _ in range(min(BATCH_SIZE, len(self._queue)))]
                self._sending = len(batch)
            self._send(batch)
            with self._lock:
                self._sending = 0
                if not self._queue:
                    self._flushing = False
                    self._idle.notify_all()

    def _send(self, batch: Sequence[ReadableSpan]) -> None:
        delay = RETRY_FIRST_DELAY
        for attempt in range(ATTEMPTS):
            try:
                result = self._exporter.export(batch)
            except Exception:  # an exporter bug: count the loss, keep the thread
                get_logger().exception("flask-llm-logs: the OTLP exporter failed")
                result = SpanExportResult.FAILURE
            if result is SpanExportResult.SUCCESS:
                with self._lock:
                    self.exported += len(batch)
                return
            with self._lock:
                if self._closing or attempt == ATTEMPTS - 1:
                    break
                self._has_work.wait(delay)
            delay = min(delay * 2, RETRY_MAX_DELAY)
        with self._lock:
            self.dropped += len(batch)
            warn = time.monotonic() - self._last_warning >= WARNING_INTERVAL
            if warn:
                self._last_warning = time.monotonic()
        if warn:
            get_logger().warning(
                "flask-llm-logs: the collector did not take %d spans; %d dropped so far",
                len(batch),
                self.dropped,
            )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until every queued span is sent or dropped; whether that happened in time."""
        with self._lock:
            if not self._queue and not self._sending:
                return True
            self._flushing = True
            self._has_work.notify()
            return self._idle.wait_for(
                lambda: not self._queue and not self._sending, timeout_millis / 1000
            )

    def shutdown(self) -> None:
        with self._lock:
            self._closing = True
            self._has_work.notify()
            thread = self._thread
        if thread is not None:
            thread.join(RETRY_MAX_DELAY)
        self._exporter.shutdown()
