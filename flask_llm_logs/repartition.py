"""Partitioning a table that holds rows while the app writes: ``flask llm-logs db partition``.

Migration 0011 partitions only empty tables: copying millions of rows in the
upgrade's one transaction would lock the writers out for as long. Here,
for each table of :data:`.partitions.TABLES` still unpartitioned:

1. One short transaction makes the partitioned twin (:func:`.partitions.build_twin`)
   with partitions from the oldest row's period to the coming ones, and a
   trigger on the table that mirrors every insert, update and delete into the
   twin from then on: the writers keep writing to the table, and the twin
   keeps up with what they write.
2. The rows that were there before are copied in chunks, in primary key
   order, each chunk a transaction of its own that also records how far the
   copy got (the key of its last row) in the twin's comment. Interrupted,
   the command starts again from there: its state is in the database.
3. The swap takes the table's lock (waiting :data:`SWAP_LOCK_TIMEOUT` at most
   at a time, and trying again), copies what is left after the last chunk,
   drops the table and gives the twin its names. Writers wait for that
   transaction only, not for the copy.

A row copied by a chunk and changed meanwhile is settled by the trigger's
upsert, whichever commits first (the chunk skips a row the trigger stored;
the trigger overwrites a row the chunk stored). PostgreSQL only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine

from . import partitions
from .partitions import TWIN
from .postgres import set_local

#: Rows copied per transaction.
DEFAULT_CHUNK_SIZE = 10_000
#: How long the swap waits for the table's lock before letting the writers
#: through and trying again.
SWAP_LOCK_TIMEOUT = "5s"
SWAP_ATTEMPTS = 20


@dataclasses.dataclass(frozen=True)
class Progress:
    """What :func:`partition_table` reports after each chunk."""

    table: str
    copied: int
    #: The planner's estimate of the table's rows.
    estimated: int


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _columns(connection: Connection, table: str) -> list[str]:
    query = sa.text(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:table)"
        " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
    )
    return list(connection.scalars(query, {"table": table}))


def _mirror(connection: Connection, table: str) -> None:
    """The trigger that keeps the twin up with the writes to ``table``."""
    quote = _quote
    twin = quote(connection, table + TWIN)
    key = partitions.primary_key(connection, table + TWIN)
    columns = _columns(connection, table)
    old = " AND ".join(f"{quote(connection, c)} = OLD.{quote(connection, c)}" for c in key)
    updates = ", ".join(
        f"{quote(connection, c)} = EXCLUDED.{quote(connection, c)}" for c in columns
    )
    function = quote(connection, f"{table}_mirror")
    connection.execute(
        sa.text(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            f"  IF TG_OP <> 'INSERT' THEN DELETE FROM {twin} WHERE {old}; END IF;\n"
            f"  IF TG_OP <> 'DELETE' THEN INSERT INTO {twin} VALUES (NEW.*)"
            f" ON CONFLICT ON CONSTRAINT {quote(connection, f'pk_{table}{TWIN}')}"
            f" DO UPDATE SET {updates}; END IF;\n"
            "  RETURN NULL;\n"
            "END $$"
        )
    )
    connection.execute(
        sa.text(
            f"CREATE TRIGGER {quote(connection, f'{table}_mirror')} AFTER INSERT OR UPDATE"
            f" OR DELETE ON {quote(connection, table)} FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
    )


def _watermark(connection: Connection, table: str) -> list[str] | None:
    """The key of the last row copied, from the twin's comment (``None``: none yet)."""
    query = sa.text("SELECT obj_description(to_regclass(:twin), 'pg_class')")
    comment = connection.scalar(query, {"twin": table + TWIN})
    return None if not comment else list(json.loads(comment))


def _set_watermark(connection: Connection, table: str, key: list[Any]) -> None:
    text = json.dumps([str(value) for value in key]).replace("'", "''")
    connection.execute(sa.text(f"COMMENT ON TABLE {_quote(connection, table + TWIN)} IS '{text}'"))


def _start(connection: Connection, table: str, interval: str, now: dt.datetime) -> None:
    """Step 1: the twin, its partitions from the oldest row on, and the trigger."""
    partitions.build_twin(connection, table)
    key = _quote(connection, partitions.TABLES[table].key)
    oldest = connection.scalar(sa.text(f"SELECT min({key}) FROM {_quote(connection, table)}"))
    starts = list(partitions.periods(oldest or now, now, interval))
    for _ in range(partitions.AHEAD):
        starts.append(partitions.next_start(starts[-1], interval))
    for start in starts:
        partitions.create_partition(connection, table + TWIN, start, interval)
    _mirror(connection, table)


def _copy_chunk(connection: Connection, table: str, limit: int | None) -> int:
    """Copy the rows after the watermark (``limit`` of them at most); how many."""
    quote = _quote
    key = partitions.primary_key(connection, table)
    key_list = ", ".join(quote(connection, c) for c in key)
    watermark = _watermark(connection, table)
    where, params = "", {}
    if watermark is not None:
        marks = ", ".join(f":w{n}" for n in range(len(key)))
        where = f" WHERE ({key_list}) > ({marks})"
        params = {f"w{n}": value for n, value in enumerate(watermark)}
    last = f" LIMIT {int(limit)}" if limit is not None else ""
    row = connection.execute(
        sa.text(
            f"WITH chunk AS MATERIALIZED (SELECT * FROM {quote(connection, table)}{where}"
            f" ORDER BY {key_list}{last}),"
            f" copied AS (INSERT INTO {quote(connection, table + TWIN)} SELECT * FROM chunk"
            " ON CONFLICT DO NOTHING)"
            f" SELECT (SELECT count(*) FROM chunk), {key_list} FROM chunk"
            f" ORDER BY {', '.join(f'{quote(connection, c)} DESC' for c in key)} LIMIT 1"
        ),
        params,
    ).first()
    if row is None:
        return 0
    _set_watermark(connection, table, list(row[1:]))
    return int(row[0])


def _swap(engine: Engine, table: str) -> None:
    """Step 3: under the table's lock, the rest of the rows, then the twin in its place."""
    for attempt in range(SWAP_ATTEMPTS):
        try:
            with engine.begin() as connection:
                set_local(connection, lock_timeout=SWAP_LOCK_TIMEOUT)
                connection.execute(
                    sa.text(f"LOCK TABLE {_quote(connection, table)} IN ACCESS EXCLUSIVE MODE")
                )
                _copy_chunk(connection, table, None)
                partitions.swap(connection, table)
                connection.execute(
                    sa.text(f"DROP FUNCTION {_quote(connection, f'{table}_mirror')}()")
                )
                return
        except sa.exc.OperationalError as error:
            if "lock timeout" not in str(error) or attempt == SWAP_ATTEMPTS - 1:
                raise


def partition_table(
    engine: Engine,
    table: str,
    interval: str,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    on_progress: Callable[[Progress], None] | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Partition ``table`` while the app runs (see the module docstring); whether it had
    to (``False``: partitioned already). Starts again where an interrupted run stopped."""
    now = now or dt.datetime.now(dt.timezone.utc)
    with engine.begin() as connection:
        if partitions.is_partitioned(connection, table):
            return False
        if connection.scalar(sa.text("SELECT to_regclass(:t)"), {"t": table + TWIN}) is None:
            _start(connection, table, interval, now)
        estimate = sa.text(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass(:t)"
        )
        estimated = int(connection.scalar(estimate, {"t": table}) or 0)
    copied = 0
    while True:
        with engine.begin() as connection:
            count = _copy_chunk(connection, table, chunk_size)
        copied += count
        if on_progress is not None:
            on_progress(Progress(table, copied, estimated))
        if count < chunk_size:
            break
    _swap(engine, table)
    return True


def unpartitioned(engine: Engine) -> list[str]:
    """The tables of :data:`.partitions.TABLES` not partitioned yet (PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as connection:
        return [t for t in partitions.TABLES if not partitions.is_partitioned(connection, t)]
