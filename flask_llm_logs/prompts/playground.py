"""The playground: one version of a prompt, run once through the app's own client.

A run renders the version with the variables and model parameters given (the
version's model and parameters unless overridden), sends it through the
client the app configured for the model's provider (``LLM_LOGS_OPENAI_CLIENT``,
``LLM_LOGS_ANTHROPIC_CLIENT``, ``LLM_LOGS_GOOGLE_CLIENT``; the SDK's default
client from the environment if unset) and records it like any call of the
app: a trace named ``playground:<slug>`` tagged ``playground``, linked to the
version, with the LLM span the SDK integration makes. Whatever goes wrong,
from a missing variable to the provider's error, comes back in
:attr:`Run.error`: a playground run never raises.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from ..config import SharedClient
from ..state import get_state
from ..tracing.api import trace
from ..tracing.context import link_prompt_version
from ..tracing.pricing import cost_of
from ..tracing.recorder import error_message
from .errors import PromptError
from .frozen import freeze
from .prompt import Prompt
from .store import Version

#: Providers a run can use, and the ``build()`` API each one's SDK call takes.
PROVIDERS = {"openai": "chat", "anthropic": "anthropic", "google": "google"}

#: Tag and name prefix of the traces of playground runs.
PLAYGROUND = "playground"

#: How long a run waits for its trace to be stored, so that its link finds it (seconds).
TRACE_STORED_WITHIN = 5.0


def provider_for(model: str | None) -> str:
    """The provider a model name most likely belongs to (the form's default)."""
    name = (model or "").lower()
    if name.startswith("claude"):
        return "anthropic"
    if name.startswith("gemini"):
        return "google"
    return "openai"


@dataclasses.dataclass
class Run:
    """What one run did: the reply, or the error, and what it cost."""

    version_number: int
    model: str | None
    provider: str
    reply: str | None = None
    error: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    duration_ms: float | None = None
    #: The recorded trace; ``None`` when recording is off.
    trace_id: uuid.UUID | None = None


def _default_client(provider: str) -> Any:
    if provider == "anthropic":
        import anthropic

        return anthropic.Anthropic()
    if provider == "google":
        from google import genai

        return genai.Client()
    import openai

    return openai.OpenAI()


def _factory(provider: str) -> Callable[[], Any]:
    settings = get_state().settings
    configured = {
        "openai": settings.openai_client,
        "anthropic": settings.anthropic_client,
        "google": settings.google_client,
    }[provider]
    return configured or (lambda: _default_client(provider))


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _send(client: Any, provider: str, arguments: Mapping[str, Any]) -> tuple[str, Any]:
    """The reply's text and usage, read the way each SDK gives them."""
    if provider == "anthropic":
        message = client.messages.create(**arguments)
        text = "".join(getattr(block, "text", "") for block in message.content)
        return text, message.usage
    if provider == "google":
        response = client.models.generate_content(**arguments)
        return response.text or "", response.usage_metadata
    completion = client.chat.completions.create(**arguments)
    return completion.choices[0].message.content or "", completion.usage


def _tokens(provider: str, usage: Any) -> tuple[int | None, int | None, int | None]:
    """Input tokens (cache reads and writes included), output tokens, cached tokens."""
    if provider == "anthropic":
        cached = _count(getattr(usage, "cache_read_input_tokens", None)) or 0
        written = _count(getattr(usage, "cache_creation_input_tokens", None)) or 0
        uncached = _count(getattr(usage, "input_tokens", None))
        total = None if uncached is None else uncached + cached + written
        return total, _count(getattr(usage, "output_tokens", None)), cached
    if provider == "google":
        return (
            _count(getattr(usage, "prompt_token_count", None)),
            _count(getattr(usage, "candidates_token_count", None)),
            _count(getattr(usage, "cached_content_token_count", None)),
        )
    details = getattr(usage, "prompt_tokens_details", None)
    return (
        _count(getattr(usage, "prompt_tokens", None)),
        _count(getattr(usage, "completion_tokens", None)),
        _count(getattr(details, "cached_tokens", None)),
    )


def run(
    prompt: Prompt,
    version: Version,
    variables: Mapping[str, Any],
    *,
    model: str | None = None,
    model_params: Mapping[str, Any] | None = None,
    provider: str | None = None,
) -> Run:
    """Run ``version`` of ``prompt`` once and record it; see the module docstring.

    ``model`` and ``model_params`` left ``None`` are the version's;
    ``provider`` left ``None`` follows the model's name.
    """
    model = model or version.model
    provider = provider or provider_for(model)
    result = Run(version.version_number, model, provider)
    if provider not in PROVIDERS:
        result.error = f"provider must be one of {', '.join(PROVIDERS)}, got {provider!r}"
        return result
    params = version.model_params if model_params is None else freeze(dict(model_params))
    tried = dataclasses.replace(version, model=model, model_params=params)
    try:
        arguments = prompt.render(tried, variables, strict=True, api=PROVIDERS[provider])
    except (PromptError, ValueError) as error:
        result.error = str(error)
        return result
    if model is None:
        result.error = "the version has no model: give one"
        return result
    metadata = {"prompt": prompt.slug, "prompt_version": version.version_number}
    make = _factory(provider)
    client = None
    started = time.perf_counter()
    try:
        with trace(f"{PLAYGROUND}:{prompt.slug}", metadata=metadata, tags=[PLAYGROUND]) as step:
            result.trace_id = step.trace_id
            link_prompt_version(version.id, dict(variables))
            client = make()
            reply, usage = _send(client, provider, arguments)
    except Exception as error:  # the provider's, the SDK's, a client factory's: all shown
        result.error = error_message(error)
    else:
        result.reply = reply
        result.input_tokens, result.output_tokens, cached = _tokens(provider, usage)
        result.cost = cost_of(model, provider, result.input_tokens, result.output_tokens, cached)
    finally:
        result.duration_ms = (time.perf_counter() - started) * 1000
        if client is not None and not isinstance(make, SharedClient):
            close = getattr(client, "close", None)
            if callable(close):
                close()
    # The page links to the run's trace at once: have the writer store it first.
    get_state().writer.flush(timeout=TRACE_STORED_WITHIN)
    return result
