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
from random import Random
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


#: The ids' own generator: a host that seeds :mod:`random` (to make a run
#: repeatable) must not make its workers repeat each other's ids, nor see its
#: sequence change when tracing is on. Reseeded in a forked child.
_random = Random()
if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_random.seed)

#: The bits of a UUID 7 that say "version 7, RFC 4122 variant"; the rest of
#: the 80 low bits are random.
_VERSION_7 = (0x7 << 76) | (0x2 << 62)
_RANDOM_BITS = ((1 << 80) - 1) & ~(0xF << 76) & ~(0x3 << 62)


def new_id() -> uuid.UUID:
    """A time-ordered UUID (version 7 layout).

    Trace and span ids are made in the caller's process before anything is
    written, so parents and children can reference each other while the rows
    arrive in any order. Time order keeps inserts at the right edge of the
    primary-key index, which is what makes bulk ingest fast.

    The random bits come from a :class:`random.Random` of their own, not
    ``os.urandom``: an id is not a secret, and the system call cost
    microseconds on the host's LLM call (two or three ids each). The
    generator is reseeded from the operating system in a forked child, so
    workers forked from one parent do not repeat each other's ids.
    """
    millis = time.time_ns() // 1_000_000
    return uuid.UUID(int=(millis << 80) | (_random.getrandbits(80) & _RANDOM_BITS) | _VERSION_7)
