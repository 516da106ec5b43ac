"""Batch backends, selected by ``LLM_LOGS_BATCH_PROVIDER``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from ...config import ConfigurationError
from .base import TERMINAL_STATUSES
from .base import BatchAdapter
from .base import BatchNotFound
from .base import Message
from .base import ProviderBatch
from .base import RequestOutcome
from .openai_responses import OpenAIResponsesAdapter

if TYPE_CHECKING:
    from ...state import State

#: Adapter factories by provider name; each takes the app's ``LLM_LOGS_OPENAI_CLIENT``.
ADAPTERS: dict[str, Callable[[Callable[[], Any] | None], BatchAdapter]] = {
    OpenAIResponsesAdapter.name: OpenAIResponsesAdapter,
}


def check_provider(name: str) -> None:
    """Refuse a ``LLM_LOGS_BATCH_PROVIDER`` the registry does not have (at ``init_app``)."""
    if name not in ADAPTERS:
        raise ConfigurationError(
            "LLM_LOGS_BATCH_PROVIDER",
            f"unknown batch provider {name!r}; known: {', '.join(ADAPTERS)}",
        )


def make_adapter(state: State) -> BatchAdapter:
    """A fresh adapter for the app's configured provider; close it after use."""
    return ADAPTERS[state.settings.batch_provider](state.settings.openai_client)


__all__ = [
    "ADAPTERS",
    "TERMINAL_STATUSES",
    "BatchAdapter",
    "BatchNotFound",
    "Message",
    "OpenAIResponsesAdapter",
    "ProviderBatch",
    "RequestOutcome",
    "check_provider",
    "make_adapter",
]
