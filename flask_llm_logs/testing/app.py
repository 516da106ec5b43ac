"""The OpenAI API surface: routes from method and path to the stores and engine.

Also where the cross-cutting test features sit, because they apply to every
route alike: the request log, scripted failures and the optional API key
check.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import Protocol

from . import streaming
from .batches import BatchStore
from .engine import Engine
from .engine import new_id
from .errors import ApiError
from .errors import FailureScript
from .errors import ScriptedFailure
from .files import FileStore
from .files import UploadedFile
from .files import parse_multipart
from .server import HttpRequest
from .server import HttpResponse

#: Returned by ``GET /v1/models``; any id is accepted by ``GET /v1/models/{id}``.
MODELS = (
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-5",
    "gpt-5-mini",
    "o4-mini",
    "text-embedding-3-small",
    "text-embedding-3-large",
)

_EVENT_STREAM = "text/event-stream; charset=utf-8"


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """A request the fake received, for assertions in tests.

    ``body`` is the parsed JSON body; for multipart uploads, the form fields
    with each file as ``{"filename", "bytes", "content_type"}`` (not its
    content, which can be large); ``None`` without a body.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any

    @property
    def json(self) -> Any:
        """Alias of :attr:`body`, for readers who look for ``request.json``."""
        return self.body


Handler = Callable[[HttpRequest, Any, "re.Match[str]"], HttpResponse]


class MountedApi(Protocol):
    """Another provider's API served by the same server (Anthropic's, Gemini's).

    It gets each request for a path it :meth:`handles`, once logged, with its
    parsed body (or the error parsing it) and the scripted failure that
    applies, and answers in its provider's own shapes, errors and
    authentication included.
    """

    def handles(self, path: str) -> bool: ...

    def __call__(
        self,
        request: HttpRequest,
        payload: Any,
        parse_error: ApiError | None,
        failure: ScriptedFailure | None,
    ) -> HttpResponse: ...


def _json_response(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(
        status,
        json.dumps(data, separators=(",", ":")).encode(),
        headers={"x-request-id": new_id("req_")},
    )


def _error_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> HttpResponse:
    response = _json_response(body, status)
    response.headers.update(headers or {})
    return response


class OpenAIApp:
    """The WSGI-like callable the HTTP server calls for each request."""

    def __init__(
        self,
        engine: Engine,
        files: FileStore,
        batches: BatchStore,
        failures: FailureScript,
        *,
        api_key: str | None = None,
        record_requests: bool = True,
        apis: Sequence[MountedApi] = (),
    ) -> None:
        self.engine = engine
        self.apis = tuple(apis)
        self.files = files
        self.batches = batches
        self.failures = failures
        self.api_key = api_key
        self.record_requests = record_requests
        self._log: list[RecordedRequest] = []
        self._log_lock = threading.Lock()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"chat/completions"), self._chat),
            ("POST", re.compile(r"responses"), self._responses),
            ("POST", re.compile(r"embeddings"), self._embeddings),
            ("POST", re.compile(r"files"), self._create_file),
            ("GET", re.compile(r"files"), self._list_files),
            ("GET", re.compile(r"files/(?P<id>[^/]+)"), self._retrieve_file),
            ("DELETE", re.compile(r"files/(?P<id>[^/]+)"), self._delete_file),
            ("GET", re.compile(r"files/(?P<id>[^/]+)/content"), self._file_content),
            ("POST", re.compile(r"batches"), self._create_batch),
            ("GET", re.compile(r"batches"), self._list_batches),
            ("GET", re.compile(r"batches/(?P<id>[^/]+)"), self._retrieve_batch),
            ("POST", re.compile(r"batches/(?P<id>[^/]+)/cancel"), self._cancel_batch),
            ("GET", re.compile(r"models"), self._list_models),
            ("GET", re.compile(r"models/(?P<id>.+)"), self._retrieve_model),
        ]

    # -- request log -------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    # -- dispatch ----------------------------------------------------------

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            payload = self._parse_body(request)
        except ApiError as error:
            payload = None
            parse_error: ApiError | None = error
        else:
            parse_error = None
        if self.record_requests:
            entry = RecordedRequest(
                request.method,
                request.path,
                request.query,
                dict(request.headers),
                _loggable(payload),
            )
            with self._log_lock:
                self._log.append(entry)

        for api in self.apis:
            if api.handles(request.path):
                failure = self.failures.take(request.method, request.path)
                return api(request, payload, parse_error, failure)
        if self.api_key is not None and request.headers.get("authorization") != (
            f"Bearer {self.api_key}"
        ):
            return _error_response(
                401,
                ApiError(
                    401, "Incorrect API key provided (FakeOpenAI).", code="invalid_api_key"
                ).body,
            )
        failure = self.failures.take(request.method, request.path)
        if failure is not None:
            return _error_response(failure.status, failure.body, failure.headers)
        if parse_error is not None:
            return _error_response(parse_error.status, parse_error.body)

        route = request.path[4:] if request.path.startswith("/v1/") else request.path[1:]
        route = route.rstrip("/")
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(route)
            if match is None:
                continue
            if method != request.method:
                allowed = True
                continue
            try:
                return handler(request, payload, match)
            except ApiError as error:
                return _error_response(error.status, error.body)
        status = 405 if allowed else 404
        message = f"Invalid URL ({request.method} {request.path})"
        return _error_response(status, ApiError(status, message).body)

    @staticmethod
    def _parse_body(request: HttpRequest) -> Any:
        if not request.body:
            return None
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            return parse_multipart(request.body, content_type)
        try:
            return json.loads(request.body)
        except ValueError:
            raise ApiError(
                400,
                "We could not parse the JSON body of your request. (FakeOpenAI expects JSON.)",
            ) from None

    # -- generation ----------------------------------------------------------

    def _chat(self, request: HttpRequest, body: Any, match: re.Match[str]) -> HttpResponse:
        body = _object_body(body)
        completion = self.engine.chat_completion(body)
        if not body.get("stream"):
            return _json_response(completion)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return HttpResponse(
            200,
            content_type=_EVENT_STREAM,
            headers={"x-request-id": new_id("req_")},
            chunks=streaming.chat_chunks(completion, include_usage=include_usage),
        )

    def _responses(self, request: HttpRequest, body: Any, match: re.Match[str]) -> HttpResponse:
        body = _object_body(body)
        response = self.engine.response(body)
        if not body.get("stream"):
            return _json_response(response)
        return HttpResponse(
            200,
            content_type=_EVENT_STREAM,
            headers={"x-request-id": new_id("req_")},
            chunks=streaming.response_events(response),
        )

    def _embeddings(self, request: HttpRequest, body: Any, match: re.Match[str]) -> HttpResponse:
        return _json_response(self.engine.embeddings(_object_body(body)))

    # -- files ---------------------------------------------------------------

    def _create_file(self, request: HttpRequest, body: Any, match: re.Match[str]) -> HttpResponse:
        if not isinstance(body, dict):
            raise ApiError(400, "Upload files as multipart/form-data.")
        return _json_response(self.files.create_from_form(body).to_api())

    def _list_files(self, request: HttpRequest, body: Any, match: re.Match[str]) -> HttpResponse:
        files = self.files.all()
        purpose = request.query.get("purpose")
        if purpose:
            files = [f for f in files if f.purpose == purpose]
        if request.query.get("order", "desc") == "desc":
            files.reverse()
        after = request.query.get("after")
        if after:
            ids = [f.id for f in files]
            files = files[ids.index(after) + 1 :] if after in ids else []
        limit = int(request.query.get("limit", 10_000))
        page = files[:limit]
        return _json_response(
            {
                "object": "list",
                "data": [f.to_api() for f in page],
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
                "has_more": len(files) > limit,
            }
        )

    def _retrieve_file(self, request: HttpRequest, body: Any, match: re.Match[str]) -> HttpResponse:
        return _json_response(self.files.get(match["id"]).to_api())

    def _delete_file(self, request: HttpRequest, body: Any, match: re.Match[str]) -> HttpResponse:
        self.files.delete(match["id"])
        return _json_response({"id": match["id"], "object": "file", "deleted": True})

    def _file_content(self, request: HttpRequest, body: Any, match: re.Match[str]) -> HttpResponse:
        stored = self.files.get(match["id"])
        return HttpResponse(
            200,
            stored.content,
            content_type="application/octet-stream",
            headers={"x-request-id": new_id("req_")},
        )

    # -- batches -------------------------------------------------------------

    def _create_batch(self, request: HttpRequest, body: Any, match: re.Match[str]) -> HttpResponse:
        return _json_response(self.batches.create(_object_body(body)))

    def _list_batches(self, request: HttpRequest, body: Any, match: re.Match[str]) -> HttpResponse:
        try:
            limit = int(request.query.get("limit", 20))
        except ValueError:
            raise ApiError(400, "limit must be an integer.", param="limit") from None
        return _json_response(self.batches.list_page(after=request.query.get("after"), limit=limit))

    def _retrieve_batch(
        self, request: HttpRequest, body: Any, match: re.Match[str]
    ) -> HttpResponse:
        return _json_response(self.batches.retrieve(match["id"]))

    def _cancel_batch(self, request: HttpRequest, body: Any, match: re.Match[str]) -> HttpResponse:
        return _json_response(self.batches.request_cancel(match["id"]))

    # -- models --------------------------------------------------------------

    def _list_models(self, request: HttpRequest, body: Any, match: re.Match[str]) -> HttpResponse:
        return _json_response({"object": "list", "data": [_model(name) for name in MODELS]})

    def _retrieve_model(
        self, request: HttpRequest, body: Any, match: re.Match[str]
    ) -> HttpResponse:
        return _json_response(_model(match["id"]))


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "openai"}


def _object_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def _loggable(payload: Any) -> Any:
    """The body as logged: uploaded files summarised, not copied."""
    if isinstance(payload, dict) and any(isinstance(v, UploadedFile) for v in payload.values()):
        return {
            key: {
                "filename": value.filename,
                "bytes": len(value.content),
                "content_type": value.content_type,
            }
            if isinstance(value, UploadedFile)
            else value
            for key, value in payload.items()
        }
    return payload
