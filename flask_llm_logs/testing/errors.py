"""OpenAI-shaped errors, and the queue of errors a test has scripted.

The ``openai`` SDK picks its exception class from the HTTP status
(``RateLimitError`` for 429, ``InternalServerError`` for 5xx, ...) and reads
``message``/``type``/``param``/``code`` from the ``{"error": {...}}`` body, so
both must look like OpenAI's for code under test to see what it will see in
production.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import threading
from typing import Any

#: Default ``(type, code, message)`` per status, as the OpenAI API sends them.
_DEFAULTS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request (scripted by FakeOpenAI)."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided (scripted by FakeOpenAI).",
    ),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", None, "Not found (scripted by FakeOpenAI)."),
    409: ("invalid_request_error", None, "Conflict (scripted by FakeOpenAI)."),
    422: ("invalid_request_error", None, "Unprocessable entity (scripted by FakeOpenAI)."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests (scripted by FakeOpenAI).",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request (scripted by FakeOpenAI).",
    ),
    502: ("server_error", None, "Bad gateway (scripted by FakeOpenAI)."),
    503: ("server_error", None, "The engine is currently overloaded (scripted by FakeOpenAI)."),
}


def error_body(
    status: int,
    message: str | None = None,
    *,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
) -> dict[str, Any]:
    """The ``{"error": {...}}`` body OpenAI sends with ``status``."""
    default_type, default_code, default_message = _DEFAULTS.get(
        status,
        ("server_error" if status >= 500 else "invalid_request_error", None, f"HTTP {status}."),
    )
    return {
        "error": {
            "message": message if message is not None else default_message,
            "type": type if type is not None else default_type,
            "param": param,
            "code": code if code is not None else default_code,
        }
    }


class ApiError(Exception):
    """Raised inside the fake to answer with an OpenAI error instead of a result.

    The same exception serves HTTP handlers (turned into a response) and batch
    lines (turned into a non-200 ``response`` in the error file).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(status, message, type=type, code=code, param=param)


@dataclasses.dataclass
class ScriptedFailure:
    """One entry of :meth:`FakeOpenAI.fail_next`: which requests it hits, and how."""

    status: int
    times: int
    path: str | None
    method: str | None
    body: dict[str, Any]
    headers: dict[str, str]
    #: The message the test gave, for APIs whose error bodies differ from
    #: OpenAI's (``None``: their own default).
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path is None:
            return True
        return fnmatch.fnmatchcase(path, self.path) if "*" in self.path else path == self.path


class FailureScript:
    """Thread-safe FIFO of scripted failures, consumed by matching requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[ScriptedFailure] = []

    def add(self, failure: ScriptedFailure) -> None:
        with self._lock:
            self._entries.append(failure)

    def take(self, method: str, path: str) -> ScriptedFailure | None:
        """The first failure that applies to this request, counting one use of it."""
        if not self._entries:  # fast path: no lock when nothing is scripted
            return None
        with self._lock:
            for failure in self._entries:
                if failure.matches(method, path):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._entries.remove(failure)
                    return failure
        return None

    def pending(self) -> list[ScriptedFailure]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
