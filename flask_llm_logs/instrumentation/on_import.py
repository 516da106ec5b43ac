"""Patching an SDK when the app first imports it, rather than importing it to patch it.

``init_app`` used to import every installed SDK to patch it: ``import
litellm`` alone takes seconds, paid by every process that starts the app,
for SDKs it may never call. Now an SDK the app has already imported is
patched at once; for the others :func:`patch_on_import` puts a finder first
on ``sys.meta_path`` that, when the SDK's package is imported, wraps its
loader so that the SDK is patched right after the package has run, before
the ``import`` statement returns. The import system holds the package's
module lock meanwhile, so another thread importing it waits until it is
patched: no call is ever made through an unpatched SDK. Each SDK is patched
once; the finder leaves ``sys.meta_path`` when no SDK waits any more, or at
:func:`forget`.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from ..log import get_logger


class _Waiting:
    """What to do for one package not imported yet: before it runs, and after."""

    __slots__ = ("before", "patch")

    def __init__(self, patch: Callable[[], None], before: Callable[[], None] | None) -> None:
        self.patch = patch
        self.before = before


class PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: hands an awaited package's spec, found by the finders
    after it, to a loader that patches the SDK once the package has run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Package name -> what to do when it is imported.
        self._waiting: dict[str, _Waiting] = {}

    def wait_for(
        self, package: str, patch: Callable[[], None], before: Callable[[], None] | None
    ) -> None:
        """Run ``patch`` once ``package`` is imported (at once if it is already)."""
        with self._lock:
            self._waiting[package] = _Waiting(patch, before)
            if self not in sys.meta_path:
                # A new list, never the one an import in another thread is walking.
                sys.meta_path = [self, *sys.meta_path]
        if package in sys.modules:  # imported while we registered
            self.run(package)

    def is_waiting(self, package: str) -> bool:
        return package in self._waiting

    def take(self, package: str) -> _Waiting | None:
        """Claim ``package``'s patch (once: a second claim gets ``None``)."""
        with self._lock:
            waiting = self._waiting.pop(package, None)
            if not self._waiting:
                self._leave()
            return waiting

    def run(self, package: str) -> None:
        """Patch ``package``'s SDK unless it was already; a failure is logged, never raised
        into the host's ``import``."""
        waiting = self.take(package)
        if waiting is None:
            return
        try:
            waiting.patch()
        except Exception:
            get_logger().warning(
                "flask-llm-logs: could not patch %s; its calls are not recorded",
                package,
                exc_info=True,
            )

    def forget(self) -> None:
        """Patch nothing more on import (``uninstrument``)."""
        with self._lock:
            self._waiting.clear()
            self._leave()

    def _leave(self) -> None:
        if self in sys.meta_path:
            sys.meta_path = [finder for finder in sys.meta_path if finder is not self]

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        waiting = self._waiting.get(fullname)
        if waiting is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return None  # not a package we can follow in; the next finders handle it
        if waiting.before is not None:
            waiting.before()
        spec.loader = _PatchAfterRunning(loader, self, fullname)
        return spec


class _PatchAfterRunning(importlib.abc.Loader):
    """The package's own loader, which then patches the SDK; the module keeps
    its own loader (this one is put back once the package has run)."""

    def __init__(self, loader: Any, finder: PatchOnImport, package: str) -> None:
        self._loader = loader
        self._finder = finder
        self._package = package

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        try:
            self._loader.exec_module(module)
        finally:
            module.__loader__ = self._loader
            if module.__spec__ is not None:
                module.__spec__.loader = self._loader
        self._finder.run(self._package)

    def __getattr__(self, name: str) -> Any:
        # What else the import system or the package asks of its loader
        # while it runs (``get_resource_reader``, ``is_package``).
        return getattr(self._loader, name)


#: The one finder: several apps' ``init_app`` share it.
FINDER = PatchOnImport()


def patch_on_import(
    package: str, patch: Callable[[], None], before: Callable[[], None] | None = None
) -> None:
    """Run ``patch`` now if ``package`` is imported, else right after its first import
    (and ``before``, if given, right before it)."""
    if package in sys.modules:
        patch()
    else:
        FINDER.wait_for(package, patch, before)
