"""The per-process prompt cache: immutable snapshots with a short time to live.

A hit is a dict lookup and a clock read, which is what lets a cached
``Prompt.load(slug).build(...)`` stay in the tens of microseconds. Other
processes learn about a save only when their entry expires, so they serve the
previous version for at most ``LLM_LOGS_PROMPT_CACHE_TTL`` seconds.

A slug may have several snapshots, one per *variant* (``None`` for the
latest version, a label's name for the version it names): invalidating the
slug drops all of them, so a save and a label move reach every variant.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic
from typing import TypeVar

T = TypeVar("T")


class SnapshotCache(Generic[T]):
    """Maps a slug (and a variant of it) to a snapshot for ``ttl()`` seconds; a TTL of 0
    turns caching off.

    ``ttl`` is called on every :meth:`put`, so a changed setting applies to
    every entry cached from then on.

    A load that was running while the same process saved must not put the
    older snapshot back: :meth:`generation` is read before the load and
    :meth:`put` drops the snapshot if anything was invalidated since.
    """

    def __init__(self, ttl: Callable[[], float]) -> None:
        self.ttl = ttl
        self._entries: dict[str, dict[str | None, tuple[float, T]]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, key: str, variant: str | None = None) -> T | None:
        variants = self._entries.get(key)
        entry = None if variants is None else variants.get(variant)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def generation(self) -> int:
        return self._generation

    def put(self, key: str, value: T, generation: int, variant: str | None = None) -> None:
        ttl = self.ttl()
        if ttl <= 0:
            return
        with self._lock:
            if generation == self._generation:
                variants = self._entries.setdefault(key, {})
                variants[variant] = (time.monotonic() + ttl, value)

    def invalidate(self, *keys: str) -> None:
        with self._lock:
            self._generation += 1
            for key in keys:
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
