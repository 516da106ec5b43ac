"""Batch backends, selected by ``LLM_LOGS_BATCH_PROVIDER``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from .base import TERMINAL_STATUSES
from .base import BatchAdapter
from .base import Message
from .base import Outcome
from .base import ProviderBatch
from .openai_responses import OpenAIResponsesAdapter

if TYPE_CHECKING:
    from ...extension import State

#: Adapter factories by provider name; each takes the app's ``LLM_LOGS_OPENAI_CLIENT``.
ADAPTERS: dict[str, Callable[[Callable[[], Any] | None], BatchAdapter]] = {
    OpenAIResponsesAdapter.name: OpenAIResponsesAdapter,
}


def make_adapter(state: State) -> BatchAdapter:
    """A fresh adapter for the app's configured provider; close it after use."""
    return ADAPTERS[state.settings.batch_provider](state.settings.openai_client)


__all__ = [
    "ADAPTERS",
    "TERMINAL_STATUSES",
    "BatchAdapter",
    "Message",
    "OpenAIResponsesAdapter",
    "Outcome",
    "ProviderBatch",
    "make_adapter",
]
