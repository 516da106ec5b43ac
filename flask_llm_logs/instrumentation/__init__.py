"""Automatic spans for the LLM calls an app makes through the ``openai`` SDK.

:func:`instrument` runs at ``init_app`` when ``LLM_LOGS_AUTO_INSTRUMENT`` is
on; :func:`uninstrument` puts the SDK back as it was. The SDK is imported
only when instrumenting, so ``import flask_llm_logs`` stays light.
"""

from __future__ import annotations

import sys

_PATCHES = __name__ + ".openai"


def instrument() -> None:
    """Record every ``openai`` chat, responses and embeddings call. Idempotent."""
    from .openai import instrument

    instrument()


def uninstrument() -> None:
    """Put the ``openai`` SDK's original methods back; calls are no longer recorded.

    Clients made before keep working; :func:`instrument` (or another
    ``init_app``) patches again.
    """
    patches = sys.modules.get(_PATCHES)
    if patches is not None:
        patches.uninstrument()


def is_instrumented() -> bool:
    """Whether SDK calls record their own span, so a caller need not record one too.

    Checked without importing the SDK when it was never patched.
    """
    patches = sys.modules.get(_PATCHES)
    return patches is not None and bool(patches.is_instrumented())


__all__ = ["instrument", "is_instrumented", "uninstrument"]
