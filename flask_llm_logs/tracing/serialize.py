"""Turn whatever a span carries into values a JSON column accepts.

Records may hold SDK objects (pydantic models), dataclasses, datetimes, bytes
or things nobody planned for. The writer converts them here, on its own
thread, and the conversion never raises: a value it cannot represent becomes
its ``repr``, so one odd value costs a field's fidelity, never a batch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import functools
import json
import math
import re
import uuid
from collections.abc import Mapping
from typing import Any

#: Deeper structures are cut off (and cycles end here) as a ``repr``.
MAX_DEPTH = 32

#: PostgreSQL refuses NUL in text and JSONB; it is replaced, not rejected.
_NUL = "\x00"


def clean_text(value: str) -> str:
    """A string PostgreSQL accepts in a text or JSONB value: no NUL, no lone surrogate."""
    if _NUL in value:
        value = value.replace(_NUL, "\ufffd")
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _safe_repr(value: Any) -> str:
    try:
        return clean_text(repr(value))
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


def to_json(value: Any, _depth: int = 0) -> Any:
    """``value`` as JSON-safe data (dicts, lists, str, int, float, bool, None)."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float):
        # JSON has no NaN or infinity, and PostgreSQL rejects them in JSONB.
        return value if math.isfinite(value) else repr(value)
    if _depth >= MAX_DEPTH:
        return _safe_repr(value)
    depth = _depth + 1
    try:
        if isinstance(value, Mapping):
            return {clean_text(str(k)): to_json(v, depth) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [to_json(v, depth) for v in value]
        if isinstance(value, (set, frozenset)):
            return [to_json(v, depth) for v in sorted(value, key=repr)]
        if isinstance(value, (dt.datetime, dt.date, dt.time)):
            return value.isoformat()
        if isinstance(value, (uuid.UUID, decimal.Decimal)):
            return str(value)
        if isinstance(value, enum.Enum):
            return to_json(value.value, depth)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return clean_text(bytes(value).decode("utf-8", "backslashreplace"))
        if hasattr(value, "model_dump") and not isinstance(value, type):
            # pydantic models: the openai SDK's responses, messages, tool calls.
            return to_json(value.model_dump(mode="json"), depth)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = dataclasses.fields(value)
            return {f.name: to_json(getattr(value, f.name), depth) for f in fields}
    except Exception:
        pass
    return _safe_repr(value)


#: Made once: ``json.dumps`` with options builds a new encoder on every call.
_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=to_json)


def dumps(value: Any) -> str:
    """``value`` as JSON text PostgreSQL accepts. Never raises.

    The common case (plain dicts, lists and strings, as SDK messages are
    once dumped) is encoded by the C encoder in one pass; :func:`to_json`
    only walks values that need it (NaN, NUL, lone surrogates, odd keys).
    """
    try:
        text = _encoder.encode(value)
        if "\\u0000" not in text:
            text.encode("utf-8")  # lone surrogates fail here
            return text
    except (ValueError, TypeError, RecursionError):
        pass
    return _encoder.encode(to_json(value))


#: Metadata keys whose values are credentials, whatever their spelling.
_SECRET_KEY = re.compile(
    r"api[-_.]?key|authorization|auth[-_.]?token|access[-_.]?token|secret|password|cookie",
    re.IGNORECASE,
)
#: Values that look like credentials even under an innocent key.
_SECRET_VALUE = re.compile(r"\b(?:sk-[A-Za-z0-9_-]{12,}|Bearer\s+\S+)", re.IGNORECASE)

REDACTED = "[redacted]"


@functools.lru_cache(maxsize=1024)
def _is_secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def scrub_secrets(value: Any) -> Any:
    """JSON-safe ``value`` without API keys or authorization headers.

    Keys that name a credential are dropped; strings that look like one
    (``sk-...``, ``Bearer ...``) are replaced by ``[redacted]``.
    """
    if isinstance(value, dict):
        return {k: scrub_secrets(v) for k, v in value.items() if not _is_secret_key(k)}
    if isinstance(value, list):
        return [scrub_secrets(v) for v in value]
    if isinstance(value, str) and _SECRET_VALUE.search(value):
        return _SECRET_VALUE.sub(REDACTED, value)
    return value
