"""Patch points in the ``anthropic`` SDK: ``messages`` and ``beta.messages``.

As for ``openai``, the resource classes are patched, so every client is
covered, those made before :func:`instrument` ran too, and
``with_raw_response``, which calls the class's methods. ``create`` and
``parse`` post by themselves; the ``stream()`` helper posts only when its
manager is entered, so its span starts at ``stream()`` and the request the
manager makes is wrapped to watch the stream it returns. ``stream()`` is a
plain function in the async resources too (it returns a manager), so its
wrapper is synchronous.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from anthropic import AsyncStream
from anthropic import Stream
from anthropic._response import APIResponse
from anthropic._response import AsyncAPIResponse

from ..tracing.recorder import log_recorder_error
from .anthropic_extract import MessagesAccumulator
from .anthropic_extract import message_outcome
from .anthropic_extract import messages_input
from .anthropic_extract import messages_wants_json
from .anthropic_extract import request_metadata
from .calls import LlmCall
from .calls import Operation
from .patching import Patcher
from .patching import PatchPoint
from .stainless import start_call
from .streams import watch
from .streams import watch_async

MESSAGES = Operation(
    "messages",
    "chat",
    messages_input,
    messages_wants_json,
    message_outcome,
    request_metadata,
)

_MESSAGES = "anthropic.resources.messages.messages"
_BETA_MESSAGES = "anthropic.resources.beta.messages.messages"

PATCH_POINTS: tuple[PatchPoint[Operation], ...] = tuple(
    point
    for module in (_MESSAGES, _BETA_MESSAGES)
    for point in (
        PatchPoint(module, "Messages", "create", MESSAGES),
        PatchPoint(module, "Messages", "parse", MESSAGES),
        PatchPoint(module, "Messages", "stream", MESSAGES),
        PatchPoint(module, "AsyncMessages", "create", MESSAGES, is_async=True),
        PatchPoint(module, "AsyncMessages", "parse", MESSAGES, is_async=True),
        PatchPoint(module, "AsyncMessages", "stream", MESSAGES),
    )
)


def _guarded(function: Callable[..., Any], *args: Any) -> None:
    """Run a recording step; a failure of ours is logged, never raised into the host."""
    try:
        function(*args)
    except Exception:
        log_recorder_error()


def _watch(stream: Any, call: LlmCall) -> None:
    accumulator = MessagesAccumulator(call.wants_json)
    if isinstance(stream, AsyncStream):
        watch_async(stream, call, accumulator)
    else:
        watch(stream, call, accumulator)


def _end(call: LlmCall, result: Any) -> None:
    """Record a finished call's ``result``: a message, or a stream watched in place."""
    if isinstance(result, (Stream, AsyncStream)):
        _watch(result, call)
        return
    call.end_later(result)


def _stream_request_name(manager: Any) -> str | None:
    """The manager's private request attribute (``_MessageStreamManager__api_request``,
    ``_BetaAsyncMessageStreamManager__api_request``, ...), if it has one."""
    name = f"_{type(manager).__name__}__api_request"
    return name if name in vars(manager) else None


def _watch_manager(manager: Any, call: LlmCall, name: str) -> None:
    """Make the ``stream()`` manager's request end ``call``: with the stream it
    returns, or with the error it raises. The manager is the SDK's own."""
    request = getattr(manager, name)
    if inspect.isawaitable(request):

        async def request_async() -> Any:
            try:
                stream = await request
            except BaseException as error:
                _guarded(call.fail, error)
                raise
            _guarded(_watch, stream, call)
            return stream

        setattr(manager, name, request_async())
        return

    def request_sync() -> Any:
        try:
            stream = request()
        except BaseException as error:
            _guarded(call.fail, error)
            raise
        _guarded(_watch, stream, call)
        return stream

    setattr(manager, name, request_sync)


def _record_when_parsed(response: Any, call: LlmCall) -> None:
    """An async ``with_raw_response``: its ``parse()`` is a coroutine, so the call is
    recorded when the caller awaits it (it caches: the caller gets what we read)."""
    parse = response.parse

    async def parse_and_record(**kwargs: Any) -> Any:
        parsed = await parse(**kwargs)
        if not kwargs.get("to"):
            _guarded(_end, call, parsed)
        return parsed

    response.parse = parse_and_record


class _AnthropicHooks:
    """How one call of the ``anthropic`` SDK becomes a span."""

    start = staticmethod(start_call)

    def succeeded(self, call: LlmCall, result: Any) -> None:
        if isinstance(result, APIResponse):
            # with_raw_response: parse() caches, so the caller's own parse() is
            # free and returns this very object (a stream watched in place).
            _end(call, result.parse())
            return
        if isinstance(result, AsyncAPIResponse):
            _record_when_parsed(result, call)
            return
        name = _stream_request_name(result)
        if name is not None:
            _watch_manager(result, call, name)
            return
        _end(call, result)

    def failed(self, call: LlmCall, error: BaseException) -> None:
        call.fail(error)


#: What ``instrumentation.instrument()`` patches: the ``anthropic`` SDK's resource classes.
PATCHER = Patcher(PATCH_POINTS, _AnthropicHooks())
