"""One rendered prompt as the arguments of each API: Chat Completions, Responses, Anthropic.

A version stores its messages and its model parameters the Chat Completions
way (``max_tokens``, ``stop``, ``response_format``...), which is what the
editor and the prompt files write. :func:`arguments` maps them by name to the
API asked for, following the SDKs installed with this package (openai 3.x,
anthropic 2.x, whose Messages API takes no sampling parameters). A
parameter with no counterpart raises :class:`ValueError` naming it, rather
than being dropped (a call without the ``seed`` or the ``stop`` its author
set is not the call they wrote) or sent (the SDK would refuse it anyway,
further from the cause).

Parameters already named the target API's way (``max_output_tokens`` for
Responses, ``thinking`` for Anthropic) pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

#: What ``build(api=...)`` accepts.
APIS = ("chat", "responses", "anthropic", "google")

_Convert = Callable[[Any, dict[str, Any]], None]


def _set(name: str) -> _Convert:
    def convert(value: Any, out: dict[str, Any]) -> None:
        out[name] = value

    return convert


def _merge(name: str, key: str) -> _Convert:
    """Into a nested parameter (``text.format``, ``reasoning.effort``)."""

    def convert(value: Any, out: dict[str, Any]) -> None:
        out.setdefault(name, {})[key] = value

    return convert


def _function(tool: Any, api: str) -> dict[str, Any]:
    if not isinstance(tool, Mapping) or tool.get("type") != "function":
        raise ValueError(f"tools: only function tools can be mapped to the {api} API, got {tool!r}")
    function = dict(tool.get("function") or {})
    if "name" not in function:
        raise ValueError(f"tools: a function tool needs function.name, got {tool!r}")
    return function


def _responses_tools(value: Any, out: dict[str, Any]) -> None:
    out["tools"] = [{"type": "function", **_function(tool, "responses")} for tool in value]


def _responses_tool_choice(value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value.get("type") == "function":
        value = {"type": "function", "name": (value.get("function") or {}).get("name")}
    out["tool_choice"] = value


def _response_format(value: Any, out: dict[str, Any]) -> None:
    if not isinstance(value, Mapping):
        raise ValueError(f"response_format: must be a dict, got {value!r}")
    if value.get("type") == "json_schema":
        value = {"type": "json_schema", **dict(value.get("json_schema") or {})}
    out.setdefault("text", {})["format"] = dict(value)


def _anthropic_tools(value: Any, out: dict[str, Any]) -> None:
    tools = []
    for tool in value:
        function = _function(tool, "anthropic")
        converted = {"name": function["name"]}
        if "description" in function:
            converted["description"] = function["description"]
        converted["input_schema"] = function.get("parameters") or {"type": "object"}
        if "strict" in function:
            converted["strict"] = function["strict"]
        tools.append(converted)
    out["tools"] = tools


_ANTHROPIC_CHOICES = {
    "auto": {"type": "auto"},
    "required": {"type": "any"},
    "none": {"type": "none"},
}


def _anthropic_tool_choice(value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, str) and value in _ANTHROPIC_CHOICES:
        out["tool_choice"] = dict(_ANTHROPIC_CHOICES[value])
    elif isinstance(value, Mapping) and value.get("type") == "function":
        out["tool_choice"] = {"type": "tool", "name": (value.get("function") or {}).get("name")}
    else:
        raise ValueError(f"tool_choice: {value!r} cannot be mapped to the anthropic API")


def _stop_sequences(value: Any, out: dict[str, Any]) -> None:
    out["stop_sequences"] = [value] if isinstance(value, str) else list(value)


def _anthropic_format(value: Any, out: dict[str, Any]) -> None:
    if not isinstance(value, Mapping) or value.get("type") != "json_schema":
        raise ValueError(
            f"response_format: only a json_schema format can be mapped to the anthropic API,"
            f" got {value!r}"
        )
    schema = (value.get("json_schema") or {}).get("schema")
    out.setdefault("output_config", {})["format"] = {"type": "json_schema", "schema": schema}


def _anthropic_user(value: Any, out: dict[str, Any]) -> None:
    out.setdefault("metadata", {})["user_id"] = value


#: Chat Completions parameter -> how it goes into a Responses call.
RESPONSES_PARAMS: dict[str, _Convert] = {
    "max_tokens": _set("max_output_tokens"),
    "max_completion_tokens": _set("max_output_tokens"),
    "reasoning_effort": _merge("reasoning", "effort"),
    "verbosity": _merge("text", "verbosity"),
    "response_format": _response_format,
    "tools": _responses_tools,
    "tool_choice": _responses_tool_choice,
    **{
        same: _set(same)
        for same in (
            "temperature",
            "top_p",
            "top_logprobs",
            "parallel_tool_calls",
            "metadata",
            "store",
            "service_tier",
            "user",
            "safety_identifier",
            "prompt_cache_key",
            "prompt_cache_retention",
            "prompt_cache_options",
            "moderation",
            # Named the Responses way already.
            "max_output_tokens",
            "max_tool_calls",
            "reasoning",
            "text",
            "truncation",
            "include",
            "background",
            "conversation",
            "previous_response_id",
        )
    },
}

#: Chat Completions parameter -> how it goes into an Anthropic Messages call.
ANTHROPIC_PARAMS: dict[str, _Convert] = {
    "max_tokens": _set("max_tokens"),
    "max_completion_tokens": _set("max_tokens"),
    "max_output_tokens": _set("max_tokens"),
    "stop": _stop_sequences,
    "reasoning_effort": _merge("output_config", "effort"),
    "response_format": _anthropic_format,
    "tools": _anthropic_tools,
    "tool_choice": _anthropic_tool_choice,
    "user": _anthropic_user,
    **{
        # Named the Anthropic way already.
        same: _set(same)
        for same in (
            "stop_sequences",
            "thinking",
            "output_config",
            "cache_control",
            "container",
            "inference_geo",
            "speed",
            "service_tier",
        )
    },
}


def _in_config(name: str) -> _Convert:
    """Into google-genai's ``config`` (a ``GenerateContentConfig`` as a dict)."""
    return _merge("config", name)


def _google_stop(value: Any, out: dict[str, Any]) -> None:
    out.setdefault("config", {})["stop_sequences"] = [value] if isinstance(value, str) else value


#: Chat Completions parameter -> how it goes into a google-genai ``generate_content`` call.
GOOGLE_PARAMS: dict[str, _Convert] = {
    "max_tokens": _in_config("max_output_tokens"),
    "max_completion_tokens": _in_config("max_output_tokens"),
    "max_output_tokens": _in_config("max_output_tokens"),
    "stop": _google_stop,
    **{
        same: _in_config(same)
        for same in ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty")
    },
}


#: Chat roles as google-genai names them (system text goes to ``system_instruction``).
GOOGLE_ROLES = {"user": "user", "assistant": "model", "system": "user", "developer": "user"}


def _split_system(messages: Sequence[Mapping[str, Any]], api: str) -> tuple[str | None, list[Any]]:
    """The leading system (and developer) messages as one text, and the rest as turns."""
    system = []
    rest = list(messages)
    while rest and rest[0]["role"] in ("system", "developer"):
        system.append(rest.pop(0)["content"])
    for message in rest:
        if "name" in message:
            raise ValueError(
                f"messages: a message name ({message['name']!r}) cannot be mapped to the {api} API"
            )
    return ("\n\n".join(system) if system else None), rest


def _mapped(params: Mapping[str, Any], table: Mapping[str, _Convert], api: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in params.items():
        convert = table.get(name)
        if convert is None:
            raise ValueError(f"model parameter {name!r} has no counterpart in the {api} API")
        convert(value, out)
    return out


def arguments(
    api: str, model: str | None, messages: list[dict[str, Any]], params: Mapping[str, Any]
) -> dict[str, Any]:
    """The keyword arguments of ``api``'s create call for rendered ``messages`` and ``params``.

    :raises ValueError: ``api`` is unknown, or a parameter or message cannot
        be expressed in it (the message names which).
    """
    head: dict[str, Any] = {} if model is None else {"model": model}
    if api == "chat":
        return {**head, "messages": messages, **params}
    if api == "responses":
        instructions, turns = _split_system(messages, api)
        if instructions is not None:
            head["instructions"] = instructions
        if turns:  # a prompt of system text alone leaves the input to the caller
            head["input"] = [{"role": m["role"], "content": m["content"]} for m in turns]
        return {**head, **_mapped(params, RESPONSES_PARAMS, api)}
    if api == "anthropic":
        system, turns = _split_system(messages, api)
        odd = [m["role"] for m in turns if m["role"] not in ("user", "assistant")]
        if odd:
            raise ValueError(
                f"messages: a {odd[0]} message after the first user or assistant message"
                " cannot be mapped to the anthropic API (system text goes first)"
            )
        mapped = _mapped(params, ANTHROPIC_PARAMS, api)
        if "max_tokens" not in mapped:
            raise ValueError(
                "model parameter 'max_tokens' is required by the anthropic API: set it in"
                " the version's model_params"
            )
        if system is not None:
            head["system"] = system
        head["messages"] = [{"role": m["role"], "content": m["content"]} for m in turns]
        return {**head, **mapped}
    if api == "google":
        system, turns = _split_system(messages, api)
        mapped = _mapped(params, GOOGLE_PARAMS, api)
        if system is not None:
            mapped.setdefault("config", {})["system_instruction"] = system
        head["contents"] = [
            {
                "role": "model" if m["role"] == "assistant" else "user",
                "parts": [{"text": m["content"]}],
            }
            for m in turns
        ]
        return {**head, **mapped}
    raise ValueError(f"api must be one of {', '.join(map(repr, APIS))}, got {api!r}")
