"""Automatic spans for the LLM calls an app makes through the SDKs it uses.

Each supported SDK has a module here that declares its patch points as data
and the hooks that make a call a span, as its ``PATCHER`` (see
:mod:`.patching`), and records through the one recorder. :func:`instrument`
runs at ``init_app`` when ``LLM_LOGS_AUTO_INSTRUMENT`` is on, for the SDKs
``LLM_LOGS_INSTRUMENT`` names (by default every supported SDK that is
installed); :func:`uninstrument` puts them all back. This package never
imports an SDK itself: an SDK the app has imported is patched at once, the
others when the app first imports them (see :mod:`.on_import`), so
``init_app`` does not pay for SDKs the app does not use, and ``import
flask_llm_logs`` works with none of them installed.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from collections.abc import Iterable
from types import ModuleType

from ..config import ConfigurationError
from .on_import import FINDER
from .on_import import patch_on_import

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


def litellm_offline() -> None:
    """``import litellm`` fetches a price map from the internet unless
    ``LITELLM_LOCAL_MODEL_COST_MAP`` is set: set it, unless the app did, before
    an import of LiteLLM this package makes or sees first. An app's start must
    not wait on, or fail for, the network."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


#: What must be done before an SDK's first import, by SDK.
_BEFORE_IMPORT: dict[str, Callable[[], None]] = {"litellm": litellm_offline}


def _patch(name: str) -> None:
    importlib.import_module(SDKS[name][1]).PATCHER.patch()


def instrument(names: Iterable[str] | None = None) -> None:
    """Record every call of the SDKs ``names`` (default: every supported SDK that is
    installed): those imported already at once, the others when first imported.
    Idempotent."""
    for name in check_sdks(names):
        package = SDKS[name][0]
        patch_on_import(package, functools.partial(_patch, name), _BEFORE_IMPORT.get(name))


def _loaded(name: str) -> ModuleType | None:
    """The integration module of SDK ``name``, if it was ever imported (never imports it)."""
    return sys.modules.get(SDKS[name][1])


def uninstrument() -> None:
    """Put every patched SDK's original methods back; calls are no longer recorded.

    Clients made before keep working; :func:`instrument` (or another
    ``init_app``) patches again. An SDK not imported yet will not be patched
    when it is.
    """
    FINDER.forget()
    for name in SDKS:
        module = _loaded(name)
        if module is not None:
            module.PATCHER.unpatch()


def is_instrumented(name: str = "openai") -> bool:
    """Whether calls of SDK ``name`` record their own span, so a caller need not record one too.

    Checked without importing the SDK. One not imported yet counts once it
    is to be patched on import: a call has to import it first.
    """
    if FINDER.is_waiting(SDKS[name][0]):
        return True
    module = _loaded(name)
    return module is not None and bool(module.PATCHER.is_patched())


__all__ = ["SDKS", "check_sdks", "instrument", "is_instrumented", "uninstrument"]
