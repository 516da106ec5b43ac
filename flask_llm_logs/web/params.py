"""The UI's request parameters: ids and cursors from URLs, filters from query strings.

A value that does not parse is the client's mistake, never the database's:
it raises :class:`~werkzeug.exceptions.BadRequest` (or
:class:`~werkzeug.exceptions.NotFound` for an id in the path) with a
message naming the parameter, which the UI shows as a 400 or 404 page.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Protocol
from typing import TypeVar

from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import NotFound

from ..models.base import naive_utc

#: The longest text accepted in a filter field; longer is a malformed request.
MAX_FILTER_LENGTH = 500


def parse_id(value: str) -> uuid.UUID:
    """A trace or span id from a URL; anything that is not a UUID is a 404."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{value!r} is not a trace or span id.") from None


#: Integer ids and cursors fit PostgreSQL's ``integer``; a larger number in a
#: URL would be a database error (a 500) instead of a 400 or 404.
MAX_INTEGER_ID = 2**31 - 1


def _whole_number(value: str) -> int | None:
    if value.isascii() and value.isdigit() and len(value) <= 10 and int(value) <= MAX_INTEGER_ID:
        return int(value)
    return None


def parse_batch_id(value: str) -> int:
    number = _whole_number(value)
    if number is None:
        raise NotFound(f"{value!r} is not a batch id.")
    return number


def encode_cursor(started_at: dt.datetime, row_id: uuid.UUID) -> str:
    """An opaque ``after=`` value for the row a page ended on."""
    raw = f"{naive_utc(started_at).isoformat()}|{row_id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        started_at, row_id = raw.split("|")
        return dt.datetime.fromisoformat(started_at), uuid.UUID(row_id)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("after: not a page cursor made by this UI.") from None


class _Listed(Protocol):
    """A row of a list paginated by ``(started_at, id)``."""

    @property
    def started_at(self) -> dt.datetime: ...

    @property
    def id(self) -> uuid.UUID: ...


_Row = TypeVar("_Row", bound=_Listed)


def next_page(rows: Iterable[_Row], page_size: int) -> tuple[list[_Row], str | None]:
    """A page of ``rows`` and the cursor of the page after it (``None`` if none).

    The query asks for ``page_size + 1`` rows: the extra one only tells that
    there is a next page, without a count over the whole list.
    """
    page = list(rows)
    if len(page) <= page_size:
        return page, None
    page = page[:page_size]
    return page, encode_cursor(page[-1].started_at, page[-1].id)


def text_arg(args: Mapping[str, str], key: str) -> str | None:
    """A text query argument, stripped; ``None`` when empty, 400 when it cannot be a filter."""
    value = args.get(key, "").strip()
    if len(value) > MAX_FILTER_LENGTH:
        raise BadRequest(f"{key}: longer than {MAX_FILTER_LENGTH} characters.")
    if "\x00" in value:
        raise BadRequest(f"{key}: contains a NUL character.")
    return value or None


def datetime_arg(args: Mapping[str, str], key: str) -> dt.datetime | None:
    value = text_arg(args, key)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{key}: {value!r} is not a date or date and time.") from None
    try:
        return naive_utc(parsed)  # naive means UTC, as stored
    except OverflowError:
        raise BadRequest(f"{key}: {value!r} is out of range.") from None


def int_arg(args: Mapping[str, str], key: str) -> int | None:
    """A whole-number query argument (an id, a page cursor); 400 if it is not one."""
    value = text_arg(args, key)
    if value is None:
        return None
    number = _whole_number(value)
    if number is None:
        raise BadRequest(f"{key}: {value!r} is not an id.")
    return number


def float_arg(args: Mapping[str, str], key: str) -> float | None:
    """A number query argument (a score bound); 400 if it is not a finite number."""
    value = text_arg(args, key)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise BadRequest(f"{key}: {value!r} is not a number.")
    return number
