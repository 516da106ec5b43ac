"""``trace``, ``span`` and ``tool``: the app's own steps in the trace tree.

Each block builds immutable records and hands them to the background
writer; nothing here touches the database, serializes or prices. Every
line that records is guarded: a bug here is logged, never raised into the
host's code, and the host's own exceptions pass through unchanged.
"""

from __future__ import annotations

import functools
import inspect
import math
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterable
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
from .recorder import end_trace
from .recorder import error_message
from .recorder import log_recorder_error
from .recorder import recording
from .recorder import snapshot
from .recorder import start_trace
from .recorder import tag_list
from .records import ScoreRecord
from .records import SpanRecord
from .request_trace import automatic_trace
from .request_trace import current_trace

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
            self._trace, self._owns_trace = self._open_trace()
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

    def _open_trace(self) -> tuple[ActiveTrace, bool]:
        """The trace of an outermost block, and whether the block ends it."""
        return automatic_trace(self.name, recording())

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
    raises (the exception propagates unchanged). ``user_id`` and
    ``session_id`` win over those the app's ``LLM_LOGS_USER_ID`` and
    ``LLM_LOGS_SESSION_ID`` give; see :func:`update_current_trace` to set
    them later. A ``trace`` inside another one is a span of kind ``custom``
    named ``name``, a child of the current span, so a pipeline reads as one
    tree; its user, session and tags are then the outer trace's.
    """

    def __init__(
        self,
        name: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        user_id: str | int | None = None,
        session_id: str | int | None = None,
        tags: Iterable[str] | None = None,
    ) -> None:
        super().__init__(name, metadata=metadata)
        self._user_id = user_id
        self._session_id = session_id
        self._tags = tag_list(tags)

    def _fresh(self) -> _Block:
        return type(self)(
            self.name,
            metadata=self._metadata,
            user_id=self._user_id,
            session_id=self._session_id,
            tags=self._tags,
        )

    def _trace_only(self) -> bool:
        return True

    def _open_trace(self) -> tuple[ActiveTrace, bool]:
        trace = start_trace(
            self.name,
            self._metadata,
            announce=True,
            user_id=self._user_id,
            session_id=self._session_id,
            tags=self._tags,
        )
        return trace, True


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


def update_current_trace(
    *,
    user_id: str | int | None = None,
    session_id: str | int | None = None,
    tags: Iterable[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Change the current trace from anywhere inside it: set its user or
    session, add ``tags``, merge ``metadata`` into its own.

    The current trace is the open ``trace`` (or the automatic trace of the
    open ``span``), else, inside a request with ``LLM_LOGS_AUTO_TRACE =
    "request"``, the request's automatic trace. Elsewhere there is none and
    nothing changes. The values are stored when the trace ends.
    """
    new_tags = tag_list(tags)
    trace = current_trace()
    if trace is None or trace.writer is None:
        return
    if user_id is not None:
        trace.user_id = str(user_id)
    if session_id is not None:
        trace.session_id = str(session_id)
    trace.tags.extend(tag for tag in new_tags if tag not in trace.tags)
    if metadata:
        trace.metadata.update(metadata)


def current_trace_id() -> str | None:
    """The id of the current trace (see :func:`update_current_trace`), to score it later.

    ``None`` outside any trace, or when nothing is recorded.
    """
    trace = current_trace()
    return None if trace is None or trace.writer is None else str(trace.id)


#: The sizes of the scores' text columns.
_SCORE_TEXT_LIMITS = {"name": 255, "label": 255, "source": 50, "author": 255}


def score(
    name: str,
    value: float | None = None,
    *,
    label: str | None = None,
    trace_id: str | uuid.UUID | None = None,
    span_id: str | uuid.UUID | None = None,
    comment: str | None = None,
    source: str = "api",
    author: str | None = None,
) -> None:
    """Judge a trace, or one span of it: a number (``value``), a category (``label``), or both.

    ::

        flask_llm_logs.score("helpful", 1, trace_id=trace_id, comment="thumbs up", source="user")

    Without ``trace_id``, the current trace (see :func:`current_trace_id`).
    The score is stored by the background writer, never blocking the
    caller; one sent before its trace is stored shows once the trace is.

    :raises ValueError: naming the argument, and storing nothing, for an
        empty ``name``, a ``value`` that is not a finite number, neither
        ``value`` nor ``label``, an id that is not a trace or span id, or no
        trace to score.
    """
    texts = {"name": name, "label": label, "source": source, "author": author}
    for argument, text in texts.items():
        _check_text(argument, text, required=argument in ("name", "source"))
    if comment is not None and not isinstance(comment, str):
        raise ValueError(f"comment: must be a string, got {comment!r}")
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"value: must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"value: must be a finite number, got {value!r}")
    elif label is None:
        raise ValueError("value: give a value or a label (or both); got neither")
    span = _score_id("span_id", span_id)
    trace = _score_id("trace_id", trace_id)
    writer = recording().writer
    # A span named without its trace (a reviewer's label, long after the call):
    # the writer reads the trace from the stored span. The current trace, if
    # any, is its guess for a span not stored yet, and routes the score to the
    # writer thread that stores that trace's spans, in order.
    span_decides = trace is None and span is not None
    if trace is None:
        current = current_trace()
        if current is None and not span_decides:
            raise ValueError(
                "trace_id: no current trace to score; pass the trace_id"
                " (flask_llm_logs.current_trace_id() inside the trace)"
            )
        if current is not None:
            trace, writer = current.id, current.writer
    if writer is None:
        return
    writer.submit(
        ScoreRecord(
            id=new_id(),
            trace_id=trace,
            span_id=span,
            span_decides=span_decides,
            name=name,
            value=None if value is None else float(value),
            label=label,
            comment=comment,
            source=source,
            author=author,
            created_at=time.time(),
        )
    )


def _check_text(argument: str, text: str | None, *, required: bool) -> None:
    if text is None and not required:
        return
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{argument}: must be a non-empty string, got {text!r}")
    limit = _SCORE_TEXT_LIMITS[argument]
    if len(text) > limit:
        raise ValueError(f"{argument}: at most {limit} characters, got {len(text)}")


def _score_id(argument: str, value: str | uuid.UUID | None) -> uuid.UUID | None:
    """A trace or span id as given to :func:`score`: a UUID, or its text."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        kind = argument.removesuffix("_id")
        raise ValueError(f"{argument}: not a {kind} id: {value!r}") from None
