"""One prompt, every API: ``build(api=...)`` output goes straight into the real SDKs.

The openai and anthropic SDKs call the project's fake servers over loopback
HTTP; an argument the SDK does not know would fail there with a TypeError.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from flask_llm_logs import Prompt
from flask_llm_logs.prompts.apis import arguments
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.anthropic_messages import text_of

MESSAGES = [
    {"role": "system", "content": "You analyze strategies for {{app_name}}."},
    {"role": "developer", "content": "Be brief."},
    {"role": "user", "content": "Analyze {{strategy}}."},
    {"role": "assistant", "content": "Which timeframe?"},
    {"role": "user", "content": "{{timeframe}}"},
]
VARIABLES = {"app_name": "Tradebot", "strategy": "Momentum", "timeframe": "4h"}


def make_prompt(**params: Any) -> Prompt:
    return Prompt.create_with_content(
        "analysis",
        "Analysis",
        messages=MESSAGES,
        model="gpt-4.1-mini",
        model_params=params,
    )


def test_chat_is_the_default_and_unchanged(app: Flask) -> None:
    prompt = make_prompt(temperature=0.3, max_tokens=100, seed=7)
    assert prompt.build(VARIABLES) == prompt.build(VARIABLES, api="chat")
    built = prompt.build(VARIABLES)
    assert built["seed"] == 7 and built["max_tokens"] == 100
    assert built["messages"][4] == {"role": "user", "content": "4h"}


def test_responses_arguments_work_with_the_sdk(app: Flask, fake_openai: FakeOpenAI) -> None:
    prompt = make_prompt(
        temperature=0.3,
        max_tokens=100,
        reasoning_effort="low",
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA}},
        tools=[TOOL],
        tool_choice={"type": "function", "function": {"name": "price"}},
    )
    built = prompt.build(VARIABLES, api="responses")
    assert built["instructions"] == "You analyze strategies for Tradebot.\n\nBe brief."
    assert built["input"] == [
        {"role": "user", "content": "Analyze Momentum."},
        {"role": "assistant", "content": "Which timeframe?"},
        {"role": "user", "content": "4h"},
    ]
    assert built["max_output_tokens"] == 100 and "max_tokens" not in built
    assert built["reasoning"] == {"effort": "low"}
    assert built["text"] == {"format": {"type": "json_schema", "name": "r", "schema": SCHEMA}}
    assert built["tools"] == [{"type": "function", **FUNCTION}]
    assert built["tool_choice"] == {"type": "function", "name": "price"}

    with fake_openai.client() as client:
        response = client.responses.create(**built)
    assert response.output[0].type == "function_call"
    sent = fake_openai.requests_to("/v1/responses")[0].json
    assert sent["max_output_tokens"] == 100 and sent["instructions"].endswith("Be brief.")


def test_anthropic_arguments_work_with_the_sdk(app: Flask, fake_openai: FakeOpenAI) -> None:
    prompt = Prompt.create_with_content(
        "support",
        "Support",
        messages=[m for m in MESSAGES if m["role"] != "developer"],
        model="claude-sonnet-4-5",
        model_params={"max_tokens": 200, "stop": "END", "user": "u1"},
    )
    built = prompt.build(VARIABLES, api="anthropic")
    assert built == {
        "model": "claude-sonnet-4-5",
        "system": "You analyze strategies for Tradebot.",
        "messages": [
            {"role": "user", "content": "Analyze Momentum."},
            {"role": "assistant", "content": "Which timeframe?"},
            {"role": "user", "content": "4h"},
        ],
        "max_tokens": 200,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u1"},
    }
    client = fake_openai.anthropic_client()
    message = client.messages.create(**built)
    client.close()
    assert text_of(message) == "Fake reply to: 4h"
    assert fake_openai.requests_to("/v1/messages")[0].json["stop_sequences"] == ["END"]


@pytest.mark.parametrize(
    ("api", "params", "named"),
    [
        ("responses", {"seed": 7}, "'seed'"),
        ("responses", {"stop": ["x"]}, "'stop'"),
        ("responses", {"frequency_penalty": 0.5}, "'frequency_penalty'"),
        ("anthropic", {"max_tokens": 10, "temperature": 0.3}, "'temperature'"),
        ("anthropic", {"max_tokens": 10, "n": 2}, "'n'"),
        ("anthropic", {"temperature": 0.3}, "'temperature'"),
        ("anthropic", {}, "'max_tokens' is required"),
    ],
)
def test_a_parameter_without_counterpart_is_named(
    app: Flask, api: str, params: dict[str, Any], named: str
) -> None:
    prompt = make_prompt(**params)
    with pytest.raises(ValueError, match=named):
        prompt.build(VARIABLES, api=api)


def test_bad_api_and_unmappable_messages(app: Flask) -> None:
    prompt = make_prompt(max_tokens=10)
    with pytest.raises(ValueError, match="api must be one of 'chat', 'responses'"):
        prompt.build(VARIABLES, api="gemini")
    late_system = [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]
    with pytest.raises(ValueError, match="a system message after the first user"):
        arguments("anthropic", None, late_system, {"max_tokens": 5})
    named = [{"role": "user", "content": "a", "name": "ada"}]
    with pytest.raises(ValueError, match="message name"):
        arguments("responses", None, named, {})


def test_system_text_alone_leaves_the_input_to_the_caller(app: Flask) -> None:
    assert arguments("responses", "m", [{"role": "system", "content": "Be kind."}], {}) == {
        "model": "m",
        "instructions": "Be kind.",
    }


def test_variables_named_like_parameters_go_in_the_mapping(app: Flask) -> None:
    prompt = Prompt.create_with_content(
        "flags",
        "Flags",
        messages=[{"role": "user", "content": "strict={{strict}} api={{api}}"}],
        model_params={"max_tokens": 5},
    )
    built = prompt.build({"strict": "yes", "api": "none"}, api="anthropic")
    assert built["messages"] == [{"role": "user", "content": "strict=yes api=none"}]


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"type": "string"}},
    "required": ["verdict"],
    "additionalProperties": False,
}
FUNCTION: dict[str, Any] = {
    "name": "price",
    "description": "The price of a symbol.",
    "parameters": {
        "type": "object",
        "properties": {"symbol": {"type": "string"}},
        "required": ["symbol"],
    },
}
TOOL: dict[str, Any] = {"type": "function", "function": FUNCTION}


def test_anthropic_tools_are_mapped(app: Flask, fake_openai: FakeOpenAI) -> None:
    built = arguments(
        "anthropic",
        "claude-sonnet-4-5",
        [{"role": "user", "content": "AAPL?"}],
        {"max_completion_tokens": 50, "tools": [TOOL], "tool_choice": "required"},
    )
    assert built["tools"] == [
        {
            "name": "price",
            "description": "The price of a symbol.",
            "input_schema": FUNCTION["parameters"],
        }
    ]
    assert (built["tool_choice"], built["max_tokens"]) == ({"type": "any"}, 50)
    client = fake_openai.anthropic_client()
    message = client.messages.create(**built)
    client.close()
    assert message.stop_reason == "tool_use"


def test_google_arguments_work_with_the_sdk(app: Flask, fake_openai: FakeOpenAI) -> None:
    prompt = make_prompt(temperature=0.3, max_tokens=100, stop="END")
    built = prompt.build(VARIABLES, api="google")
    assert built["config"] == {
        "temperature": 0.3,
        "max_output_tokens": 100,
        "stop_sequences": ["END"],
        "system_instruction": "You analyze strategies for Tradebot.\n\nBe brief.",
    }
    assert [content["role"] for content in built["contents"]] == ["user", "model", "user"]
    client = fake_openai.gemini_client()
    response = client.models.generate_content(**{**built, "model": "gemini-2.5-flash"})
    assert response.text == "Fake reply to: 4h"
