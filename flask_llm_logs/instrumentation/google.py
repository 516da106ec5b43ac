"""Patch points in the ``google-genai`` SDK: ``client.models`` and ``client.aio.models``.

Patching the ``Models`` and ``AsyncModels`` classes covers every client,
those made before :func:`instrument` ran too, and chats
(``client.chats``), which call their client's ``models``. The public methods
are wrapped, not the private ones under them: a call with automatic function
calling, which may post several requests, is one span, as it is one call
for the caller. The provider is ``google`` (Gemini API) or ``google-vertex``
(a client made with ``vertexai=True``).

``generate_content_stream`` returns a bare generator (an async one from the
async client), which cannot be watched in place: the caller gets a
generator that yields the SDK's very chunks and records the span when the
stream ends (see :mod:`.streams`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from google.genai.errors import APIError

from . import google_extract
from .calls import LlmCall
from .calls import Operation
from .google_extract import GenerateAccumulator
from .patching import Patcher
from .patching import PatchPoint
from .streams import observe
from .streams import observe_async


def http_status(error: BaseException) -> int | None:
    """google-genai's ``APIError`` calls its HTTP status ``code``."""
    if isinstance(error, APIError) and isinstance(error.code, int):
        return error.code
    return None


GENERATE = Operation(
    "generate_content",
    "generate_content",
    google_extract.generate_input,
    google_extract.wants_json,
    google_extract.generate_outcome,
    google_extract.request_metadata,
    http_status,
)
#: Read as :data:`GENERATE`; a copy, told apart to watch the stream it returns.
GENERATE_STREAM = dataclasses.replace(GENERATE)
EMBED = Operation(
    "embeddings",
    "embeddings",
    google_extract.embed_input,
    google_extract.wants_json,
    google_extract.embed_outcome,
    google_extract.request_metadata,
    http_status,
)

_MODELS = "google.genai.models"

PATCH_POINTS: tuple[PatchPoint[Operation], ...] = (
    PatchPoint(_MODELS, "Models", "generate_content", GENERATE),
    PatchPoint(_MODELS, "Models", "generate_content_stream", GENERATE_STREAM),
    PatchPoint(_MODELS, "Models", "embed_content", EMBED),
    PatchPoint(_MODELS, "AsyncModels", "generate_content", GENERATE, is_async=True),
    PatchPoint(_MODELS, "AsyncModels", "generate_content_stream", GENERATE_STREAM, is_async=True),
    PatchPoint(_MODELS, "AsyncModels", "embed_content", EMBED, is_async=True),
)


def provider_of(resource: Any) -> str:
    """``google-vertex`` for a Vertex AI client, else ``google``: genai-prices' names."""
    return "google-vertex" if resource._api_client.vertexai else "google"


class _GoogleHooks:
    """How one call of the ``google-genai`` SDK becomes a span."""

    def start(
        self, resource: Any, operation: Operation, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> LlmCall | None:
        # No OpenAI-style ``_base_url`` to read the provider from: named here.
        call = LlmCall.start(None, operation, kwargs)
        if call is not None:
            call.routed_to(provider_of(resource))
        return call

    def succeeded(self, call: LlmCall, result: Any) -> Any:
        """Record ``result``; a stream is recorded when it ends, through the generator returned."""
        if call.operation is GENERATE_STREAM:
            accumulator = GenerateAccumulator(call.wants_json)
            if hasattr(result, "__anext__"):
                return observe_async(result, call, accumulator)
            return observe(result, call, accumulator)
        call.end_later(result)
        return None

    def failed(self, call: LlmCall, error: BaseException) -> None:
        call.fail(error)


#: What ``instrumentation.instrument()`` patches: the ``google-genai`` SDK's ``Models`` classes.
PATCHER = Patcher(PATCH_POINTS, _GoogleHooks())
