"""``trace``, ``span`` and ``tool``: the app's own steps in the trace tree.

Each block builds immutable records and hands them to the background
writer; nothing here touches the database, serializes or prices. Every
line that records is guarded: a bug here is logged, never raised into the
host's code, and the host's own exceptions pass through unchanged.
"""

from __future__ import annotations

import functools
import inspect
import time
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from typing import TypeVar

from ..models.base import new_id
from .context import ActiveTrace
from .context import Frame
from .context import current_frame
from .context import enter
from .context import forget_prompt_version_of
from .context import leave
from .recorder import AUTO_TRACE_PREFIX
from .recorder import end_trace
from .recorder import error_message
from .recorder import log_recorder_error
from .recorder import snapshot
from .recorder import start_trace
from .records import SpanRecord

F = TypeVar("F", bound=Callable[..., Any])


class Step:
    """What ``with trace(...)`` and ``with span(...)`` give: set ``output``
    (and add to ``metadata``) before the block ends to have them stored.

    ``output`` is stored for spans; an outermost trace has no output, only
    metadata.
    """

    __slots__ = ("id", "input", "metadata", "name", "output", "trace_id")

    def __init__(
        self,
        name: str,
        *,
        input: Any = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.input = input
        self.output: Any = None
        self.metadata: dict[str, Any] = dict(metadata) if metadata else {}
        #: The span's id (or the trace's, for an outermost trace); ``None`` unrecorded.
        self.id: uuid.UUID | None = None
        self.trace_id: uuid.UUID | None = None

    def __repr__(self) -> str:
        return f"<Step {self.name!r} id={self.id}>"


class _Block:
    """One trace or span: a context manager (sync and async) and a decorator.

    As a decorator it opens a fresh block per call, so one decorated
    function can run in many threads and tasks at once.
    """

    kind = "custom"

    def __init__(
        self, name: str, input: Any = None, metadata: Mapping[str, Any] | None = None
    ) -> None:
        if not isinstance(name, str):
            kind = type(self).__name__
            raise TypeError(f'{kind}() takes a name first, got {name!r}: write @{kind}("name")')
        self.name = name
        self._input = input
        self._metadata = metadata
        self.step = Step(name, input=input, metadata=metadata)
        self._token: Any = None
        self._trace: ActiveTrace | None = None
        self._owns_trace = False
        self._parent_id: uuid.UUID | None = None
        self._started_at: float | None = None
        self._started = 0.0

    def _fresh(self) -> _Block:
        return type(self)(self.name, input=self._input, metadata=self._metadata)

    # -- context manager -------------------------------------------------------

    def __enter__(self) -> Step:
        try:
            self._open()
        except Exception:
            log_recorder_error()
        return self.step

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._close(exc)
        except Exception:
            log_recorder_error()

    async def __aenter__(self) -> Step:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- decorator -------------------------------------------------------------

    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                block = self._fresh()
                with block as step:
                    block._before_call(fn, args, kwargs)
                    result = await fn(*args, **kwargs)
                    step.output = block._result(result)
                    return result

            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            block = self._fresh()
            with block as step:
                block._before_call(fn, args, kwargs)
                result = fn(*args, **kwargs)
                step.output = block._result(result)
                return result

        return run  # type: ignore[return-value]

    def _before_call(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
        """Hook for decorated calls: :func:`tool` records the arguments."""

    def _result(self, result: Any) -> Any:
        """What a decorated call stores as output: nothing, but for tools."""
        return None

    # -- recording ---------------------------------------------------------------

    def _open(self) -> None:
        frame = current_frame()
        if frame is None:
            self._trace = self._open_trace()
            self._owns_trace = True
            if self._trace_only():
                self.step.id = self.step.trace_id = self._trace.id
                self._started = time.perf_counter()
                self._token = enter(Frame(self._trace, None))
                return
        else:
            self._trace = frame.trace
            self._parent_id = frame.span_id
        self.step.id = new_id()
        self.step.trace_id = self._trace.id
        self._started_at = time.time()
        self._started = time.perf_counter()
        self._token = enter(Frame(self._trace, self.step.id))

    def _trace_only(self) -> bool:
        """Whether an outermost block is the trace itself, not a span in one."""
        return False

    def _open_trace(self) -> ActiveTrace:
        return start_trace(AUTO_TRACE_PREFIX + self.name, None, announce=False)

    def _close(self, error: BaseException | None) -> None:
        if self._token is None:
            return
        leave(self._token)
        self._token = None
        trace = self._trace
        assert trace is not None
        if self._started_at is not None and trace.writer is not None:
            self._submit_span(trace, error)
        if self._owns_trace:
            if self._trace_only():
                trace.metadata.update(self.step.metadata)
            forget_prompt_version_of(trace)
            end_trace(trace, self._started, error)

    def _submit_span(self, trace: ActiveTrace, error: BaseException | None) -> None:
        step = self.step
        assert trace.writer is not None and step.id is not None
        assert self._started_at is not None
        capture = trace.capture_content
        trace.writer.submit(
            SpanRecord(
                id=step.id,
                trace_id=trace.id,
                parent_id=self._parent_id,
                name=self.name,
                kind=self.kind,
                started_at=self._started_at,
                status="completed" if error is None else "error",
                completed_at=time.time(),
                duration_ms=(time.perf_counter() - self._started) * 1000,
                error=None if error is None else error_message(error),
                input=snapshot(step.input) if capture else None,
                output=snapshot(step.output) if capture else None,
                metadata=dict(step.metadata),
            )
        )


class trace(_Block):
    """Group everything inside into one trace, or one step of the current trace.

    ::

        with trace("strategy_analysis", metadata={"strategy_id": 42}):
            client.chat.completions.create(...)

        @trace("nightly_report")
        def nightly_report(): ...

        async with trace("pipeline"): ...

    The outermost ``trace`` of a context makes a trace: ``running`` when it
    starts, then ``completed``, or ``error`` with the message when the block
    raises (the exception propagates unchanged). A ``trace`` inside another
    one is a span of kind ``custom`` named ``name``, a child of the current
    span, so a pipeline reads as one tree.
    """

    def __init__(self, name: str, metadata: Mapping[str, Any] | None = None) -> None:
        super().__init__(name, metadata=metadata)

    def _fresh(self) -> _Block:
        return type(self)(self.name, self._metadata)

    def _trace_only(self) -> bool:
        return True

    def _open_trace(self) -> ActiveTrace:
        return start_trace(self.name, self._metadata, announce=True)


class span(_Block):
    """A custom step of the current trace (outside any: of an ``auto:<name>`` trace).

    ::

        with span("retrieve_docs", input={"q": q}) as s:
            s.output = docs

    Also a decorator, for sync and async functions.
    """


class tool(_Block):
    """Record the app's own execution of a tool: a span of kind ``tool``
    with the call's arguments (by parameter name) as input and the return
    value as output. An exception is recorded and propagates unchanged.

    ::

        @tool("lookup_price")
        def lookup_price(symbol: str) -> float: ...
    """

    kind = "tool"

    def __init__(self, name: str) -> None:
        super().__init__(name, metadata={"gen_ai.tool.name": name})

    def _fresh(self) -> _Block:
        return type(self)(self.name)

    def _before_call(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
        try:
            self.step.input = _arguments(fn, args, kwargs)
        except Exception:
            log_recorder_error()

    def _result(self, result: Any) -> Any:
        return result


def _arguments(fn: Callable[..., Any], args: Any, kwargs: Any) -> dict[str, Any]:
    """The call's arguments by parameter name, as the model would have sent them."""
    try:
        bound = _signature(fn).bind(*args, **kwargs)
    except TypeError:
        return {"args": list(args), **kwargs}
    return dict(bound.arguments)


@functools.lru_cache(maxsize=256)
def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(fn)
