"""Where the current trace and span live: one :class:`contextvars.ContextVar`.

A context variable follows the code that runs a request: each thread starts
with its own, and each asyncio task starts with a copy of its creator's
(``gather``, ``TaskGroup``, ``create_task``), so concurrent requests never
see each other's trace. Threads started by the host do not inherit it;
:func:`copy_context_to` carries it into executors and threads.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import ParamSpec
from typing import TypeVar

if TYPE_CHECKING:
    from .writer import Writer

P = ParamSpec("P")
R = TypeVar("R")


@dataclasses.dataclass(eq=False, slots=True)
class ActiveTrace:
    """The outermost trace of a context, shared by everything nested in it.

    It is only changed by :func:`link_prompt_version` and by
    ``update_current_trace`` (user, session, tags, metadata); the rest is
    fixed at the start. ``writer`` is ``None`` when the trace is not recorded
    (recording off, or the extension not set up), so nothing inside records.
    """

    id: uuid.UUID
    name: str
    started_at: float  # time.time(), see ``records``
    metadata: dict[str, Any]
    writer: Writer | None
    capture_content: bool
    #: Whether the SDK's calls are recorded in it (the app's ``LLM_LOGS_AUTO_INSTRUMENT``).
    llm_calls: bool = True
    prompt_version_id: int | None = None
    user_id: str | None = None
    session_id: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    #: ``LLM_LOGS_ENVIRONMENT``; ``None`` when the trace is not recorded.
    environment: str | None = None
    #: The host's OpenTelemetry span active when the trace started, see :mod:`.apm`.
    apm_trace_id: str | None = None
    apm_span_id: str | None = None
    #: A request's trace whose ``running`` record is not sent yet: the first of
    #: its spans sent carries it (``SpanRecord.announces``), whichever call
    #: made the trace, so no span of it is stored before its row.
    unannounced: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Frame:
    """What is current: a trace, and the span new spans become children of."""

    trace: ActiveTrace
    span_id: uuid.UUID | None


_frame: contextvars.ContextVar[Frame | None] = contextvars.ContextVar(
    "flask_llm_logs_frame", default=None
)

#: A prompt version built in this context and not yet used by an LLM call.
_pending_prompt_version: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "flask_llm_logs_pending_prompt_version", default=None
)
#: The variables that version was built with (read only when a version is pending).
_pending_prompt_variables: contextvars.ContextVar[Mapping[str, Any] | None] = (
    contextvars.ContextVar("flask_llm_logs_pending_prompt_variables", default=None)
)


#: What is current, or ``None``: the variable's own ``get`` (a Python function
#: around it would cost a call on every LLM call).
current_frame: Callable[[], Frame | None] = _frame.get


#: The prompt version :func:`take_prompt_version` would take, left pending: the
#: variable's own ``get``, asked on every LLM call (mostly ``None``).
pending_prompt_version: Callable[[], int | None] = _pending_prompt_version.get


def enter(frame: Frame) -> contextvars.Token[Frame | None]:
    return _frame.set(frame)


def leave(token: contextvars.Token[Frame | None]) -> None:
    try:
        _frame.reset(token)
    except ValueError:
        # Left in another context than it was entered in (a generator
        # suspended across tasks): make sure this context shows no stale trace.
        _frame.set(None)


def link_prompt_version(prompt_version_id: int, variables: Mapping[str, Any] | None = None) -> None:
    """Record that the prompt version ``prompt_version_id`` is used from here on.

    Called by :meth:`Prompt.build`. Inside a trace it becomes the trace's
    ``prompt_version_id``; in any case the next LLM call made in this
    context stores it in its span's metadata (``prompt_version_id``), and an
    LLM call outside any trace gives it to its automatic trace. That call
    also stores ``variables`` (``prompt_variables``) if it keeps content, so
    the UI can run the same build again in its playground.
    """
    frame = _frame.get()
    if frame is not None:
        frame.trace.prompt_version_id = prompt_version_id
    _pending_prompt_version.set(prompt_version_id)
    _pending_prompt_variables.set(variables)


def take_prompt_version() -> int | None:
    """The prompt version linked since the last LLM call, forgotten once taken.

    Its variables stay for :func:`take_prompt_variables`, until the next link.
    """
    version = _pending_prompt_version.get()
    if version is not None:
        _pending_prompt_version.set(None)
    return version


def take_prompt_variables() -> Mapping[str, Any] | None:
    """The variables of the version :func:`take_prompt_version` just gave, forgotten once taken."""
    variables = _pending_prompt_variables.get()
    if variables is not None:
        _pending_prompt_variables.set(None)
    return variables


def forget_prompt_version(error: BaseException | None = None) -> None:
    """Drop a prompt version linked in this request and not used by an LLM call.

    Registered as a request teardown: a sync worker serves request after
    request in one context, so a ``build()`` whose result was never sent
    (a preview, a validation) would otherwise link the next request's
    unrelated LLM call.
    """
    _pending_prompt_version.set(None)
    _pending_prompt_variables.set(None)


def forget_prompt_version_of(trace: ActiveTrace) -> None:
    """Drop the pending link of a prompt version built in ``trace`` and not used there.

    Called when the outermost trace ends: a ``build()`` whose trace made no
    LLM call would otherwise link a later, unrelated call of the same
    request. A version built before the trace began and not used in it
    stays pending, for the call it was built for.
    """
    version = _pending_prompt_version.get()
    if version is not None and version == trace.prompt_version_id:
        _pending_prompt_version.set(None)
        _pending_prompt_variables.set(None)


def copy_context_to(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn``, running in the current trace wherever it is called.

    Threads and ``concurrent.futures`` executors do not carry context
    variables, so spans recorded in a worker would land in automatic traces
    of their own. Wrap the function where the work is handed over::

        with trace("pipeline"):
            with ThreadPoolExecutor() as pool:
                results = list(pool.map(copy_context_to(summarise), documents))

    The context (the trace, and Flask's app context too) is captured when
    ``copy_context_to`` is called; every call runs in its own copy of it, so
    the wrapper can run in many threads at once. ``asyncio.to_thread``
    copies the context itself; ``loop.run_in_executor`` does not.
    """
    context = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_context(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(fn, *args, **kwargs)

    return run_in_context
