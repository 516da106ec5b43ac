"""Sample values for a JSON schema.

Tool-call arguments and structured outputs must parse on the client side
(``json.loads``, a Pydantic model in ``.parse()``), so the fake fills a
schema with plain, deterministic values instead of random ones: tests can
assert on them and re-runs give the same data.
"""

from __future__ import annotations

from typing import Any

#: Strings for common ``format`` keywords, so that validators accept them.
_STRING_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "hostname": "example.com",
    "duration": "PT1H",
}

#: Guards against self-referencing schemas (a tree of ``$ref``).
_MAX_DEPTH = 8


def sample_for_schema(schema: dict[str, Any] | None, *, name: str = "value") -> Any:
    """A value that satisfies ``schema`` in the usual cases.

    Objects get their ``required`` properties only (strict schemas, as sent by
    ``.parse()``, list every property as required); arrays get one item (or
    ``minItems``); strings are ``"sample <name>"`` unless an ``enum``,
    ``const``, ``format`` or ``default`` says otherwise.
    """
    if not schema:
        return {}
    return _sample(schema, schema, name, 0)


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``#/...`` reference, as Pydantic emits for nested models."""
    node: Any = root
    for part in ref.lstrip("#/").split("/"):
        if not part:
            continue
        node = node.get(part.replace("~1", "/").replace("~0", "~"), {})
    return node if isinstance(node, dict) else {}


def _sample(schema: dict[str, Any], root: dict[str, Any], name: str, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return None
    if "$ref" in schema:
        return _sample(_resolve(schema["$ref"], root), root, name, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        variants = schema.get(key)
        if variants:
            # Prefer a variant that is not null: optional fields get a value.
            chosen = next((v for v in variants if v.get("type") != "null"), variants[0])
            return _sample(chosen, root, name, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties") or {}
        required = schema.get("required") or []
        return {
            key: _sample(properties.get(key) or {}, root, key, depth + 1)
            for key in required
            if key in properties or not properties
        }
    if kind == "array":
        items = schema.get("items") or {}
        if isinstance(items, list):  # tuple validation
            return [_sample(item, root, name, depth + 1) for item in items]
        count = max(1, int(schema.get("minItems", 1)))
        return [_sample(items, root, name, depth + 1) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _sample_string(schema, name)


def _sample_string(schema: dict[str, Any], name: str) -> str:
    text = _STRING_FORMATS.get(schema.get("format", ""), f"sample {name}")
    min_length = int(schema.get("minLength", 0))
    if len(text) < min_length:
        text = text.ljust(min_length, "x")
    max_length = schema.get("maxLength")
    if max_length is not None:
        text = text[: int(max_length)]
    return text
