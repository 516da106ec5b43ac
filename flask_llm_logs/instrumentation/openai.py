"""Patch points in the ``openai`` SDK: resource classes, not clients.

Patching the classes covers every client, those made before
:func:`instrument` ran too, and ``with_raw_response``/``.stream()``, which
call the class's ``create``. ``parse`` posts by itself and is wrapped on its
own. Async methods get async wrappers: the SDK's are plain functions
returning coroutines, so they cannot be told apart by inspection.
"""

from __future__ import annotations

from typing import Any

from openai import AsyncStream
from openai import BaseModel
from openai import Stream
from openai._legacy_response import LegacyAPIResponse

from .calls import CHAT
from .calls import EMBEDDINGS
from .calls import RESPONSES
from .calls import LlmCall
from .calls import Operation
from .patching import Patcher
from .patching import PatchPoint
from .stainless import start_call
from .streams import watch
from .streams import watch_async

_CHAT = "openai.resources.chat.completions"
_RESPONSES = "openai.resources.responses"
_EMBEDDINGS = "openai.resources.embeddings"

PATCH_POINTS: tuple[PatchPoint[Operation], ...] = (
    PatchPoint(_CHAT, "Completions", "create", CHAT),
    PatchPoint(_CHAT, "Completions", "parse", CHAT),
    PatchPoint(_CHAT, "AsyncCompletions", "create", CHAT, is_async=True),
    PatchPoint(_CHAT, "AsyncCompletions", "parse", CHAT, is_async=True),
    PatchPoint(_RESPONSES, "Responses", "create", RESPONSES),
    PatchPoint(_RESPONSES, "Responses", "parse", RESPONSES),
    PatchPoint(_RESPONSES, "AsyncResponses", "create", RESPONSES, is_async=True),
    PatchPoint(_RESPONSES, "AsyncResponses", "parse", RESPONSES, is_async=True),
    PatchPoint(_EMBEDDINGS, "Embeddings", "create", EMBEDDINGS),
    PatchPoint(_EMBEDDINGS, "AsyncEmbeddings", "create", EMBEDDINGS, is_async=True),
)


class _OpenAIHooks:
    """How one call of the ``openai`` SDK becomes a span."""

    start = staticmethod(start_call)

    def succeeded(self, call: LlmCall, result: Any) -> None:
        """Record ``result``; a stream is watched in place and recorded when it ends."""
        if isinstance(result, BaseModel):  # a response returned whole: one check, not five
            call.end_later(result)
            return
        if isinstance(result, LegacyAPIResponse):
            # with_raw_response: parse() caches, so the caller's own parse() is
            # free and returns this very object (a stream watched in place).
            result = result.parse()
        if isinstance(result, Stream):
            watch(result, call)
        elif isinstance(result, AsyncStream):
            watch_async(result, call)
        elif (inner := _stream_inside(result)) is not None:
            # Another instrumentation patched before us wrapped the stream
            # (OpenTelemetry's openai-v2): watch the SDK's stream it reads.
            self.succeeded(call, inner)
        else:
            call.end_later(result)

    def failed(self, call: LlmCall, error: BaseException) -> None:
        call.fail(error)


def _stream_inside(wrapper: Any) -> Stream[Any] | AsyncStream[Any] | None:
    """The SDK stream another instrumentation's wrapper reads, if ``wrapper`` is one.

    OpenTelemetry's openai-v2 keeps it as ``stream``; proxies made with
    ``wrapt`` (OpenInference's) pass ``isinstance`` and never get here.
    """
    inner = getattr(wrapper, "__dict__", {}).get("stream")
    return inner if isinstance(inner, (Stream, AsyncStream)) else None


#: What ``instrumentation.instrument()`` patches: the ``openai`` SDK's resource classes.
PATCHER = Patcher(PATCH_POINTS, _OpenAIHooks())
