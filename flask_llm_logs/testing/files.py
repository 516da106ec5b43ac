"""Uploaded and generated files, kept in memory, and multipart form parsing.

Batch input files arrive as ``multipart/form-data``; output and error files
are made by :mod:`.batches`. Both are served back by ``GET
/v1/files/{id}/content`` exactly as stored.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from typing import Any

from .engine import new_id
from .errors import ApiError

_PARAM = re.compile(r'(\w+)\*?="([^"]*)"|(\w+)=([^;\s]+)')


@dataclasses.dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart form."""

    filename: str
    content: bytes
    content_type: str | None = None


def _header_params(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for quoted_key, quoted, bare_key, bare in _PARAM.findall(value):
        if quoted_key:
            params[quoted_key.lower()] = quoted
        else:
            params[bare_key.lower()] = bare
    return params


def parse_multipart(body: bytes, content_type: str) -> dict[str, str | UploadedFile]:
    """Fields of a ``multipart/form-data`` body: text values and uploaded files.

    A small parser of our own: the stdlib's ``cgi`` is gone in 3.13, and the
    ``email`` parser is slow and lossy on multi-megabyte binary parts.
    """
    boundary = _header_params(content_type).get("boundary")
    if not boundary:
        raise ApiError(400, "Multipart body without a boundary.")
    fields: dict[str, str | UploadedFile] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for raw_part in body.split(delimiter)[1:]:
        if raw_part.startswith(b"--"):
            break  # closing delimiter
        part = raw_part[2:] if raw_part.startswith(b"\r\n") else raw_part
        head, _, content = part.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = _header_params(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            continue
        if "filename" in disposition:
            fields[name] = UploadedFile(
                disposition["filename"], content, headers.get("content-type")
            )
        else:
            fields[name] = content.decode("utf-8")
    return fields


@dataclasses.dataclass
class StoredFile:
    """A file of the fake's ``/v1/files`` store."""

    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int

    def to_api(self) -> dict[str, Any]:
        """The OpenAI ``file`` object."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")


class FileStore:
    """Thread-safe in-memory files, in upload order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, StoredFile] = {}

    def add(self, filename: str, purpose: str, content: bytes) -> StoredFile:
        stored = StoredFile(new_id("file-"), filename, purpose, content, int(time.time()))
        with self._lock:
            self._files[stored.id] = stored
        return stored

    def get(self, file_id: str) -> StoredFile:
        """The file, or an OpenAI 404 error."""
        stored = self._files.get(file_id)
        if stored is None:
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return stored

    def delete(self, file_id: str) -> None:
        with self._lock:
            if self._files.pop(file_id, None) is None:
                raise ApiError(404, f"No such File object: {file_id}", param="id")

    def all(self) -> list[StoredFile]:
        """Every file, oldest first."""
        with self._lock:
            return list(self._files.values())

    def clear(self) -> None:
        with self._lock:
            self._files.clear()

    def create_from_form(self, fields: dict[str, str | UploadedFile]) -> StoredFile:
        """Handle ``POST /v1/files``: a ``file`` part and a ``purpose`` field."""
        upload = fields.get("file")
        if not isinstance(upload, UploadedFile):
            raise ApiError(
                400, "Missing required parameter: 'file'.", code="missing_required_parameter"
            )
        purpose = fields.get("purpose")
        if not isinstance(purpose, str) or not purpose:
            raise ApiError(
                400,
                "Missing required parameter: 'purpose'.",
                code="missing_required_parameter",
                param="purpose",
            )
        return self.add(upload.filename, purpose, upload.content)
