"""The declarative base shared by every table of the extension.

The tables live on their own :class:`~sqlalchemy.MetaData`, not on the host's
``db.Model``: the host's ``db.create_all()`` and Flask-Migrate autogenerate
must not see them (our own Alembic environment owns them), and a bind key can
route all of them to a separate logs database.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import DateTime
from sqlalchemy import MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSON everywhere, JSONB on PostgreSQL (indexable, compact).
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        Any: JSONType,
        dt.datetime: DateTime(timezone=True),
    }


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_id() -> uuid.UUID:
    """A time-ordered UUID (version 7 layout).

    Trace and span ids are made in the caller's process before anything is
    written, so parents and children can reference each other while the rows
    arrive in any order. Time order keeps inserts at the right edge of the
    primary-key index, which is what makes bulk ingest fast.
    """
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80
    value |= int.from_bytes(os.urandom(10), "big") & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return uuid.UUID(int=value)
