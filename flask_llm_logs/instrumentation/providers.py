"""Which provider serves a client's base URL: OpenAI, or the OpenAI-compatible server it is.

Many providers speak OpenAI's API (OpenRouter, DeepSeek, Groq, Together,
Mistral, xAI, Fireworks, Azure OpenAI, Gemini's and Anthropic's compatible
endpoints), so the SDK alone does not say who answered. ``genai-prices``
knows each provider's API URL; naming the provider as it does lets the
writer price the call (``anthropic/claude-sonnet-4`` through OpenRouter has
a cost) without a price table of our own. A local Ollama or vLLM is known by
its default port. Anything else is named by its host, and has no cost.

The first look-up of a URL matches it against every provider's pattern
(a few hundred microseconds); after that it is a dictionary read, by the
URL object's identity and then by its text, so a client made per request
costs the host's call about a microsecond.
"""

from __future__ import annotations

from typing import Any

from genai_prices import data_snapshot

#: Local servers, by the port they listen on unless told otherwise.
LOCAL_SERVERS = {11434: "ollama", 8000: "vllm"}
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})

#: Look-ups kept, at most (clients made per request must not grow them forever).
_CACHE_LIMIT = 1000
#: By the URL object's id, with the object (checked by identity: ids are reused).
_by_object: dict[int, tuple[Any, str]] = {}
#: By the URL's text.
_by_text: dict[str, str] = {}


def provider_of_url(url: Any) -> str:
    """The provider behind ``url``, an ``httpx.URL`` (an SDK client's ``_base_url``)."""
    known = _by_object.get(id(url))
    if known is not None and known[0] is url:
        return known[1]
    text = str(url)
    provider = _by_text.get(text)
    if provider is None:
        provider = _look_up(text, url.host, url.port)
        if len(_by_text) > _CACHE_LIMIT:
            _by_text.clear()
        _by_text[text] = provider
    if len(_by_object) > _CACHE_LIMIT:
        _by_object.clear()
    _by_object[id(url)] = (url, provider)
    return provider


def _look_up(text: str, host: str, port: int | None) -> str:
    if host == "api.openai.com":
        return "openai"
    try:
        return str(data_snapshot.get_snapshot().find_provider(None, None, text).id)
    except LookupError:
        pass
    if host in _LOCAL_HOSTS and port in LOCAL_SERVERS:
        return LOCAL_SERVERS[port]
    return host
