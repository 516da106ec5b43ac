"""Patch points in the ``openai`` SDK: resource classes, not clients.

Patching the classes covers every client, those made before
:func:`instrument` ran too, and ``with_raw_response``/``.stream()``, which
call the class's ``create``. ``parse`` posts by itself and is wrapped on its
own. Async methods get async wrappers: the SDK's are plain functions
returning coroutines, so they cannot be told apart by inspection.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Callable
from typing import Any
from typing import NamedTuple

from openai import AsyncStream
from openai import Stream
from openai._legacy_response import LegacyAPIResponse

from ..tracing.recorder import log_recorder_error
from .calls import CHAT
from .calls import EMBEDDINGS
from .calls import RESPONSES
from .calls import LlmCall
from .calls import Operation
from .extract import CallOutcome
from .streams import watch
from .streams import watch_async


class PatchPoint(NamedTuple):
    """One SDK method to wrap: where it is, how to read its calls, whether it is async."""

    module: str
    cls: str
    method: str
    operation: Operation
    is_async: bool = False


_CHAT = "openai.resources.chat.completions"
_RESPONSES = "openai.resources.responses"
_EMBEDDINGS = "openai.resources.embeddings"

PATCH_POINTS: tuple[PatchPoint, ...] = (
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

#: The header ``with_raw_response`` and ``with_streaming_response`` send.
RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"

_lock = threading.Lock()
#: The original methods, by (class, name), while patched.
_originals: dict[tuple[type, str], Callable[..., Any]] = {}


def _start(resource: Any, operation: Operation, kwargs: dict[str, Any]) -> LlmCall | None:
    try:
        headers = kwargs.get("extra_headers")
        # with_streaming_response: the body is the caller's to read, untraced.
        if headers and headers.get(RAW_RESPONSE_HEADER) == "stream":
            return None
        return LlmCall.start(resource, operation, kwargs)
    except Exception:
        log_recorder_error()
        return None


def _succeeded(call: LlmCall, result: Any) -> None:
    """Record ``result``; a stream is watched in place and recorded when it ends."""
    try:
        if isinstance(result, LegacyAPIResponse):
            # with_raw_response: parse() caches, so the caller's own parse() is
            # free and returns this very object (a stream watched in place).
            result = result.parse()
        if isinstance(result, Stream):
            watch(result, call)
        elif isinstance(result, AsyncStream):
            watch_async(result, call)
        else:
            call.end(_outcome(call, result))
    except Exception:
        log_recorder_error()


def _outcome(call: LlmCall, result: Any) -> CallOutcome:
    """What ``result`` says; nothing, rather than no span, when it cannot be read."""
    try:
        return call.outcome_of(result)
    except Exception:
        log_recorder_error()
        return CallOutcome()


def _failed(call: LlmCall, error: BaseException) -> None:
    try:
        call.fail(error)
    except Exception:
        log_recorder_error()


def _sync_wrapper(original: Callable[..., Any], operation: Operation) -> Callable[..., Any]:
    @functools.wraps(original)
    def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = _start(self, operation, kwargs)
        if call is None:
            return original(self, *args, **kwargs)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as error:
            _failed(call, error)
            raise
        _succeeded(call, result)
        return result

    return traced


def _async_wrapper(original: Callable[..., Any], operation: Operation) -> Callable[..., Any]:
    @functools.wraps(original)
    async def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = _start(self, operation, kwargs)
        if call is None:
            return await original(self, *args, **kwargs)
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as error:
            _failed(call, error)
            raise
        _succeeded(call, result)
        return result

    return traced


def instrument() -> None:
    """Patch the SDK's resource classes. Idempotent: patched methods stay patched once."""
    with _lock:
        for point in PATCH_POINTS:
            try:
                cls = getattr(importlib.import_module(point.module), point.cls)
                original = cls.__dict__[point.method]
            except (ImportError, AttributeError, KeyError):
                continue  # an SDK version without this method
            if (cls, point.method) in _originals:
                continue
            wrap = _async_wrapper if point.is_async else _sync_wrapper
            setattr(cls, point.method, wrap(original, point.operation))
            _originals[(cls, point.method)] = original


def uninstrument() -> None:
    """Put the SDK's original methods back; calls are no longer recorded."""
    with _lock:
        for (cls, method), original in _originals.items():
            setattr(cls, method, original)
        _originals.clear()


def is_instrumented() -> bool:
    return bool(_originals)
