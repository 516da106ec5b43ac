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
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import overload

import orjson

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


#: ``_encoder.encode`` without its per-call set-up: ``JSONEncoder.encode``
#: makes a new C encoder (and a closure) on every call, about 1 µs of the
#: 3.5 µs a 1 KB message takes. Made once here, without the cycle check's
#: table (which the writer's threads would share): a cycle ends in
#: ``RecursionError`` instead, which :func:`dumps` handles as it handles the
#: check's ``ValueError``. ``None`` without CPython's accelerator.
_make_c_encoder = getattr(json.encoder, "c_make_encoder", None)  # untyped in typeshed
_c_encoder: Callable[[Any, int], list[str]] | None = (
    _make_c_encoder(
        None, to_json, json.encoder.encode_basestring, None, ": ", ", ", False, False, False
    )
    if _make_c_encoder is not None
    else None
)


def _encode(value: Any) -> str:
    if _c_encoder is None:  # pragma: no cover
        return _encoder.encode(value)
    return "".join(_c_encoder(value, 0))


#: orjson hands the values it would write in a form of its own to
#: :func:`to_json`, so they are written as the standard encoder writes them.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
#: Where orjson may have written a NaN or an infinity. A pattern: it looks
#: for the first letter with ``memchr``, twice as fast as ``in`` on bytes.
_NULL = re.compile(b"null")


def dumps(value: Any) -> str:
    """``value`` as JSON text PostgreSQL accepts. Never raises.

    The common case (plain dicts, lists and strings, as SDK messages are
    once dumped) is encoded by orjson, a tenth of the standard C encoder's
    time (3 µs a KB, three times a span); its JSON is compact (no space
    after ``:`` and ``,``), which is the same JSON to ``jsonb`` and to every
    reader. Text orjson could not write as we do goes through the standard
    encoder, and :func:`to_json` only walks values that need it: NaN and
    infinity (which orjson writes as ``null``, so text with a ``null`` is
    encoded again), NUL, lone surrogates and integers past 64 bits (which
    orjson refuses), odd keys.
    """
    try:
        data = orjson.dumps(value, default=to_json, option=_ORJSON_OPTIONS)
        if _NULL.search(data) is None and (b"\\" not in data or b"\\u0000" not in data):
            return data.decode()
    except (orjson.JSONEncodeError, RecursionError):
        pass
    try:
        text = _encode(value)
        if "\\u0000" not in text:
            if not text.isascii():  # O(1): a flag of the string
                text.encode("utf-8")  # lone surrogates fail here
            return text
    except (ValueError, TypeError, RecursionError):
        pass
    return _encoder.encode(to_json(value))


#: Words that name a credential, whatever their spelling: a metadata key made
#: of one, or a ``name: value`` / ``name=value`` in text, holds a secret.
_SECRET_NAME = (
    r"api[-_.]?key|authorization|auth[-_.]?token|access[-_.]?token|secret|password|cookie"
)
_SECRET_KEY = re.compile(_SECRET_NAME, re.IGNORECASE)
#: Credentials written out in text, as error messages and echoed requests
#: show them: an ``sk-...`` key or a ``Bearer ...`` token anywhere, and the
#: value after a credential's name (``Authorization: Basic ...``,
#: ``"x-api-key": "..."``, ``password=...``). The name and its separator stay,
#: so the text still says what was there; ``[redacted]`` itself never
#: matches, so scrubbing twice changes nothing. No pattern backtracks over
#: the text before a name: long strings are scrubbed in linear time.
_SECRET_TEXT = re.compile(
    rf"(?P<name>(?:{_SECRET_NAME})[\w.-]{{0,40}})(?P<separator>[\"']?\s*[:=]\s*[\"']?)"
    r"(?:(?:bearer|basic|token)\s+)?[^\s\"',;&{}\[\]]+"
    r"|\b(?:sk-[A-Za-z0-9_-]{12,}|Bearer\s+\S+)",
    re.IGNORECASE,
)

#: What every match of ``_SECRET_TEXT`` contains, once lowercased: most
#: strings have none of it and skip that (several times slower) pattern.
_SECRET_HINT = re.compile("sk-|bearer|api|auth|access|secret|password|cookie", re.IGNORECASE)

REDACTED = "[redacted]"


@functools.lru_cache(maxsize=1024)
def _is_secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def _redacted(match: re.Match[str]) -> str:
    if match["name"] is None:
        return REDACTED
    return match["name"] + match["separator"] + REDACTED


def scrub_text(text: str) -> str:
    """``text`` with the credentials it spells out replaced by ``[redacted]``.

    Error messages are where keys leak: a gateway's 401 that echoes the key,
    an exception that quotes the request's headers.
    """
    if _SECRET_HINT.search(text) is None:
        return text
    return _SECRET_TEXT.sub(_redacted, text)


@overload
def stored_text(value: None, limit: int | None = None) -> None: ...
@overload
def stored_text(value: str, limit: int | None = None) -> str: ...
@overload
def stored_text(value: object, limit: int | None = None) -> str | None: ...


def stored_text(value: object, limit: int | None = None) -> str | None:
    """``value`` as every text column stores it: valid, without credentials, cut to ``limit``.

    The one treatment of stored strings (names, errors, models), so a secret
    scrubbed from metadata is scrubbed from an error message too. Cut after
    scrubbing, so a cut never leaves the start of a key unrecognised.
    """
    if value is None:
        return None
    if type(value) is str and len(value) <= _REPEATED_TEXT:
        return _short_text(value, limit)
    text = scrub_text(clean_text(str(value)))
    return text[:limit] if limit else text


#: Names, models, providers, kinds and statuses repeat from span to span: the
#: writer treats each short one once (about 1.5 µs each on its thread, which
#: the host's threads wait for at the interpreter lock).
_REPEATED_TEXT = 255


@functools.lru_cache(maxsize=4096)
def _short_text(value: str, limit: int | None) -> str:
    text = scrub_text(clean_text(value))
    return text[:limit] if limit else text


#: Values a metadata mapping holds as they are, or (``str``) as :func:`stored_text`.
_PLAIN = frozenset({str, int, float, bool, type(None)})


@functools.lru_cache(maxsize=1024)
def _kept_key(key: str) -> str | None:
    """A metadata key as stored, or ``None`` for one that names a credential."""
    key = clean_text(key)
    return None if _is_secret_key(key) else key


def clean_metadata(value: Mapping[Any, Any]) -> dict[str, Any]:
    """A trace's or span's metadata JSON-safe, secrets dropped and scrubbed.

    A flat mapping of text keys and plain values, as the instrumentation
    writes, is cleaned in one walk with cached keys and short strings; anything
    else takes :func:`to_json` and :func:`scrub_secrets`, with the same
    result. The walks cost 5 µs a span; the database and the OpenTelemetry
    export both take the metadata this way.
    """
    kept: dict[str, Any] = {}
    for key, item in value.items():
        if key.__class__ is not str or item.__class__ not in _PLAIN:
            cleaned: dict[str, Any] = scrub_secrets(to_json(dict(value)))
            return cleaned
        stored_key = _kept_key(key)
        if stored_key is not None:
            if item.__class__ is str:
                item = stored_text(item)
            elif item.__class__ is float:
                item = to_json(item)  # NaN and infinity
            kept[stored_key] = item
    return kept


def metadata_json(value: Mapping[Any, Any]) -> str:
    """The JSON of :func:`clean_metadata`. Never raises."""
    return dumps(clean_metadata(value))


def scrub_secrets(value: Any) -> Any:
    """JSON-safe ``value`` without API keys or authorization headers.

    Keys that name a credential are dropped; strings go through
    :func:`scrub_text`.
    """
    if isinstance(value, dict):
        return {k: scrub_secrets(v) for k, v in value.items() if not _is_secret_key(k)}
    if isinstance(value, list):
        return [scrub_secrets(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value
