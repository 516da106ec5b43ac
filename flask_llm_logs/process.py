"""Process-wide hooks (fork, exit, garbage collection), installed by ``init_app``.

``import flask_llm_logs`` must not change the host's process: a module
that needs to act after a fork, at exit or around a garbage collection
adds its function to a list here, and the interpreter hears of those lists
only when the first app is initialised (:func:`install_hooks`).
"""

from __future__ import annotations

import atexit
import gc
import os
import threading
from collections.abc import Callable
from typing import Any

Hook = Callable[[], None]

_after_fork_in_child: list[Callable[[], None]] = []
_at_exit: list[Callable[[], None]] = []
_on_gc: list[Callable[[str, dict[str, Any]], None]] = []

_lock = threading.Lock()
_installed = False


def after_fork_in_child(hook: Hook) -> Hook:
    """Run ``hook`` in a forked child (fresh locks, threads, connections). A decorator."""
    _after_fork_in_child.append(hook)
    return hook


def at_exit(hook: Hook) -> Hook:
    """Run ``hook`` when the interpreter exits (store what is queued). A decorator."""
    _at_exit.append(hook)
    return hook


def on_gc(hook: Callable[[str, dict[str, Any]], None]) -> Callable[[str, dict[str, Any]], None]:
    """Call ``hook(phase, info)`` around every garbage collection. A decorator."""
    _on_gc.append(hook)
    return hook


def install_hooks() -> None:
    """Tell the interpreter about the hooks, once per process; idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
        os.register_at_fork(after_in_child=_run_after_fork_in_child)
    atexit.register(_run_at_exit)
    gc.callbacks.append(_run_on_gc)


def _run_after_fork_in_child() -> None:
    for hook in _after_fork_in_child:
        hook()


def _run_at_exit() -> None:
    for hook in _at_exit:
        hook()


def _run_on_gc(phase: str, info: dict[str, Any]) -> None:
    for hook in _on_gc:
        hook(phase, info)
