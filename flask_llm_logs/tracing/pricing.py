"""Cost of a call from its token usage, through ``genai-prices``.

A price lookup costs around 150 µs, so it runs in the background writer or in
batch reconciliation, never on the thread of the host's LLM call. An unknown
model or provider gives ``None``: a missing cost is honest, a guessed one is not.
"""

from __future__ import annotations

import functools

from genai_prices import Usage
from genai_prices import calc_price
from genai_prices import data_snapshot

from ..config import ConfigurationError

#: The Batch API bills half the synchronous price.
BATCH_DISCOUNT = 0.5


def synchronous_price(batch_cost: float) -> float:
    """What calls priced at the batch discount would have cost one by one."""
    return batch_cost / BATCH_DISCOUNT


@functools.lru_cache(maxsize=4096)
def cost_of(
    model: str | None,
    provider: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    cached_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    *,
    batch: bool = False,
) -> float | None:
    """The price in USD, or ``None`` when the model or provider is unknown.

    ``input_tokens`` includes ``cached_tokens`` and ``cache_write_tokens``,
    as genai-prices counts them; cache reads and writes are billed at the
    provider's cache-read and cache-write rates.
    """
    if not model or not provider or (input_tokens is None and output_tokens is None):
        return None
    usage = Usage(
        input_tokens=input_tokens or 0,
        output_tokens=output_tokens or 0,
        cache_read_tokens=cached_tokens or None,
        cache_write_tokens=cache_write_tokens or None,
    )
    try:
        price = calc_price(usage, model_ref=model, provider_id=provider)
    except LookupError:
        return None
    total = float(price.total_price)
    return total * BATCH_DISCOUNT if batch else total


def check_pricing_provider(name: str | None) -> None:
    """Refuse a ``LLM_LOGS_PRICING_PROVIDER`` genai-prices does not know (at ``init_app``).

    An unknown one would only leave every cost empty, with nothing said.
    Matched as :func:`calc_price` matches it: ids and their aliases, any case.
    """
    if name is None:
        return
    providers = data_snapshot.get_snapshot().providers
    if not isinstance(name, str) or data_snapshot.find_provider_by_id(providers, name) is None:
        known = ", ".join(sorted(provider.id for provider in providers))
        raise ConfigurationError(
            "LLM_LOGS_PRICING_PROVIDER",
            f"{name!r} is not a genai-prices provider id, or None; known: {known}",
        )
