"""Streams: recorded when they end, however they end, with what was read.

The caller keeps the SDK's own ``Stream`` (``isinstance`` holds, helpers
and ``.stream()`` managers work as unpatched). Two things of it change:

- its iterator is wrapped by a generator (for async streams, an iterator
  object) that sees every chunk and ends the span when the stream is
  exhausted, fails, or the generator is closed (an early ``break``
  followed by garbage collection);
- its HTTP response's ``close``/``aclose`` ends the span first, because
  ``stream.close()``, leaving ``with`` and the ``.stream()`` helpers all
  close the response directly.

A ``weakref.finalize`` ends spans of streams dropped before being read.

A span ended by the garbage collector must not hand its records over right
there: the collector may have interrupted the writer while it held its
lock, on this very thread. Those endings go through a
:class:`queue.SimpleQueue` (whose ``put`` is safe anywhere) to a small
daemon thread that does the rest.
"""

from __future__ import annotations

import queue
import threading
import time
import weakref
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from typing import Protocol

from .. import process
from ..tracing.recorder import log_recorder_error
from ..tracing.records import SpanRecord
from .calls import LlmCall
from .calls import fill_span
from .extract import CallOutcome
from .extract import ToolCall
from .extract import assistant_message
from .extract import chat_usage
from .extract import choices_output
from .extract import parse_json

# -- endings deferred out of the garbage collector ---------------------------

_collecting = False


@process.on_gc
def _on_gc(phase: str, info: dict[str, Any]) -> None:
    global _collecting
    _collecting = phase == "start"


_deferred: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
_forwarder: threading.Thread | None = None


def _forward() -> None:
    while True:
        ending = _deferred.get()
        try:
            ending()
        except Exception:
            log_recorder_error()


def _ensure_forwarder() -> None:
    """Start the daemon that runs deferred endings (from ordinary code only)."""
    global _forwarder
    if _forwarder is None or not _forwarder.is_alive():
        _forwarder = threading.Thread(target=_forward, name="flask-llm-logs-streams", daemon=True)
        _forwarder.start()


@process.after_fork_in_child
def _reset_after_fork() -> None:
    global _deferred, _forwarder
    _deferred = queue.SimpleQueue()
    _forwarder = None


# -- accumulating what a stream carries --------------------------------------


class _ChoiceParts:
    """What the chunks of one choice carried so far."""

    __slots__ = ("refusal", "text", "tools")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.refusal: list[str] = []
        #: Tool calls by index: [id, name, argument pieces].
        self.tools: dict[int, list[Any]] = {}

    def message(self, wants_json: bool) -> tuple[Any, tuple[ToolCall, ...]]:
        tool_calls = tuple(
            ToolCall(entry[0], entry[1], parse_json("".join(entry[2])))
            for _, entry in sorted(self.tools.items())
        )
        text = "".join(self.text) or None
        content = parse_json(text) if wants_json else text
        refusal = "".join(self.refusal) or None
        return assistant_message(content, tool_calls, refusal), tool_calls


class ChatAccumulator:
    """Builds a chat completion's outcome from its chunks, each choice's (``n > 1``) apart.

    ``read_usage`` reads a chunk's usage: LiteLLM's carries cache writes too.
    """

    def __init__(
        self,
        wants_json: bool,
        read_usage: Callable[[CallOutcome, Any], None] = chat_usage,
    ) -> None:
        self.wants_json = wants_json
        self.read_usage = read_usage
        self.outcome = CallOutcome()
        #: By choice index; the first is made up front, so a stream that
        #: ends before any content still stores an (empty) message.
        self.choices: dict[int, _ChoiceParts] = {0: _ChoiceParts()}
        self.finish_reasons: list[str] = []

    def add(self, chunk: Any) -> bool:
        """Take ``chunk`` in; whether it carried generated content."""
        outcome = self.outcome
        outcome.model = chunk.model or outcome.model
        outcome.response_id = chunk.id or outcome.response_id
        usage = getattr(chunk, "usage", None)  # LiteLLM's chunks have it only at the end
        if usage is not None:
            self.read_usage(outcome, usage)
        generated = False
        for choice in chunk.choices:
            if choice.finish_reason:
                self.finish_reasons.append(choice.finish_reason)
            parts = self.choices.get(choice.index)
            if parts is None:
                parts = self.choices[choice.index] = _ChoiceParts()
            delta = choice.delta
            if delta.content:
                parts.text.append(delta.content)
                generated = True
            refusal = getattr(delta, "refusal", None)  # LiteLLM's deltas may lack it
            if refusal:
                parts.refusal.append(refusal)
                generated = True
            for call in delta.tool_calls or ():
                entry = parts.tools.setdefault(call.index, [None, "", []])
                generated = True
                if call.id:
                    entry[0] = call.id
                function = call.function
                if function is not None:
                    if function.name:
                        entry[1] += function.name
                    if function.arguments:
                        entry[2].append(function.arguments)
        return generated

    def result(self) -> CallOutcome:
        outcome = self.outcome
        outcome.finish_reasons = self.finish_reasons
        messages = []
        for _, parts in sorted(self.choices.items()):
            message, tool_calls = parts.message(self.wants_json)
            messages.append(message)
            outcome.tool_calls += tool_calls
        outcome.output = choices_output(messages)
        return outcome


class ResponsesAccumulator:
    """Builds a response's outcome from its events; the final response wins."""

    ENDINGS = ("response.completed", "response.failed", "response.incomplete")

    def __init__(self, wants_json: bool, read_outcome: Callable[[Any, bool], CallOutcome]) -> None:
        self.wants_json = wants_json
        self.read_outcome = read_outcome
        self.final: Any = None
        self.started: Any = None
        self.text: list[str] = []
        self.tools: list[ToolCall] = []

    def add(self, event: Any) -> bool:
        kind: str = event.type
        if kind == "response.output_text.delta":
            self.text.append(event.delta)
            return True
        if kind in self.ENDINGS:
            self.final = event.response
        elif kind == "response.created":
            self.started = event.response
        elif kind == "response.output_item.done" and event.item.type == "function_call":
            item = event.item
            self.tools.append(ToolCall(item.call_id, item.name, parse_json(item.arguments)))
        return kind.endswith(".delta")

    def result(self) -> CallOutcome:
        if self.final is not None:
            return self.read_outcome(self.final, self.wants_json)
        outcome = CallOutcome(tool_calls=tuple(self.tools))
        if self.started is not None:
            outcome.model = self.started.model
            outcome.response_id = self.started.id
        text = "".join(self.text) or None
        content = parse_json(text) if self.wants_json else text
        outcome.output = assistant_message(content, outcome.tool_calls)
        return outcome


# -- watching a stream --------------------------------------------------------


class Accumulator(Protocol):
    """Builds a call's outcome from the items of its stream (one per SDK and API)."""

    def add(self, item: Any) -> bool:
        """Take ``item`` in; whether it carried generated content (for time to first token)."""

    def result(self) -> CallOutcome:
        """What the items read so far say."""


#: Items a stream keeps before they are read, all at once: see :class:`StreamRecorder`.
KEPT_ITEMS = 32


class StreamRecorder:
    """Ends one stream's span exactly once, with what was read by then.

    The items (chunks, events) are kept as they come, each with its time,
    and read into the accumulator :data:`KEPT_ITEMS` at a time, or by the
    writer's thread once the stream ended (the recorder is the span's
    pending response, see :meth:`fill`): between two of the SDK's chunks
    the accumulator's code is cold in the CPU's caches, and reading a chunk
    there cost several times what it costs in a run of them. A stream of a
    few dozen chunks is read entirely off the host's thread; a longer one
    holds at most :data:`KEPT_ITEMS` chunks. The chunks are the SDK's, which
    it never changes once yielded. LiteLLM's are read at once (``read``):
    its logging may touch them on threads of its own.
    """

    __slots__ = (
        "__weakref__",
        "accumulator",
        "call",
        "first_token_at",
        "kept",
        "once",
        "reading",
    )

    def __init__(self, call: LlmCall, accumulator: Accumulator) -> None:
        self.call = call
        self.accumulator = accumulator
        self.first_token_at: float | None = None
        #: Items not read yet, with the ``perf_counter`` they came at.
        self.kept: list[tuple[float, Any]] = []
        self.once = threading.Lock()
        #: True while the SDK's iterator runs: a response closed then is the
        #: stream ending by itself, which the iterator wrapper reports.
        self.reading = False

    def add(self, item: Any) -> None:
        """Keep ``item`` to be read later (async streams; :func:`_observe` does it inline)."""
        kept = self.kept
        kept.append((time.perf_counter(), item))
        if len(kept) >= KEPT_ITEMS:
            self.read_kept()

    def read(self, item: Any) -> None:
        """Read ``item`` now (LiteLLM's streams, see the class docstring)."""
        self.kept.append((time.perf_counter(), item))
        self.read_kept()

    def read_kept(self) -> None:
        """Read the items kept so far into the accumulator."""
        kept, self.kept = self.kept, []
        add = self.accumulator.add
        for at, item in kept:
            try:
                if add(item) and self.first_token_at is None:
                    self.first_token_at = at
            except Exception:
                log_recorder_error()

    def finish(self, error: BaseException | None = None, *, how: str) -> None:
        if not self.once.acquire(blocking=False):
            return
        if _collecting:
            _deferred.put(lambda: self._end(error, how))
        else:
            self._end(error, how)

    def _end(self, error: BaseException | None, how: str) -> None:
        try:
            self.call.send(self, error, {"llm_logs.stream": how})
        except Exception:
            log_recorder_error()

    def fill(self, span: SpanRecord) -> list[SpanRecord]:
        """Read what the stream carried into ``span``, on the writer's thread; its
        tool-call children. Never raises."""
        self.read_kept()
        try:
            outcome = self.accumulator.result()
        except Exception:
            log_recorder_error()
            outcome = CallOutcome()
        call = self.call
        if self.first_token_at is not None:
            span.time_to_first_token_ms = (self.first_token_at - call.started) * 1000
        try:
            return fill_span(span, outcome, call.capture)
        except Exception:
            log_recorder_error()
            return []


class ReadingNext:
    """Around the SDK iterator's ``__next__`` or ``__anext__``: ``reading``
    is set meanwhile, and the span ends when the iterator ends (``end``,
    ``StopIteration`` or ``StopAsyncIteration``) or fails; the exception
    still reaches the caller. A class, not a generator, so the
    ``StopIteration`` passes through untouched."""

    __slots__ = ("end", "recorder")

    def __init__(self, recorder: StreamRecorder, end: type[Exception]) -> None:
        self.recorder = recorder
        self.end = end

    def __enter__(self) -> None:
        self.recorder.reading = True

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.recorder.reading = False
        if kind is None:
            return
        if issubclass(kind, self.end):
            self.recorder.finish(how="exhausted")
        else:
            self.recorder.finish(error, how="failed")


def _observe(iterator: Iterator[Any], recorder: StreamRecorder) -> Iterator[Any]:
    # Runs once per chunk between two of the SDK's: ``StreamRecorder.add``
    # is inlined (one call fewer per chunk, ten or more per stream).
    clock = time.perf_counter
    try:
        while True:
            recorder.reading = True
            try:
                item = next(iterator)
            except StopIteration:
                break
            finally:
                recorder.reading = False
            kept = recorder.kept
            kept.append((clock(), item))
            if len(kept) >= KEPT_ITEMS:
                recorder.read_kept()
            yield item
    except GeneratorExit:
        recorder.finish(how="abandoned")
        close = getattr(iterator, "close", None)
        if close is not None:  # the caller closing this generator closes the SDK's
            close()
        raise
    except BaseException as error:
        recorder.finish(error, how="failed")
        raise
    recorder.finish(how="exhausted")


class _ObservedAsyncIterator:
    """The async counterpart of :func:`_observe`, as a plain object.

    An async generator here would be one more generator for the event loop
    to finalise, in a task of its own, when a stream is dropped. Without
    it, a dropped async stream is recorded when the loop closes the SDK's
    generator (which closes the response) or when the stream is collected.
    """

    __slots__ = ("__weakref__", "_inner", "_recorder")

    def __init__(self, inner: AsyncIterator[Any], recorder: StreamRecorder) -> None:
        self._inner = inner
        self._recorder = recorder

    def __aiter__(self) -> _ObservedAsyncIterator:
        return self

    async def aclose(self) -> None:
        """Close the stream, as the SDK's async generator's ``aclose`` does."""
        self._recorder.finish(how="closed")
        aclose = getattr(self._inner, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __anext__(self) -> Any:
        with ReadingNext(self._recorder, StopAsyncIteration):
            item = await self._inner.__anext__()
        self._recorder.add(item)
        return item


def _accumulator_for(call: LlmCall) -> ChatAccumulator | ResponsesAccumulator:
    if call.operation.name == "responses":
        return ResponsesAccumulator(call.wants_json, call.operation.read_outcome)
    return ChatAccumulator(call.wants_json)


def recorder_for(
    stream: object,
    call: LlmCall,
    accumulator: Accumulator | None = None,
) -> StreamRecorder:
    """The recorder of ``stream``: it ends ``call``'s span as abandoned if the stream
    is collected first. SDKs whose streams are not ``openai.Stream`` s feed it themselves."""
    _ensure_forwarder()
    recorder = StreamRecorder(call, accumulator or _accumulator_for(call))
    weakref.finalize(stream, _abandon, recorder).atexit = False
    return recorder


def _closed_or_abandoned() -> str:
    """A response closed by the garbage collector (the SDK's generator
    finalised) belongs to a stream the caller dropped."""
    return "abandoned" if _collecting else "closed"


def _abandon(recorder: StreamRecorder) -> None:
    recorder.finish(how="abandoned")


def watch(stream: Any, call: LlmCall, accumulator: Accumulator | None = None) -> None:
    """Record ``stream`` (an ``openai.Stream``, or another Stainless SDK's such as
    ``anthropic.Stream``) as ``call``'s span, in place; ``accumulator`` reads its
    items (default: the ``openai`` one for ``call``'s operation)."""
    recorder = recorder_for(stream, call, accumulator)
    stream._iterator = _observe(stream._iterator, recorder)
    response = stream.response
    close = response.close

    def close_and_record() -> None:
        if not recorder.reading:
            recorder.finish(how=_closed_or_abandoned())
        close()

    response.close = close_and_record


def watch_async(stream: Any, call: LlmCall, accumulator: Accumulator | None = None) -> None:
    """Record ``stream`` (an ``openai.AsyncStream``, or another Stainless SDK's) as
    ``call``'s span, in place; ``accumulator`` as for :func:`watch`."""
    recorder = recorder_for(stream, call, accumulator)
    stream._iterator = _ObservedAsyncIterator(stream._iterator, recorder)
    response = stream.response
    aclose = response.aclose

    async def aclose_and_record() -> None:
        if not recorder.reading:
            recorder.finish(how=_closed_or_abandoned())
        await aclose()

    response.aclose = aclose_and_record


def observe(iterator: Iterator[Any], call: LlmCall, accumulator: Accumulator) -> Iterator[Any]:
    """Record a stream the SDK returns as a bare generator (google-genai's).

    A generator cannot be watched in place: the caller gets the generator
    returned here, which yields the SDK's very items. The SDK's generator,
    kept alive by this one, is collected with it.
    """
    return _observe(iterator, recorder_for(iterator, call, accumulator))


def observe_async(
    iterator: AsyncIterator[Any], call: LlmCall, accumulator: Accumulator
) -> AsyncIterator[Any]:
    """The async counterpart of :func:`observe`."""
    return _ObservedAsyncIterator(iterator, recorder_for(iterator, call, accumulator))
