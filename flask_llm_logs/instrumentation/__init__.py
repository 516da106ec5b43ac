"""Automatic spans for the LLM calls an app makes through the SDKs it uses.

Each supported SDK has a module here that declares its patch points as data
and the hooks that make a call a span, as its ``PATCHER`` (see
:mod:`.patching`), and records through the one recorder. :func:`instrument`
runs at ``init_app`` when ``LLM_LOGS_AUTO_INSTRUMENT`` is on, for the SDKs
``LLM_LOGS_INSTRUMENT`` names (by default every supported SDK that is
installed); :func:`uninstrument` puts them all back. An SDK is imported only
when it is instrumented, so ``import flask_llm_logs`` stays light and works
with none of them installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable
from types import ModuleType

from ..config import ConfigurationError

#: The SDKs that can be recorded, by the name ``LLM_LOGS_INSTRUMENT`` uses:
#: the SDK's top-level package, and the module here that patches it.
SDKS: dict[str, tuple[str, str]] = {
    "openai": ("openai", __name__ + ".openai"),
    "anthropic": ("anthropic", __name__ + ".anthropic"),
    "litellm": ("litellm", __name__ + ".litellm"),
    "google": ("google.genai", __name__ + ".google"),
}


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(SDKS[name][0]) is not None
    except ModuleNotFoundError:  # ``google.genai`` without any ``google`` package
        return False


def check_sdks(names: Iterable[str] | None) -> tuple[str, ...]:
    """The SDKs ``LLM_LOGS_INSTRUMENT`` asks for, checked at ``init_app``.

    ``None`` is every supported SDK that is installed. A name this package
    does not support, or an SDK that is not installed, is refused: a typo must
    not silently leave an SDK's calls unrecorded.
    """
    key = "LLM_LOGS_INSTRUMENT"
    if names is None:
        return tuple(name for name in SDKS if _installed(name))
    chosen = tuple(names)
    for name in chosen:
        if name not in SDKS:
            raise ConfigurationError(
                key, f"unknown SDK {name!r}; supported: {', '.join(sorted(SDKS))}"
            )
        if not _installed(name):
            raise ConfigurationError(
                key, f'{name!r} is not installed: pip install "flask-llm-logs[{name}]"'
            )
    return chosen


def instrument(names: Iterable[str] | None = None) -> None:
    """Record every call of the SDKs ``names`` (default: every supported SDK that is
    installed). Idempotent."""
    for name in check_sdks(names):
        importlib.import_module(SDKS[name][1]).PATCHER.patch()


def _loaded(name: str) -> ModuleType | None:
    """The integration module of SDK ``name``, if it was ever imported (never imports it)."""
    return sys.modules.get(SDKS[name][1])


def uninstrument() -> None:
    """Put every patched SDK's original methods back; calls are no longer recorded.

    Clients made before keep working; :func:`instrument` (or another
    ``init_app``) patches again.
    """
    for name in SDKS:
        module = _loaded(name)
        if module is not None:
            module.PATCHER.unpatch()


def is_instrumented(name: str = "openai") -> bool:
    """Whether calls of SDK ``name`` record their own span, so a caller need not record one too.

    Checked without importing the SDK when it was never patched.
    """
    module = _loaded(name)
    return module is not None and bool(module.PATCHER.is_patched())


__all__ = ["SDKS", "check_sdks", "instrument", "is_instrumented", "uninstrument"]
