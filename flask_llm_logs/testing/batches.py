"""The Batch API: validation, state, and the controls a test drives it with.

A real batch takes minutes to hours, so the fake never moves a batch on its
own (unless ``auto_complete`` is set): a test decides when, and how, it ends
with :meth:`BatchStore.advance`, :meth:`~BatchStore.complete`,
:meth:`~BatchStore.expire`, :meth:`~BatchStore.fail` and
:meth:`~BatchStore.cancel`, or loses it (:meth:`~BatchStore.forget`). That
makes every outcome of a batch (partial results, failed lines, expiry,
cancellation, a batch the provider no longer knows) reproducible in a unit
test.

Results are produced by the same :class:`~.engine.Engine` as the synchronous
endpoints and written in OpenAI's JSONL formats:

* output file: ``{"id", "custom_id", "response": {"status_code": 200,
  "request_id", "body"}, "error": null}`` per successful request;
* error file: requests that failed (``response.status_code`` 4xx/5xx with an
  ``{"error": ...}`` body) and requests never run (``response: null``,
  ``error: {"code": "batch_expired" | "batch_cancelled", "message"}``).

``request_counts.completed`` counts the 200s, ``failed`` the 4xx/5xx;
requests never run (expired or cancelled) are in neither.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import threading
import time
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from .engine import Engine
from .engine import Reply
from .engine import new_id
from .errors import ApiError
from .errors import error_body
from .files import FileStore

#: Endpoints a batch can target, and the engine method answering each.
SUPPORTED_ENDPOINTS = ("/v1/responses", "/v1/chat/completions", "/v1/embeddings")
MAX_REQUESTS = 50_000
COMPLETION_WINDOW = 24 * 60 * 60
TERMINAL = frozenset({"failed", "completed", "expired", "cancelled"})
#: Statuses :meth:`BatchStore.advance` may set; the others have their own method.
ADVANCE_TO = ("validating", "in_progress", "finalizing", "cancelling")

#: How a test marks a line as failed: ``(status_code, message)``, a status
#: code alone, or a message alone (status 400).
LineFailure = tuple[int, str] | int | str


@dataclasses.dataclass(eq=False)
class _Batch:
    data: dict[str, Any]
    lines: list[dict[str, Any]]


def _validation_error(
    code: str, line: int | None, message: str, param: str | None = None
) -> dict[str, Any]:
    return {"code": code, "line": line, "message": message, "param": param}


def _validate_lines(
    content: bytes, endpoint: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Parse an input file; the lines, and OpenAI-style errors (empty when valid).

    Checks what OpenAI checks while a batch is ``validating``: JSON lines,
    the required keys, ``method`` POST, ``url`` equal to the batch endpoint,
    unique ``custom_id``\\ s and a single model per file.
    """
    lines: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    model: str | None = None
    for number, raw in enumerate(content.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            errors.append(
                _validation_error(
                    "invalid_json_line", number, "This line is not parseable as valid JSON."
                )
            )
            continue
        if not isinstance(line, dict):
            errors.append(
                _validation_error("invalid_json_line", number, "This line is not a JSON object.")
            )
            continue
        missing = [key for key in ("custom_id", "method", "url", "body") if key not in line]
        if missing:
            errors.append(
                _validation_error(
                    "missing_required_parameter",
                    number,
                    f"Missing required parameter: '{missing[0]}'.",
                    missing[0],
                )
            )
            continue
        custom_id = str(line["custom_id"])
        if custom_id in seen:
            errors.append(
                _validation_error(
                    "duplicate_custom_id",
                    number,
                    f"The custom_id '{custom_id}' is used by more than one request.",
                    "custom_id",
                )
            )
        seen.add(custom_id)
        if str(line["method"]).upper() != "POST":
            errors.append(
                _validation_error(
                    "invalid_method", number, "Only POST requests are supported.", "method"
                )
            )
        if line["url"] != endpoint:
            errors.append(
                _validation_error(
                    "invalid_url",
                    number,
                    f"The URL '{line['url']}' does not match the batch endpoint '{endpoint}'.",
                    "url",
                )
            )
        body = line["body"]
        line_model = body.get("model") if isinstance(body, dict) else None
        if not line_model:
            errors.append(
                _validation_error(
                    "missing_required_parameter",
                    number,
                    "Missing required parameter: 'body.model'.",
                    "body.model",
                )
            )
        elif model is None:
            model = line_model
        elif line_model != model:
            errors.append(
                _validation_error(
                    "mismatched_model",
                    number,
                    f"The model '{line_model}' differs from the model '{model}' of the other "
                    "requests: a batch file may use only one model.",
                    "body.model",
                )
            )
        lines.append(line)
    if not lines and not errors:
        errors.append(_validation_error("empty_file", None, "The input file contains no requests."))
    if len(lines) > MAX_REQUESTS:
        errors.append(
            _validation_error(
                "too_many_requests",
                None,
                f"A batch holds at most {MAX_REQUESTS} requests; this file has {len(lines)}.",
            )
        )
    return lines, errors


def _validate_metadata(metadata: Any) -> None:
    """OpenAI's metadata limits: 16 pairs, keys up to 64 and values up to 512 chars."""
    if metadata is None:
        return
    if not isinstance(metadata, dict) or len(metadata) > 16:
        raise ApiError(400, "metadata holds at most 16 key-value pairs.", param="metadata")
    for key, value in metadata.items():
        if len(key) > 64 or not isinstance(value, str) or len(value) > 512:
            raise ApiError(
                400,
                "metadata keys are strings of at most 64 characters, values of at most 512.",
                param="metadata",
            )


def _normalise_failure(failure: LineFailure) -> tuple[int, str]:
    if isinstance(failure, tuple):
        return int(failure[0]), str(failure[1])
    if isinstance(failure, int):
        return failure, error_body(failure)["error"]["message"]
    return 400, str(failure)


class BatchStore:
    """Batches of one fake server, reachable as ``fake.batches``.

    Every control method returns the batch as the API would show it now.
    """

    def __init__(self, files: FileStore, engine: Engine, *, auto_complete: bool = False) -> None:
        self._files = files
        self._engine = engine
        self._lock = threading.RLock()
        self._batches: dict[str, _Batch] = {}  # insertion order = creation order
        #: Complete each valid batch as soon as it is created (quickstart, benchmarks).
        self.auto_complete = auto_complete

    # -- HTTP side ---------------------------------------------------------

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Handle ``POST /v1/batches``; invalid input files give a ``failed`` batch."""
        input_file_id = body.get("input_file_id")
        endpoint = body.get("endpoint")
        window = body.get("completion_window")
        for key, value in (
            ("input_file_id", input_file_id),
            ("endpoint", endpoint),
            ("completion_window", window),
        ):
            if not value:
                raise ApiError(
                    400,
                    f"Missing required parameter: '{key}'.",
                    code="missing_required_parameter",
                    param=key,
                )
        if endpoint not in SUPPORTED_ENDPOINTS:
            raise ApiError(
                400,
                f"The fake supports batches for {', '.join(SUPPORTED_ENDPOINTS)}, not {endpoint}.",
                param="endpoint",
            )
        if window != "24h":
            raise ApiError(400, "completion_window must be '24h'.", param="completion_window")
        _validate_metadata(body.get("metadata"))
        try:
            stored = self._files.get(str(input_file_id))
        except ApiError:
            raise ApiError(
                400, f"No such File object: {input_file_id}", param="input_file_id"
            ) from None
        if stored.purpose != "batch":
            raise ApiError(
                400,
                f"The file {input_file_id} has purpose '{stored.purpose}', not 'batch'.",
                param="input_file_id",
            )
        lines, errors = _validate_lines(stored.content, str(endpoint))
        now = int(time.time())
        data: dict[str, Any] = {
            "id": new_id("batch_"),
            "object": "batch",
            "endpoint": endpoint,
            "model": next((line["body"].get("model") for line in lines), None)
            if not errors
            else None,
            "errors": None,
            "input_file_id": input_file_id,
            "completion_window": window,
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": None,
            "expires_at": now + COMPLETION_WINDOW,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "usage": None,
            "metadata": body.get("metadata"),
        }
        batch = _Batch(data, lines)
        with self._lock:
            self._batches[data["id"]] = batch
            if errors:
                data.update(
                    status="failed", failed_at=now, errors={"object": "list", "data": errors}
                )
                return copy.deepcopy(data)
            data["request_counts"]["total"] = len(lines)
            created = copy.deepcopy(data)
            if self.auto_complete:
                self._complete(batch)
            return created

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        """Handle ``GET /v1/batches/{id}``."""
        with self._lock:
            return copy.deepcopy(self._get(batch_id).data)

    def list_page(self, *, after: str | None = None, limit: int = 20) -> dict[str, Any]:
        """Handle ``GET /v1/batches``: newest first, cursor paging with ``after``."""
        limit = max(1, min(int(limit), 100))
        with self._lock:
            newest_first = [batch.data for batch in reversed(self._batches.values())]
        start = 0
        if after:
            ids = [data["id"] for data in newest_first]
            start = ids.index(after) + 1 if after in ids else len(ids)
        page = newest_first[start : start + limit]
        return {
            "object": "list",
            "data": copy.deepcopy(page),
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": start + limit < len(newest_first),
        }

    def request_cancel(self, batch_id: str) -> dict[str, Any]:
        """Handle ``POST /v1/batches/{id}/cancel``: the batch becomes ``cancelling``.

        It stays so until the test calls :meth:`cancel`; with
        ``auto_complete`` it is ``cancelled`` right after this answer.
        """
        with self._lock:
            batch = self._get(batch_id)
            status = batch.data["status"]
            if status in TERMINAL:
                raise ApiError(
                    400, f"Cannot cancel a batch with status '{status}'.", param="batch_id"
                )
            if status != "cancelling":
                batch.data.update(status="cancelling", cancelling_at=int(time.time()))
            answer = copy.deepcopy(batch.data)
            if self.auto_complete:
                self._finish(batch, "cancelled", completed=0)
            return answer

    # -- test side ---------------------------------------------------------

    def get(self, batch_id: str) -> dict[str, Any]:
        """The batch as the API shows it (a copy)."""
        return self.retrieve(batch_id)

    def ids(self) -> list[str]:
        """Ids of every batch, oldest first."""
        with self._lock:
            return list(self._batches)

    def pending(self) -> list[str]:
        """Ids of the batches that have not ended yet, oldest first."""
        with self._lock:
            return [i for i, batch in self._batches.items() if batch.data["status"] not in TERMINAL]

    def complete_all(self) -> list[dict[str, Any]]:
        """Complete every batch that has not ended yet; the batches, oldest first."""
        with self._lock:
            return [self._complete(self._batches[batch_id]) for batch_id in self.pending()]

    def lines(self, batch_id: str) -> list[dict[str, Any]]:
        """The parsed input lines of a batch, in file order."""
        with self._lock:
            return copy.deepcopy(self._get(batch_id).lines)

    def advance(self, batch_id: str, status: str = "in_progress") -> dict[str, Any]:
        """Move a running batch to ``validating``, ``in_progress``, ``finalizing`` or
        ``cancelling``, stamping the matching ``*_at`` time."""
        if status not in ADVANCE_TO:
            raise ValueError(
                f"advance() moves a batch to one of {ADVANCE_TO}; "
                "use complete(), expire(), fail() or cancel() to end it"
            )
        with self._lock:
            batch = self._running(batch_id)
            batch.data["status"] = status
            stamp = f"{status}_at"
            if stamp in batch.data and batch.data[stamp] is None:
                batch.data[stamp] = int(time.time())
            return copy.deepcopy(batch.data)

    def complete(
        self,
        batch_id: str,
        *,
        fail: Mapping[str, LineFailure] | None = None,
        replies: Mapping[str, str] | None = None,
        shuffle: bool = False,
    ) -> dict[str, Any]:
        """Run every request and end the batch ``completed``.

        ``fail`` maps ``custom_id`` to ``(status_code, message)`` (or a status
        code, or a message) for lines that must fail; ``replies`` maps
        ``custom_id`` to a reply text; ``shuffle`` writes the output lines in a
        (deterministic) random order, as OpenAI does not keep input order.
        """
        with self._lock:
            return self._complete(
                self._running(batch_id), fail=fail, replies=replies, shuffle=shuffle
            )

    def expire(
        self,
        batch_id: str,
        *,
        completed: int = 0,
        fail: Mapping[str, LineFailure] | None = None,
    ) -> dict[str, Any]:
        """End the batch ``expired``: the first ``completed`` requests have run
        (output file), the others are ``batch_expired`` lines in the error file."""
        with self._lock:
            return self._finish(self._running(batch_id), "expired", completed=completed, fail=fail)

    def cancel(self, batch_id: str, *, completed: int = 0) -> dict[str, Any]:
        """End the batch ``cancelled`` (through ``cancelling``): the first
        ``completed`` requests have run, the others are ``batch_cancelled`` lines."""
        with self._lock:
            batch = self._get(batch_id)
            if batch.data["status"] == "cancelled":
                return copy.deepcopy(batch.data)
            batch = self._running(batch_id)
            if batch.data["cancelling_at"] is None:
                batch.data["cancelling_at"] = int(time.time())
            return self._finish(batch, "cancelled", completed=completed)

    def fail(
        self, batch_id: str, errors: Iterable[Mapping[str, Any] | str] | None = None
    ) -> dict[str, Any]:
        """End the batch ``failed`` with ``errors.data`` (dicts with ``code``,
        ``message``, ``line``, ``param``; or plain messages)."""
        data_errors = []
        for error in errors or ["The batch failed (scripted by FakeOpenAI)."]:
            if isinstance(error, str):
                data_errors.append(_validation_error("batch_failed", None, error))
            else:
                data_errors.append(
                    {
                        "code": error.get("code", "batch_failed"),
                        "line": error.get("line"),
                        "message": error.get("message", ""),
                        "param": error.get("param"),
                    }
                )
        with self._lock:
            batch = self._running(batch_id)
            batch.data.update(
                status="failed",
                failed_at=int(time.time()),
                errors={"object": "list", "data": data_errors},
            )
            return copy.deepcopy(batch.data)

    def forget(self, batch_id: str) -> None:
        """Drop a batch, as a provider does after a key or account change:
        from then on retrieving or cancelling it is a 404."""
        with self._lock:
            self._get(batch_id)
            del self._batches[batch_id]

    def clear(self) -> None:
        with self._lock:
            self._batches.clear()

    # -- internals ---------------------------------------------------------

    def _get(self, batch_id: str) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"No batch found with id '{batch_id}'.", param="batch_id")
        return batch

    def _running(self, batch_id: str) -> _Batch:
        batch = self._get(batch_id)
        if batch.data["status"] in TERMINAL:
            raise ValueError(f"batch {batch_id} has already ended: {batch.data['status']}")
        return batch

    def _complete(
        self,
        batch: _Batch,
        *,
        fail: Mapping[str, LineFailure] | None = None,
        replies: Mapping[str, str] | None = None,
        shuffle: bool = False,
    ) -> dict[str, Any]:
        return self._finish(
            batch,
            "completed",
            completed=len(batch.lines),
            fail=fail,
            replies=replies,
            shuffle=shuffle,
        )

    def _run_line(
        self,
        line: dict[str, Any],
        endpoint: str,
        failure: LineFailure | None,
        reply: str | None,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """One output line, and the usage of its response when it succeeded."""
        status = 200
        if failure is not None:
            status, message = _normalise_failure(failure)
            body = error_body(status, message)
        else:
            try:
                body = self._answer(endpoint, line["body"], reply)
            except ApiError as error:
                status, body = error.status, error.body
        result = {
            "id": new_id("batch_req_"),
            "custom_id": line["custom_id"],
            "response": {"status_code": status, "request_id": new_id("req_"), "body": body},
            "error": None,
        }
        return result, body.get("usage") if status == 200 else None

    def _answer(self, endpoint: str, body: dict[str, Any], reply: str | None) -> dict[str, Any]:
        scripted = Reply(text=reply) if reply is not None else None
        if endpoint == "/v1/responses":
            return self._engine.response(body, reply=scripted, scripted=False)
        if endpoint == "/v1/chat/completions":
            return self._engine.chat_completion(body, reply=scripted, scripted=False)
        return self._engine.embeddings(body)

    def _finish(
        self,
        batch: _Batch,
        status: str,
        *,
        completed: int,
        fail: Mapping[str, LineFailure] | None = None,
        replies: Mapping[str, str] | None = None,
        shuffle: bool = False,
    ) -> dict[str, Any]:
        data = batch.data
        endpoint = data["endpoint"]
        fail = fail or {}
        replies = replies or {}
        outputs: list[str] = []
        errors: list[str] = []
        succeeded = failed = 0
        usage = {"input": 0, "cached": 0, "output": 0, "reasoning": 0}
        for line in batch.lines[:completed]:
            custom_id = str(line["custom_id"])
            result, line_usage = self._run_line(
                line, endpoint, fail.get(custom_id), replies.get(custom_id)
            )
            if line_usage is None:
                failed += 1
                errors.append(json.dumps(result))
                continue
            succeeded += 1
            outputs.append(json.dumps(result))
            _add_usage(usage, line_usage)
        reason = {
            "expired": (
                "batch_expired",
                "This request could not be executed before the completion window expired.",
            ),
            "cancelled": ("batch_cancelled", "This request was cancelled before it ran."),
        }.get(status)
        if reason is not None:
            for line in batch.lines[completed:]:
                errors.append(
                    json.dumps(
                        {
                            "id": new_id("batch_req_"),
                            "custom_id": line["custom_id"],
                            "response": None,
                            "error": {"code": reason[0], "message": reason[1]},
                        }
                    )
                )
        if shuffle:
            random.Random(data["id"]).shuffle(outputs)
        now = int(time.time())
        if outputs:
            data["output_file_id"] = self._files.add(
                f"{data['id']}_output.jsonl", "batch_output", ("\n".join(outputs) + "\n").encode()
            ).id
        if errors:
            data["error_file_id"] = self._files.add(
                f"{data['id']}_error.jsonl", "batch_output", ("\n".join(errors) + "\n").encode()
            ).id
        if status == "completed":
            for stamp in ("in_progress_at", "finalizing_at"):
                data[stamp] = data[stamp] or now
        data["status"] = status
        data[f"{status}_at"] = now
        data["request_counts"] = {
            "total": len(batch.lines),
            "completed": succeeded,
            "failed": failed,
        }
        data["usage"] = {
            "input_tokens": usage["input"],
            "input_tokens_details": {"cached_tokens": usage["cached"]},
            "output_tokens": usage["output"],
            "output_tokens_details": {"reasoning_tokens": usage["reasoning"]},
            "total_tokens": usage["input"] + usage["output"],
        }
        return copy.deepcopy(data)


def _add_usage(total: dict[str, int], usage: dict[str, Any]) -> None:
    """Sum a response's usage into ``total``, whatever the endpoint's field names."""
    if "input_tokens" in usage:  # responses
        total["input"] += usage["input_tokens"]
        total["output"] += usage["output_tokens"]
        total["cached"] += (usage.get("input_tokens_details") or {}).get("cached_tokens", 0)
        total["reasoning"] += (usage.get("output_tokens_details") or {}).get("reasoning_tokens", 0)
    else:  # chat completions, embeddings
        total["input"] += usage.get("prompt_tokens", 0)
        total["output"] += usage.get("completion_tokens", 0)
        total["cached"] += (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
        details = usage.get("completion_tokens_details") or {}
        total["reasoning"] += details.get("reasoning_tokens", 0)
