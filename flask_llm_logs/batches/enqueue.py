"""``Batch.enqueue``: validate a request and store it as pending, at once.

Everything is checked before anything is stored, so a bad argument raises
``ValueError`` naming it and leaves no half-made row behind. The stored
payload is exactly the ``responses.create`` parameters that flush sends,
either in a batch file or synchronously.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import TypeVar

from sqlalchemy.orm import Session

from ..models import BatchRequest
from ..prompts import Prompt
from ..prompts import PromptError
from ..state import get_state

#: Parameters enqueue builds itself; passing them as extras would be ambiguous.
RESERVED_PARAMETERS = frozenset(
    {"model", "input", "instructions", "text", "temperature", "stream", "background"}
)
MAX_NAME_LENGTH = 255


def _name(value: Any, argument: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{argument} must be a non-empty string, got {value!r}")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"{argument} must be at most {MAX_NAME_LENGTH} characters")
    return value


_Value = TypeVar("_Value")


def _json(value: _Value, argument: str) -> _Value:
    """``value`` if it survives a JSON round trip unchanged in meaning."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{argument} must be JSON-serialisable: {error}") from None
    return value


def _input(value: Any) -> str | list[Any]:
    if isinstance(value, str):
        if not value:
            raise ValueError("input must not be empty")
        return value
    if isinstance(value, (list, tuple)):
        if not value or not all(isinstance(item, Mapping) for item in value):
            raise ValueError(
                "input must be a string or a non-empty list of Responses-API input items (dicts)"
            )
        return _json([dict(item) for item in value], "input")
    raise ValueError(
        f"input must be a string or a list of Responses-API input items, got {type(value).__name__}"
    )


def _items(value: Any) -> list[Any]:
    """``input`` added to a prompt's messages: a string is one more user message."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return list(_input(value))


def _built(slug: Any, variables: Any) -> tuple[dict[str, Any], int]:
    """The prompt's current version built for the Responses API, and the version's id.

    Rendered without linking the caller's trace: the request is sent later,
    and its own trace is linked through its routing.
    """
    if not isinstance(slug, str):
        raise ValueError(f"prompt must be a prompt's slug, got {slug!r}")
    if variables is not None and not isinstance(variables, Mapping):
        raise ValueError(f"variables must be a dict, got {variables!r}")
    try:
        loaded = Prompt.load(slug)
        version = loaded.current_version
        if version is None:
            raise ValueError(f"prompt: {slug!r} has no version yet")
        built = loaded.render(version, variables or {}, api="responses")
    except PromptError as error:
        raise ValueError(f"prompt: {error}") from error
    return built, version.id


def _routing(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise ValueError(f"routing must be a dict with string keys, got {value!r}")
    return _json(dict(value), "routing")


def _temperature(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"temperature must be a number, got {value!r}")
    if not 0 <= value <= 2:
        raise ValueError(f"temperature must be between 0 and 2, got {value!r}")
    return float(value)


def _is_pydantic_model(value: Any) -> bool:
    return isinstance(value, type) and hasattr(value, "model_json_schema")


def text_format(schema: Any) -> dict[str, Any]:
    """The ``text.format`` parameter for ``schema``.

    Accepts a Pydantic model class (made strict the way the SDK's
    ``responses.parse`` does), ``{"name", "schema", "strict"}``, or a bare
    JSON schema (an object with ``type``/``properties``/``$schema``...).
    """
    if _is_pydantic_model(schema):
        # The SDK's own conversion: strict mode needs every property required
        # and no additional properties, which plain model_json_schema() lacks.
        from openai.lib._pydantic import to_strict_json_schema

        return {
            "type": "json_schema",
            "name": schema.__name__,
            "schema": to_strict_json_schema(schema),
            "strict": True,
        }
    if not isinstance(schema, Mapping):
        raise ValueError(
            "schema must be a Pydantic model class, a JSON schema dict or "
            f'{{"name", "schema", "strict"}}, got {schema!r}'
        )
    if "schema" in schema and isinstance(schema["schema"], Mapping):
        name = schema.get("name", "response")
        strict = schema.get("strict", True)
        body = dict(schema["schema"])
    elif any(key in schema for key in ("type", "properties", "$schema", "anyOf", "$ref")):
        name, strict, body = "response", True, dict(schema)
    else:
        raise ValueError(f"schema is not a JSON schema (no type or properties): {dict(schema)!r}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"schema name must be a non-empty string, got {name!r}")
    if not isinstance(strict, bool):
        raise ValueError(f"schema strict must be True or False, got {strict!r}")
    if not isinstance(body.get("type", "object"), (str, list)):
        raise ValueError(f"schema type must be a string, got {body['type']!r}")
    format_ = {"type": "json_schema", "name": name, "schema": body, "strict": strict}
    return _json(format_, "schema")


def build_payload(
    *,
    model: str,
    input: Any,
    instructions: Any,
    schema: Any,
    temperature: Any,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``responses.create`` parameters of one request, validated."""
    payload: dict[str, Any] = {"model": model, "input": _input(input)}
    if instructions is not None:
        if not isinstance(instructions, str):
            raise ValueError(f"instructions must be a string or None, got {instructions!r}")
        payload["instructions"] = instructions
    checked_temperature = _temperature(temperature)
    if checked_temperature is not None:
        payload["temperature"] = checked_temperature
    if schema is not None:
        payload["text"] = {"format": text_format(schema)}
    for key, value in options.items():
        if key in RESERVED_PARAMETERS:
            raise ValueError(f"{key} cannot be passed as an extra parameter")
        payload[key] = _json(value, key)
    return payload


def is_structured(payload: Mapping[str, Any]) -> bool:
    """Whether the request asked for JSON, so its reply is delivered as a dict."""
    format_ = (payload.get("text") or {}).get("format") or {}
    return format_.get("type") in ("json_schema", "json_object")


def new_custom_id() -> str:
    return f"req_{uuid.uuid4().hex}"


class Batch:
    """Requests sent through the provider's Batch API, at half the price.

    See :doc:`/batches` for the lifecycle: enqueue, flush, poll, handlers.
    """

    @staticmethod
    def enqueue(
        *,
        purpose: str,
        model: str | None = None,
        input: str | Sequence[Mapping[str, Any]] | None = None,
        instructions: str | None = None,
        schema: Any = None,
        routing: Mapping[str, Any] | None = None,
        temperature: float | None = None,
        prompt: str | None = None,
        variables: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> BatchRequest:
        """Store a pending request and return it (committed, detached).

        :param purpose: groups requests and selects the handler that gets
            their results (:meth:`.LlmLogs.register_batch_handler`).
        :param model: the model to call, e.g. ``"gpt-4.1-mini"``; with
            ``prompt``, the version's model unless given.
        :param input: a string, or a Responses-API input list; with
            ``prompt``, added after the prompt's messages.
        :param prompt: the slug of a prompt to build for the Responses API
            (:meth:`.Prompt.build` with ``api="responses"``): its system
            text becomes ``instructions``, its other messages the ``input``,
            its model parameters the request's. The arguments given here win
            over the prompt's. The request's trace is linked to the version
            (``routing["prompt_version_id"]``).
        :param variables: the prompt's variables.
        :param instructions: the system instructions.
        :param schema: structured output: a Pydantic model class, a JSON
            schema dict, or ``{"name", "schema", "strict"}``. The handler
            then gets ``message.content`` as a ``dict``.
        :param routing: JSON-serialisable keys of the app (e.g. the record
            the result belongs to), copied into the recorded trace's metadata.
        :param temperature: sampling temperature, 0 to 2.
        :param options: more ``responses.create`` parameters
            (``max_output_tokens``, ``reasoning``...), JSON-serialisable.
        :raises ValueError: an argument is invalid; nothing is stored.
        """
        purpose = _name(purpose, "purpose")
        checked_routing = _routing(routing)
        text: dict[str, Any] = {}
        if prompt is not None:
            built, version_id = _built(prompt, variables)
            model = model if model is not None else built.pop("model", None)
            input = [*built.pop("input", ()), *_items(input)]
            if instructions is None:
                instructions = built.pop("instructions", None)
            if temperature is None:
                temperature = built.pop("temperature", None)
            text = built.pop("text", {})
            options = {
                **{k: v for k, v in built.items() if k not in RESERVED_PARAMETERS},
                **options,
            }
            checked_routing["prompt_version_id"] = version_id
        elif variables is not None:
            raise ValueError("variables: pass them with prompt=")
        model = _name(model, "model")
        payload = build_payload(
            model=model,
            input=input,
            instructions=instructions,
            schema=schema,
            temperature=temperature,
            options=options,
        )
        if text:
            payload["text"] = {**text, **payload.get("text", {})}
        request = BatchRequest(
            custom_id=new_custom_id(),
            purpose=purpose,
            model=model,
            status="pending",
            payload=payload,
            routing=checked_routing,
            attempts=0,
        )
        # An own session: the request is stored now, whatever the host's
        # session does with its own transaction afterwards.
        with Session(get_state().engine, expire_on_commit=False) as session:
            session.add(request)
            session.commit()
        return request
