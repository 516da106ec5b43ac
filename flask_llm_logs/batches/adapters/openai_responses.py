"""OpenAI's Batch API on ``/v1/responses``, through the official SDK.

File formats: one JSON line per request, ``{"custom_id", "method", "url",
"body"}`` in; ``{"custom_id", "response": {"status_code", "body"}, "error"}``
out, in any order, successes in the output file and failures in the error
file. Limits: 50,000 requests and 200 MB per file, one model per file, a 24 h
completion window.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any

from ...config import SharedClient
from .base import BatchAdapter
from .base import BatchNotFound
from .base import Message
from .base import ProviderBatch
from .base import RequestOutcome

ENDPOINT = "/v1/responses"

#: Model families the Responses Batch API does not serve (audio, realtime,
#: image and video generation, speech): their requests fall back to a
#: synchronous call.
UNBATCHABLE_MARKERS = (
    "realtime",
    "audio",
    "transcribe",
    "tts",
    "whisper",
    "dall-e",
    "gpt-image",
    "sora",
    "computer-use",
)


def _default_client() -> Any:
    import openai

    return openai.OpenAI()


class OpenAIResponsesAdapter(BatchAdapter):
    name = "openai_responses"
    pricing_provider = "openai"
    max_requests = 50_000
    max_bytes = 200 * 1024 * 1024

    def __init__(self, make_client: Callable[[], Any] | None = None) -> None:
        self._make_client = make_client or _default_client
        self._client: Any = None

    @property
    def client(self) -> Any:
        """Made on first use: retrying a handler needs no client (nor API key)."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def can_batch(self, model: str) -> bool:
        name = model.lower()
        return not any(marker in name for marker in UNBATCHABLE_MARKERS)

    def encode(self, custom_id: str, payload: Mapping[str, Any]) -> bytes:
        line = {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": payload}
        return json.dumps(line, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"

    def upload(self, data: bytes, filename: str) -> str:
        return str(self.client.files.create(file=(filename, data), purpose="batch").id)

    def create(self, input_file_id: str, metadata: Mapping[str, str]) -> ProviderBatch:
        batch = self.client.batches.create(
            input_file_id=input_file_id,
            endpoint=ENDPOINT,
            completion_window="24h",
            metadata=dict(metadata),
        )
        return _provider_batch(batch)

    def retrieve(self, provider_batch_id: str) -> ProviderBatch:
        with _not_found_as_batch_not_found():
            return _provider_batch(self.client.batches.retrieve(provider_batch_id))

    def cancel(self, provider_batch_id: str) -> None:
        with _not_found_as_batch_not_found():
            self.client.batches.cancel(provider_batch_id)

    def outcomes(self, batch: ProviderBatch) -> dict[str, RequestOutcome]:
        outcomes: dict[str, RequestOutcome] = {}
        # Errors first, so that a success for the same id (never expected) wins.
        for file_id in (batch.error_file_id, batch.output_file_id):
            if file_id:
                for line in self.client.files.content(file_id).text.splitlines():
                    if line.strip():
                        outcome = _outcome(json.loads(line))
                        outcomes[outcome.custom_id] = outcome
        return outcomes

    def batches_since(self, created_after: int) -> Iterator[ProviderBatch]:
        after: str | None = None
        while True:
            page = self.client.batches.list(limit=100, **({"after": after} if after else {}))
            for batch in page.data:
                if batch.created_at is not None and batch.created_at < created_after:
                    return
                yield _provider_batch(batch)
            if not page.has_more or not page.data:
                return
            after = page.data[-1].id

    def send(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        response = self.client.responses.create(**payload)
        body: dict[str, Any] = response.to_dict()
        return body

    def message(self, body: Mapping[str, Any], *, structured: bool) -> Message:
        from openai.types.responses import Response

        if not isinstance(body, Mapping):
            raise ValueError(f"the result is not a JSON object: {body!r:.200}")
        # Built as the SDK builds a response it receives (``construct``, no
        # validation), not validated: a provider or API version that leaves
        # out a field the installed SDK requires (usage details...) would
        # otherwise make a paid-for result "unusable".
        response = Response.construct(**body)
        try:
            content: Any = response.output_text
        except (AttributeError, TypeError):
            raise ValueError("the result has no readable output") from None
        if structured:
            try:
                content = json.loads(content)
            except ValueError as error:
                raise ValueError(
                    f"the reply is not the JSON the schema asks for: {error}"
                ) from None
        usage = response.usage
        input_details = getattr(usage, "input_tokens_details", None)
        output_details = getattr(usage, "output_tokens_details", None)
        return Message(
            content=content,
            model=response.model if isinstance(response.model, str) else None,
            input_tokens=_count(usage, "input_tokens"),
            output_tokens=_count(usage, "output_tokens"),
            cached_tokens=_count(input_details, "cached_tokens"),
            reasoning_tokens=_count(output_details, "reasoning_tokens"),
            response=response,
        )

    def close(self) -> None:
        # A client object of the app's (SharedClient) serves other uses: not ours to close.
        shared = isinstance(self._make_client, SharedClient)
        if self._client is not None and not shared and hasattr(self._client, "close"):
            self._client.close()
        self._client = None


@contextlib.contextmanager
def _not_found_as_batch_not_found() -> Iterator[None]:
    """The SDK's 404 as the interface's :class:`BatchNotFound`, with OpenAI's message."""
    import openai

    try:
        yield
    except openai.NotFoundError as error:
        body = error.body if isinstance(error.body, Mapping) else {}
        raise BatchNotFound(f"404 {body.get('message') or error.message}") from None


def _count(part: object, name: str) -> int | None:
    """A token count of a usage part, ``None`` when the provider left it out."""
    value = getattr(part, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _provider_batch(batch: Any) -> ProviderBatch:
    errors = getattr(getattr(batch, "errors", None), "data", None) or ()
    return ProviderBatch(
        id=batch.id,
        status=batch.status,
        input_file_id=batch.input_file_id,
        output_file_id=batch.output_file_id,
        error_file_id=batch.error_file_id,
        errors=tuple(f"{e.code}: {e.message}" for e in errors),
        metadata=dict(batch.metadata or {}),
        created_at=batch.created_at,
        raw=batch.to_dict(),
    )


def _outcome(line: Mapping[str, Any]) -> RequestOutcome:
    custom_id = line["custom_id"]
    response = line.get("response")
    if response is not None and response.get("status_code") == 200:
        return RequestOutcome(custom_id, body=response["body"])
    if response is not None:
        error = (response.get("body") or {}).get("error") or {}
        message = error.get("message") or "no error message"
        code = error.get("code") or error.get("type") or response.get("status_code")
        return RequestOutcome(custom_id, error=f"{code}: {message}")
    error = line.get("error") or {}
    message = error.get("message") or "no error message"
    return RequestOutcome(custom_id, error=f"{error.get('code', 'error')}: {message}")
