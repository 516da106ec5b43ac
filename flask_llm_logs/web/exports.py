"""CSV downloads, streamed, with cells a spreadsheet would run made inert.

A download of a million traces must not sit in memory: rows come from a
generator (keyset pages of the database, see
``trace_queries.export_traces``) and leave as chunks of about
:data:`CHUNK_CHARS` characters while the next page is read.

Trace names, users, tags and errors are whatever the app (or a model) wrote.
Opened in Excel, LibreOffice or Google Sheets, a cell starting with ``=``,
``+``, ``-`` or ``@`` is a formula (``=HYPERLINK(...)``, ``=cmd|...``), and a
leading tab or carriage return can hide one. As OWASP's "CSV Injection"
advises, such text cells get a leading apostrophe, which spreadsheets show
as text and do not display. Numbers are written as numbers, so ``-5`` stays
a negative number.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from typing import Any

from flask import Response
from flask import stream_with_context

from ..models.base import naive_utc

#: Text starting with one of these is a formula to a spreadsheet (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: Characters gathered before a chunk is sent.
CHUNK_CHARS = 64 * 1024


def _plain_number(value: float) -> str:
    """``0.00001``, never ``1e-05`` (which some spreadsheets read as text)."""
    if not math.isfinite(value):
        return str(value)
    text = format(decimal.Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def cell(value: Any) -> Any:
    """One value as a CSV cell: numbers as numbers, times in UTC, text made inert."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _plain_number(value)
    if isinstance(value, dt.datetime):
        return naive_utc(value).isoformat(sep=" ")
    if isinstance(value, (list, tuple)):
        text = ", ".join(str(item) for item in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def stream(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text of ``header`` and ``rows``, in chunks of about :data:`CHUNK_CHARS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(value) for value in row])
        if buffer.tell() >= CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A streamed CSV download; the request's context (and its database session)
    stays open until the last row is sent."""
    return Response(
        stream_with_context(stream(header, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
