"""The declarative base shared by every table of the extension.

The tables live on their own :class:`~sqlalchemy.MetaData`, not on the host's
``db.Model``: the host's ``db.create_all()`` and Flask-Migrate autogenerate
must not see them (our own Alembic environment owns them), and a bind key can
route all of them to a separate logs database.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from random import Random
from typing import Any

from flask import current_app
from flask import has_app_context
from sqlalchemy import JSON
from sqlalchemy import DateTime
from sqlalchemy import MetaData
from sqlalchemy import Text
from sqlalchemy import TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

from .. import process
from ..tracing.serialize import stored_text

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSON everywhere, JSONB on PostgreSQL (indexable, compact).
JSONType = JSON().with_variant(JSONB(), "postgresql")


class ErrorText(TypeDecorator[str]):
    """Text of an error, stored without the credentials it spells out.

    Batch jobs write errors from many places (ORM attributes and ``UPDATE``
    statements) with messages from providers and handlers, which may echo an
    API key; the column applies :func:`.stored_text` to every value written.
    The writer's tables do not need it: the writer scrubs each row itself
    (its ``COPY`` bypasses column types).
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return stored_text(value)


class _BindKeyOfCurrentApp(dict[str, Any]):
    """``Base.metadata.info``, whose ``bind_key`` is the current app's ``LLM_LOGS_BIND_KEY``.

    Flask-SQLAlchemy's session picks the engine for a table by the
    ``bind_key`` in its metadata's ``info``, among the current app's engines.
    One metadata serves every app of the process, so a value stored on it
    would be the last initialised app's; read from the current app, each
    app's ``db.session`` sends our tables to its own logs database.
    """

    def __contains__(self, key: object) -> bool:
        if key == "bind_key":
            return has_app_context() and "LLM_LOGS_BIND_KEY" in current_app.config
        return super().__contains__(key)

    def __getitem__(self, key: str) -> Any:
        if key == "bind_key" and key in self:
            return current_app.config["LLM_LOGS_BIND_KEY"]
        return super().__getitem__(key)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    metadata.info = _BindKeyOfCurrentApp()
    type_annotation_map = {
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        Any: JSONType,
        dt.datetime: DateTime(timezone=True),
    }


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC, with its zone: a naive value is UTC already (SQLite gives
    every stored time back naive)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def naive_utc(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC, without its zone: how the UI's arguments, cursors and
    exports carry times (a naive value is UTC already)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


#: The ids' own generator: a host that seeds :mod:`random` (to make a run
#: repeatable) must not make its workers repeat each other's ids, nor see its
#: sequence change when tracing is on. Reseeded in a forked child.
_random = Random()
process.after_fork_in_child(_random.seed)

#: The bits of a UUID 7 that say "version 7, RFC 4122 variant"; the rest of
#: the 80 low bits are random.
_VERSION_7 = (0x7 << 76) | (0x2 << 62)
_RANDOM_BITS = ((1 << 80) - 1) & ~(0xF << 76) & ~(0x3 << 62)
#: How ``UUID`` sets its read-only slots itself; the enum member read once
#: (each read of ``SafeUUID.unknown`` runs the enum's descriptor).
_make_uuid = object.__new__
_set_slot = object.__setattr__
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown


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
    # ``UUID(int=...)`` checks its arguments in Python code (several microseconds
    # between two calls of an SDK); the value here is a valid UUID by construction.
    new = _make_uuid(uuid.UUID)
    _set_slot(new, "int", (millis << 80) | (_random.getrandbits(80) & _RANDOM_BITS) | _VERSION_7)
    _set_slot(new, "is_safe", _UNKNOWN_SAFETY)
    return new


def id_made_at(moment: dt.datetime) -> uuid.UUID:
    """A UUID 7 as :func:`new_id` would have made it at ``moment`` (aware): for rows
    made with a time of their own (imports, tests, benchmarks), so that the time
    in the id is the row's, as :func:`id_time` expects."""
    millis = int(moment.timestamp() * 1000)
    return uuid.UUID(int=(millis << 80) | (_random.getrandbits(80) & _RANDOM_BITS) | _VERSION_7)


def first_id_at(moment: dt.datetime) -> uuid.UUID:
    """The lowest UUID 7 of ``moment``'s millisecond (aware): every one made before it
    sorts lower, by its bytes, as PostgreSQL sorts uuids (and Python by ``UUID.int``)."""
    return uuid.UUID(int=(int(moment.timestamp() * 1000) << 80) | _VERSION_7)


#: How far a trace's start may be from the time in its id, and a span's or
#: score's before its trace's start (clocks of several hosts), for the ranges
#: that let PostgreSQL read only the partitions a trace's rows are in (the
#: UI's reads, the writer's rollups).
ID_TIME_SLACK = dt.timedelta(days=1)
CLOCK_SLACK = dt.timedelta(hours=1)

#: The ends of time (aware UTC), for a range that must keep every row.
EARLIEST = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
LATEST = dt.datetime.max.replace(tzinfo=dt.timezone.utc)


def id_time(row_id: uuid.UUID) -> dt.datetime | None:
    """When a UUID 7 was made (UTC); ``None`` for an id of another version (an
    OpenTelemetry trace id, an id from elsewhere)."""
    if row_id.version != 7:
        return None
    return dt.datetime.fromtimestamp((row_id.int >> 80) / 1000, dt.timezone.utc)
