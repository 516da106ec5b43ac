"""Patching an SDK's methods, declared as data: what every SDK integration shares.

An integration (``openai.py``, and one module per other SDK) lists its
:class:`PatchPoint` s and gives a :class:`Hooks` that turns one call into a
span. :class:`Patcher` wraps the methods, puts the originals back, and keeps
the rule that one LLM call is one span: a call made while another
instrumented call runs on the same context (LiteLLM calling the ``openai``
SDK underneath, an SDK helper calling its own ``create``) goes straight to
the original method, unrecorded.

Every hook runs guarded: a failure of ours is logged by
:func:`~flask_llm_logs.tracing.recorder.log_recorder_error` and the host's
call goes on, its result and exceptions unchanged.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import importlib
import threading
from collections.abc import Callable
from typing import Any
from typing import Generic
from typing import Protocol
from typing import TypeVar

from ..tracing.recorder import log_recorder_error

#: The operation a patch point's calls are read as (the integration's own type).
Op = TypeVar("Op")
#: The same, as :class:`Hooks` sees it: it only receives operations.
OpIn = TypeVar("OpIn", contravariant=True)
#: What an integration's ``start`` returns: its record of one call in flight.
Call = TypeVar("Call")


@dataclasses.dataclass(frozen=True)
class PatchPoint(Generic[Op]):
    """One SDK method to wrap: where it is, how to read its calls, whether it is async.

    ``cls`` ``None`` names a module-level function (LiteLLM's ``completion``):
    its calls have no resource object, the hooks get ``None``.
    """

    module: str
    cls: str | None
    method: str
    operation: Op
    is_async: bool = False


class Hooks(Protocol[OpIn, Call]):
    """What an integration does around one call of a patched method."""

    def start(
        self, resource: Any, operation: OpIn, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Call | None:
        """Before the request: the call's span in flight, or ``None`` to record nothing."""

    def succeeded(self, call: Call, result: Any) -> Any:
        """The method returned ``result`` (a stream is watched in place, recorded at its end).

        Returns ``None``: the caller gets ``result``. A stream the SDK returns
        as a bare generator cannot be watched in place; the hook returns the
        generator that watches it, which the caller gets instead.
        """

    def failed(self, call: Call, error: BaseException) -> None:
        """The method raised ``error``; it propagates unchanged after this."""


#: Set while an instrumented call runs: calls inside it are not recorded again.
_inside_call: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "flask_llm_logs_inside_call", default=False
)


class Patcher(Generic[Op, Call]):
    """The patch points of one SDK, and their original methods while patched."""

    def __init__(self, points: tuple[PatchPoint[Op], ...], hooks: Hooks[Op, Call]) -> None:
        self.points = points
        self.hooks = hooks
        self._lock = threading.Lock()
        #: The original methods, by (class or module, name), while patched.
        self._originals: dict[tuple[object, str], Callable[..., Any]] = {}

    def patch(self) -> None:
        """Wrap every method the installed SDK has; idempotent (patched methods stay patched)."""
        with self._lock:
            for point in self.points:
                try:
                    owner: object = importlib.import_module(point.module)
                    if point.cls is not None:
                        owner = getattr(owner, point.cls)
                    original = vars(owner)[point.method]
                except (ImportError, AttributeError, KeyError):
                    continue  # an SDK version without this method
                if (owner, point.method) in self._originals:
                    continue
                wrap = self._async_wrapper if point.is_async else self._sync_wrapper
                traced = wrap(original, point.operation, point.cls is not None)
                setattr(owner, point.method, traced)
                self._originals[(owner, point.method)] = original

    def unpatch(self) -> None:
        """Put the SDK's original methods back; calls are no longer recorded."""
        with self._lock:
            for (owner, method), original in self._originals.items():
                setattr(owner, method, original)
            self._originals.clear()

    def is_patched(self) -> bool:
        return bool(self._originals)

    # The wrappers run on every LLM call of the host: they bind what they use
    # once, when the method is patched, and keep the guards inline (each
    # attribute look-up or call costs several times its warm price between
    # two calls of the SDK, see docs/performance.rst).

    def _sync_wrapper(
        self, original: Callable[..., Any], operation: Op, is_method: bool
    ) -> Callable[..., Any]:
        start, succeeded, failed = self.hooks.start, self.hooks.succeeded, self.hooks.failed
        inside = _inside_call

        @functools.wraps(original)
        def traced(*args: Any, **kwargs: Any) -> Any:
            call = None
            if not inside.get():
                try:
                    call = start(args[0] if is_method else None, operation, args, kwargs)
                except Exception:
                    log_recorder_error()
            if call is None:
                return original(*args, **kwargs)
            token = inside.set(True)
            try:
                result = original(*args, **kwargs)
            except BaseException as error:
                inside.reset(token)
                try:
                    failed(call, error)
                except Exception:
                    log_recorder_error()
                raise
            inside.reset(token)
            try:
                replaced = succeeded(call, result)
            except Exception:
                log_recorder_error()
                return result
            return result if replaced is None else replaced

        return traced

    def _async_wrapper(
        self, original: Callable[..., Any], operation: Op, is_method: bool
    ) -> Callable[..., Any]:
        start, succeeded, failed = self.hooks.start, self.hooks.succeeded, self.hooks.failed
        inside = _inside_call

        @functools.wraps(original)
        async def traced(*args: Any, **kwargs: Any) -> Any:
            call = None
            if not inside.get():
                try:
                    call = start(args[0] if is_method else None, operation, args, kwargs)
                except Exception:
                    log_recorder_error()
            if call is None:
                return await original(*args, **kwargs)
            token = inside.set(True)
            try:
                result = await original(*args, **kwargs)
            except BaseException as error:
                inside.reset(token)
                try:
                    failed(call, error)
                except Exception:
                    log_recorder_error()
                raise
            inside.reset(token)
            try:
                replaced = succeeded(call, result)
            except Exception:
                log_recorder_error()
                return result
            return result if replaced is None else replaced

        return traced
