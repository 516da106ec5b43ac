"""Patch points as data: wrapping, unwrapping, and one span per LLM call."""

from __future__ import annotations

import asyncio
import logging
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from flask import Flask

from flask_llm_logs import ConfigurationError
from flask_llm_logs import LlmLogs
from flask_llm_logs.instrumentation import calls
from flask_llm_logs.instrumentation import check_sdks
from flask_llm_logs.instrumentation.patching import Patcher
from flask_llm_logs.instrumentation.patching import PatchPoint
from flask_llm_logs.tracing.pricing import cost_of


class Client:
    """An SDK of our own: ``ask`` calls ``complete``, as LiteLLM calls the openai SDK."""

    def complete(self, prompt: str) -> str:
        return prompt.upper()

    def ask(self, prompt: str) -> str:
        return self.complete(prompt) + "!"

    async def acomplete(self, prompt: str) -> str:
        return prompt.upper()

    async def aask(self, prompt: str) -> str:
        return await self.acomplete(prompt) + "!"


def shout(prompt: str) -> str:
    return Client().ask(prompt)


class Hooks:
    """Writes down what the patcher asked of it."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def start(
        self, resource: Any, operation: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> str:
        self.events.append(("start", operation))
        return operation

    def succeeded(self, call: str, result: Any) -> None:
        self.events.append(("succeeded", (call, result)))

    def failed(self, call: str, error: BaseException) -> None:
        self.events.append(("failed", (call, type(error).__name__)))


@pytest.fixture
def module() -> Iterator[types.ModuleType]:
    """The toy SDK as an importable module, as the patcher finds a real one."""
    sdk = types.ModuleType("toy_sdk")
    sdk.Client = Client  # type: ignore[attr-defined]
    sdk.shout = shout  # type: ignore[attr-defined]
    sys.modules["toy_sdk"] = sdk
    yield sdk
    del sys.modules["toy_sdk"]


def patcher(hooks: Hooks) -> Patcher[str, str]:
    return Patcher(
        (
            PatchPoint("toy_sdk", "Client", "complete", "complete"),
            PatchPoint("toy_sdk", "Client", "ask", "ask"),
            PatchPoint("toy_sdk", "Client", "acomplete", "acomplete", is_async=True),
            PatchPoint("toy_sdk", "Client", "aask", "aask", is_async=True),
            PatchPoint("toy_sdk", None, "shout", "shout"),
            PatchPoint("toy_sdk", "Client", "not_in_this_version", "missing"),
        ),
        hooks,
    )


def test_a_call_inside_an_instrumented_call_is_not_recorded_again(
    module: types.ModuleType,
) -> None:
    hooks = Hooks()
    patches = patcher(hooks)
    patches.patch()
    try:
        assert Client().ask("hi") == "HI!"
        assert Client().complete("x") == "X"
        assert asyncio.run(Client().aask("hi")) == "HI!"
    finally:
        patches.unpatch()
    assert hooks.events == [
        ("start", "ask"),
        ("succeeded", ("ask", "HI!")),
        ("start", "complete"),
        ("succeeded", ("complete", "X")),
        ("start", "aask"),
        ("succeeded", ("aask", "HI!")),
    ]


def test_module_functions_are_patched_and_put_back(module: types.ModuleType) -> None:
    hooks = Hooks()
    patches = patcher(hooks)
    original, original_ask = module.shout, vars(Client)["ask"]
    patches.patch()
    patches.patch()  # idempotent: not wrapped twice
    try:
        assert module.shout("a") == "A!"
    finally:
        patches.unpatch()
    assert module.shout is original and vars(Client)["ask"] is original_ask
    assert hooks.events == [("start", "shout"), ("succeeded", ("shout", "A!"))]
    assert not patches.is_patched()


@pytest.mark.recorder_errors("a hook of the patcher raises on purpose")
def test_the_host_s_exception_passes_through_and_a_hook_failure_does_not(
    module: types.ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Hooks):
        def succeeded(self, call: str, result: Any) -> None:
            raise RuntimeError("our bug")

    # Recorder warnings come once a minute, the rest at DEBUG: hear them all.
    caplog.set_level(logging.DEBUG, logger="flask_llm_logs")
    hooks = Broken()
    patches = patcher(hooks)
    patches.patch()
    try:
        assert Client().complete("x") == "X"  # our bug is logged, the result returned
        with pytest.raises(AttributeError):
            Client().complete(None)  # type: ignore[arg-type]
    finally:
        patches.unpatch()
    assert ("failed", ("complete", "AttributeError")) in hooks.events
    assert "could not record" in caplog.text


def test_llm_logs_instrument_names_supported_installed_sdks(tmp_path: Path) -> None:
    assert check_sdks(["openai"]) == ("openai",)
    assert "openai" in check_sdks(None)
    for value, message in (
        (["openia"], "unknown SDK 'openia'"),
        ("openai", "must be a list of names"),
    ):
        app = Flask("sdks", instance_path=str(tmp_path))
        app.config["LLM_LOGS_INSTRUMENT"] = value
        with pytest.raises(ConfigurationError, match=message):
            LlmLogs(app)


@pytest.mark.parametrize(
    ("base_url", "provider"),
    [
        ("https://api.openai.com/v1", "openai"),
        ("https://openrouter.ai/api/v1", "openrouter"),
        ("https://api.deepseek.com", "deepseek"),
        ("https://api.groq.com/openai/v1", "groq"),
        ("https://api.together.xyz/v1", "together"),
        ("https://api.mistral.ai/v1", "mistral"),
        ("https://api.x.ai/v1", "x-ai"),
        ("https://api.fireworks.ai/inference/v1", "fireworks"),
        ("https://my-resource.openai.azure.com/openai/v1", "azure"),
        ("https://generativelanguage.googleapis.com/v1beta/openai/", "google"),
        ("https://api.anthropic.com/v1/", "anthropic"),
        ("http://localhost:11434/v1", "ollama"),
        ("http://127.0.0.1:8000/v1", "vllm"),
        ("https://llm.example.com:8443/v1", "llm.example.com"),
    ],
)
def test_openai_compatible_servers_get_their_provider_name(base_url: str, provider: str) -> None:
    client = openai.OpenAI(api_key="test", base_url=base_url)
    assert calls.provider_of(client.chat.completions) == provider
    assert calls.provider_of(client.chat.completions) == provider  # cached
    client.close()


def test_a_call_through_openrouter_is_priced_by_genai_prices() -> None:
    assert cost_of("anthropic/claude-sonnet-4", "openrouter", 1000, 100) is not None
    assert cost_of("some-model", "llm.example.com", 1000, 100) is None
