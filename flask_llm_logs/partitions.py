"""Time partitions of the big tables on PostgreSQL: making, filling and dropping them.

Traces, spans, scores and the metrics table are partitioned by range on a
time column (:data:`TABLES`), a month or a day a partition
(``LLM_LOGS_PARTITION_INTERVAL``). Why: the retention purge then drops a
month in a few milliseconds instead of deleting millions of rows (and
leaving the bloat ``VACUUM`` must clean), and a query with a range on the
time column reads only the partitions that range covers.

Each table has a ``DEFAULT`` partition, so a row whose time has no partition
(a clock far off, a maintenance that did not run) is stored, never lost;
:func:`maintain` moves such rows into the partition made for them later.
Partitions are made ahead of time by :func:`maintain`, which the writer runs
when it starts and every hour on its own thread (never the LLM call's) and
the purge job runs too.

A partitioned table's primary key must hold its partition key, so on
PostgreSQL the key of a trace is ``(id, started_at)``, of a span
``(id, started_at)``, of a score ``(id, created_at)``; the metrics table's
key holds its bucket already. No foreign key references these tables (rows
arrive out of order, see ``models.tracing``), so none had to change.

SQLite knows no partitions: everything here is for PostgreSQL only, and the
callers check :func:`is_partitioned` (or the dialect) first. The module
imports no model: the migrations use it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine

from .postgres import set_local


@dataclasses.dataclass(frozen=True)
class PartitionedTable:
    """A table partitioned by time: its partition key, whether its primary key gains
    that key on partitioning (the metrics' key holds it already), and the fillfactor
    of its partitions (``None``: PostgreSQL's, 100)."""

    name: str
    key: str
    key_added_to_primary_key: bool = True
    fillfactor: int | None = None


#: The tables partitioned on PostgreSQL, by name.
TABLES = {
    table.name: table
    for table in (
        PartitionedTable("llm_logs_traces", "started_at"),
        PartitionedTable("llm_logs_spans", "started_at"),
        PartitionedTable("llm_logs_scores", "created_at"),
        # The writer adds to the same rows batch after batch. Room left on each page
        # lets an update stay on its row's page (a HOT update: no index entry added,
        # the old version pruned with the page); on full pages each update added an
        # entry to both indexes and moved the row. See docs/performance.rst.
        PartitionedTable(
            "llm_logs_metrics", "bucket", key_added_to_primary_key=False, fillfactor=70
        ),
    )
}

#: ``LLM_LOGS_PARTITION_INTERVAL``'s values.
INTERVALS = ("month", "day")
#: Partitions made beyond the current one, so a clock a little ahead and the
#: first rows after midnight or the month's end land in their own partition.
AHEAD = 2
#: How long a maintenance statement waits for its lock before giving up for
#: this round: a long report reading the table must not queue every writer
#: behind the partition's ``CREATE``.
LOCK_TIMEOUT = "2s"
#: The SQLSTATE of a lock not granted within ``lock_timeout``.
LOCK_NOT_AVAILABLE = "55P03"
#: The suffix of a twin's table, constraints and indexes until it is swapped in.
TWIN = "__p"
#: The advisory lock that lets one process of many maintain the partitions at a time.
MAINTENANCE_LOCK_KEY = int.from_bytes(b"llm-part", "big") >> 1


@dataclasses.dataclass(frozen=True, order=True)
class Partition:
    """A range partition: rows with ``start <= key < end``."""

    start: dt.datetime
    end: dt.datetime
    name: str


def period_start(moment: dt.datetime, interval: str) -> dt.datetime:
    """The start (UTC) of the month or day ``moment`` falls in."""
    moment = moment.astimezone(dt.timezone.utc)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day.replace(day=1) if interval == "month" else day


def next_start(start: dt.datetime, interval: str) -> dt.datetime:
    """The start of the period after the one starting at ``start``."""
    if interval == "day":
        return start + dt.timedelta(days=1)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def periods(first: dt.datetime, last: dt.datetime, interval: str) -> Iterator[dt.datetime]:
    """The starts of the periods from the one ``first`` is in to the one ``last`` is in."""
    start = period_start(first, interval)
    while start <= last:
        yield start
        start = next_start(start, interval)


def partition_name(table: str, start: dt.datetime, interval: str) -> str:
    """``llm_logs_spans_p202612`` (a month), ``llm_logs_spans_p20261206`` (a day)."""
    return f"{table}_p{start:%Y%m}" if interval == "month" else f"{table}_p{start:%Y%m%d}"


def default_name(table: str) -> str:
    return f"{table}_default"


_PART = re.compile(
    "^(?:" + "|".join(TABLES) + rf")(?:{re.escape(TWIN)})?(?:_p\d{{6}}|_p\d{{8}}|_default)?$"
)


def is_part(name: str) -> bool:
    """Whether ``name`` is one of the partitions of :data:`TABLES` or a twin in the
    making: tables of ours that the host's migrations must not see."""
    return name not in TABLES and _PART.match(name) is not None


def _literal(moment: dt.datetime) -> str:
    # DDL takes no bound parameters; a datetime's ISO text is safe to inline.
    return f"'{moment.astimezone(dt.timezone.utc).isoformat()}'"


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def storage(table: str) -> str:
    """The ``WITH (..)`` clause a plain table or partition of ``table`` (or of its twin)
    is made with: its fillfactor, if it has one; else nothing."""
    fillfactor = TABLES[table.removesuffix(TWIN)].fillfactor
    return "" if fillfactor is None else f" WITH (fillfactor = {fillfactor})"


def has_twin(connection: Connection, table: str) -> bool:
    """Whether ``table``'s twin exists (PostgreSQL): an unfinished ``flask llm-logs db
    partition`` left it, and a migration changing ``table``'s indexes changes it too
    (the command's swap keeps the twin's indexes, not the table's)."""
    if connection.dialect.name != "postgresql":
        return False
    query = sa.text("SELECT to_regclass(:name) IS NOT NULL")
    return bool(connection.scalar(query, {"name": table + TWIN}))


def is_partitioned(connection: Connection, table: str) -> bool:
    """Whether ``table`` exists and is partitioned (always ``False`` on SQLite)."""
    if connection.dialect.name != "postgresql":
        return False
    query = sa.text("SELECT c.relkind = 'p' FROM pg_class c WHERE c.oid = to_regclass(:table)")
    return bool(connection.scalar(query, {"table": table}))


_BOUND = re.compile(r"FOR VALUES FROM \('([^']+)'\) TO \('([^']+)'\)")


def partitions(connection: Connection, table: str) -> list[Partition]:
    """The range partitions of ``table``, oldest first (the default partition is not one)."""
    return partitions_of(connection, [table]).get(table, [])


def partitions_of(connection: Connection, tables: Iterable[str]) -> dict[str, list[Partition]]:
    """The range partitions of each of ``tables`` that is partitioned, oldest first, in
    one catalog query (a partitioned table without partitions maps to ``[]``)."""
    rows = connection.execute(
        sa.text(
            "SELECT p.relname, c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_class p"
            " LEFT JOIN pg_inherits i ON i.inhparent = p.oid"
            " LEFT JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE p.relkind = 'p'"
            " AND p.oid IN (SELECT to_regclass(t) FROM unnest(CAST(:tables AS text[])) t)"
        ),
        {"tables": list(tables)},
    )
    found: dict[str, list[Partition]] = {}
    for table, name, bound in rows:
        found.setdefault(table, [])
        match = _BOUND.match(bound or "")
        if match is not None:  # not the default
            start, end = (_parse_time(text) for text in match.groups())
            found[table].append(Partition(start, end, name))
    return {table: sorted(parts) for table, parts in found.items()}


def holding(
    connection: Connection, table: str, column: str, low: str, high: str
) -> list[str] | None:
    """The partitions of ``table``, its default one among them, that hold a row whose
    ``column`` is between ``low`` and ``high``: two statements, an index probe a partition.
    ``None`` for a table that has none (SQLite's, or one not partitioned yet).

    A statement on the partitioned table given a list of values and no range
    on the partition key searches every partition's index for each value.
    The purge deletes a chunk's spans and scores by their traces' ids, which
    are time-ordered (UUID 7): only the partitions around the chunk's time
    hold ids in its range, and a partition holding none is passed over in
    one probe instead of one for each of thousands of ids.
    """
    if connection.dialect.name != "postgresql":
        return None
    children = list(
        connection.scalars(
            sa.text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = to_regclass(:table) ORDER BY c.relname"
            ),
            {"table": table},
        )
    )
    if not children:
        return None
    condition = f"{_quote(connection, column)} BETWEEN :low AND :high"
    by_quoted = {_quote(connection, child): child for child in children}
    found = _with_rows(connection, list(by_quoted), condition, {"low": low, "high": high})
    return [by_quoted[name] for name in found]


def _with_rows(
    connection: Connection, tables: list[str], condition: str, parameters: dict[str, Any]
) -> list[str]:
    """The ``tables`` (quoted names) that hold a row meeting ``condition`` (SQL): one
    statement, an ``EXISTS`` probe of each."""
    which = " UNION ALL ".join(
        f"SELECT {n} WHERE EXISTS (SELECT 1 FROM {table} WHERE {condition})"
        for n, table in enumerate(tables)
    )
    return [tables[n] for n in connection.scalars(sa.text(which), parameters)]


def _parse_time(text: str) -> dt.datetime:
    # PostgreSQL writes the bound in the session's time zone, with its offset.
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _overlaps(existing: list[Partition], start: dt.datetime, end: dt.datetime) -> bool:
    return any(p.start < end and start < p.end for p in existing)


def create_partition(connection: Connection, table: str, start: dt.datetime, interval: str) -> str:
    """Make the partition of ``table`` starting at ``start``, moving into it the rows of its
    range that wait in the default partition; its name.

    PostgreSQL refuses a new partition while the default one holds rows of its
    range, so those rows are taken out first and put back through the parent,
    in the caller's transaction: no reader sees them missing.
    """
    end = next_start(start, interval)
    name = partition_name(table, start, interval)
    # ``table`` may be a twin in the making (see :func:`build_twin`).
    key = _quote(connection, TABLES[table.removesuffix(TWIN)].key)
    parent, default = _quote(connection, table), _quote(connection, default_name(table))
    where = f"{key} >= {_literal(start)} AND {key} < {_literal(end)}"
    connection.execute(
        sa.text(
            "CREATE TEMPORARY TABLE llm_logs_moving ON COMMIT DROP AS"
            f" WITH moved AS (DELETE FROM {default} WHERE {where} RETURNING *)"
            " SELECT * FROM moved"
        )
    )
    connection.execute(
        sa.text(
            f"CREATE TABLE {_quote(connection, name)} PARTITION OF {parent}"
            f" FOR VALUES FROM ({_literal(start)}) TO ({_literal(end)}){storage(table)}"
        )
    )
    connection.execute(sa.text(f"INSERT INTO {parent} SELECT * FROM llm_logs_moving"))
    connection.execute(sa.text("DROP TABLE llm_logs_moving"))
    return name


def _waiting_periods(
    connection: Connection, table: str, interval: str, since: dt.datetime | None
) -> list[dt.datetime]:
    """The periods of the rows in ``table``'s default partition, from ``since`` on."""
    key = _quote(connection, TABLES[table].key)
    query = (
        f"SELECT DISTINCT date_trunc('{interval}', {key} AT TIME ZONE 'UTC')"
        f" FROM {_quote(connection, default_name(table))}"
    )
    params = {}
    if since is not None:
        query += f" WHERE {key} >= :since"
        params["since"] = since
    found = connection.scalars(sa.text(query), params)
    return sorted(start.replace(tzinfo=dt.timezone.utc) for start in found)


def _due(
    connection: Connection,
    table: str,
    existing: list[Partition],
    interval: str,
    now: dt.datetime,
    since: dt.datetime | None,
) -> list[dt.datetime]:
    """The partitions of ``table`` to make (it has ``existing``): the coming ones, and
    those of rows waiting in the default partition."""
    ahead = list(periods(now, now, interval))
    for _ in range(AHEAD):
        ahead.append(next_start(ahead[-1], interval))
    wanted = set(ahead) | set(_waiting_periods(connection, table, interval, since))
    return sorted(
        start for start in wanted if not _overlaps(existing, start, next_start(start, interval))
    )


def _one_at_a_time(connection: Connection) -> bool:
    """Take the maintenance lock for this transaction, if no other process holds it."""
    set_local(connection, lock_timeout=LOCK_TIMEOUT)
    query = sa.text("SELECT pg_try_advisory_xact_lock(:key)")
    return bool(connection.scalar(query, {"key": MAINTENANCE_LOCK_KEY}))


def maintain(
    engine: Engine,
    interval: str,
    *,
    now: dt.datetime | None = None,
    keep_after: dt.datetime | None = None,
) -> list[str]:
    """Make the coming partitions and drain the default partitions; the partitions made.

    Rows in a default partition older than ``keep_after`` (the retention
    cutoff) stay there: the purge deletes them, or keeps them on purpose
    (traces a batch request links to) where their partition was dropped.
    Each partition is made in a transaction of its own; a round another
    process is running, or a lock not granted in :data:`LOCK_TIMEOUT`, is
    left for the next round. Does nothing on SQLite or unpartitioned tables.
    """
    if engine.dialect.name != "postgresql":
        return []
    now = now or dt.datetime.now(dt.timezone.utc)
    made: list[str] = []
    try:
        _make_due(engine, interval, now, keep_after, made)
    except sa.exc.OperationalError as error:
        if getattr(error.orig, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
    return made


def _make_due(
    engine: Engine,
    interval: str,
    now: dt.datetime,
    keep_after: dt.datetime | None,
    made: list[str],
) -> None:
    """:func:`maintain`'s round, adding each partition made to ``made`` as it commits."""
    # One connection and one catalog query for the four tables: this runs at
    # every writer's start. The reads of the default partitions wait for a lock
    # no longer than the ``CREATE`` does: a purge dropping partitions holds
    # the default one's lock, and the writer's first batch waits for this.
    with engine.begin() as connection:
        set_local(connection, lock_timeout=LOCK_TIMEOUT)
        existing = partitions_of(connection, TABLES)
        due = {
            table: _due(connection, table, existing[table], interval, now, keep_after)
            for table in TABLES
            if table in existing
        }
    for table, starts in due.items():
        for start in starts:
            with engine.begin() as connection:
                if not _one_at_a_time(connection):
                    return
                if not _overlaps(partitions(connection, table), start, next_start(start, interval)):
                    made.append(create_partition(connection, table, start, interval))


@dataclasses.dataclass(frozen=True)
class Detached:
    """The partitions of ``table`` that :func:`detach_before` detached: plain tables
    now, for :func:`drop_detached` to drop; ``kept``, how many of their rows were
    copied back into ``table`` to stay. ``leftovers``: tables of ``table`` detached
    by a purge that stopped before it dropped them, dropped with them."""

    table: str
    names: list[str]
    kept: int = 0
    leftovers: list[str] = dataclasses.field(default_factory=list)


def drop_before(engine: Engine, table: str, cutoff: dt.datetime) -> None:
    """Drop the partitions of ``table`` whose range ended by ``cutoff``:
    :func:`detach_before`, then :func:`drop_detached`.

    Does nothing on SQLite or an unpartitioned table.
    """
    drop_detached(engine, detach_before(engine, table, cutoff))


@dataclasses.dataclass(frozen=True)
class Keep:
    """The rows of detached partitions that must stay: those whose ``column`` is among
    the values ``values`` (a SQL query) selects."""

    column: str
    values: str


def detach_before(
    engine: Engine, table: str, cutoff: dt.datetime, *, keep: Keep | None = None
) -> Detached:
    """Detach the partitions of ``table`` whose range ended by ``cutoff``, in one short
    transaction that writes no row but those kept.

    Dropping is :func:`drop_detached`'s, in a transaction of its own: its
    commit, where PostgreSQL truncates every dropped file, takes most of a
    drop's time, and a detached table's drop holds no lock of ``table``, so
    writers wait for the detach only and the purge's deletes go on meanwhile.

    :param keep: the rows of the detached partitions that must stay: they
        are copied into ``table`` (its default partition), in the detach's
        transaction (the purge keeps the traces batch requests link to).
    """
    if engine.dialect.name != "postgresql":
        return Detached(table, [])
    with engine.begin() as connection:
        # An unpartitioned table has no partitions: nothing to detach.
        old = [_quote(connection, p.name) for p in partitions(connection, table) if p.end <= cutoff]
        leftovers = [_quote(connection, name) for name in _detached_leftovers(connection, table)]
        if not old:
            return Detached(table, [], leftovers=leftovers)
        set_local(connection, lock_timeout=LOCK_TIMEOUT)
        parent = _quote(connection, table)
        # One round trip for all the partitions: a round trip per partition
        # was most of the purge's time with daily partitions.
        # Each marked as the purge's, so that only a purge's leftovers are
        # taken for such, not a table detached or restored by hand.
        connection.exec_driver_sql(
            "; ".join(
                f"ALTER TABLE {parent} DETACH PARTITION {name};"
                f" COMMENT ON TABLE {name} IS '{DETACHED_MARK}'"
                for name in old
            )
        )
        kept = 0 if keep is None else _copy_kept(connection, parent, old, keep)
    return Detached(table, old, kept, leftovers)


def _copy_kept(connection: Connection, parent: str, detached: list[str], keep: Keep) -> int:
    """Copy the rows of the ``detached`` partitions that ``keep`` names into ``parent``;
    how many. One statement finds the partitions that hold any, when there are
    values to keep: planning its probe of each partition, whose catalog entries
    the detach has just made stale, took 60 ms for 30 of them."""
    if not connection.scalar(sa.text(f"SELECT EXISTS ({keep.values})")):
        return 0
    kept_rows = f"{_quote(connection, keep.column)} IN ({keep.values})"
    kept = 0
    for name in _with_rows(connection, detached, kept_rows, {}):
        insert = f"INSERT INTO {parent} SELECT * FROM {name} WHERE {kept_rows}"
        kept += connection.execute(sa.text(insert)).rowcount
    return kept


#: The comment :func:`detach_before` gives the partitions it detaches.
DETACHED_MARK = "flask-llm-logs: detached by the purge, to be dropped"


def _detached_leftovers(connection: Connection, table: str) -> list[str]:
    """The plain tables named as ``table``'s partitions, in its schema, that bear
    :data:`DETACHED_MARK`: detached by a :func:`detach_before` whose
    :func:`drop_detached` never ran (the process died). A table of the same
    name detached or restored by hand is not the purge's to drop."""
    query = sa.text(
        "SELECT c.relname FROM pg_class c JOIN pg_class p ON p.relnamespace = c.relnamespace"
        " WHERE p.oid = to_regclass(:table) AND p.relkind = 'p'"
        " AND c.relkind = 'r' AND NOT c.relispartition"
        " AND c.relname ~ ('^' || :table || '_p([0-9]{6}|[0-9]{8})$')"
        " AND obj_description(c.oid, 'pg_class') = :mark ORDER BY c.relname"
    )
    return list(connection.scalars(query, {"table": table, "mark": DETACHED_MARK}))


#: The SQLSTATE of a table that does not exist.
UNDEFINED_TABLE = "42P01"


def _count_rows(connection: Connection, names: list[str]) -> int:
    """How many rows the tables ``names`` hold, in one statement; a table another
    purge dropped first (taking it for a leftover) counts for none."""
    counts = " + ".join(f"(SELECT count(*) FROM {name})" for name in names)
    try:
        with connection.begin_nested():
            return connection.scalar(sa.text(f"SELECT {counts}")) or 0
    except sa.exc.ProgrammingError as error:
        if getattr(error.orig, "pgcode", None) != UNDEFINED_TABLE:
            raise
    # One of them is gone: count the others one by one.
    return 0 if len(names) == 1 else sum(_count_rows(connection, [name]) for name in names)


def drop_detached(engine: Engine, detached: Detached, *, count: bool = False) -> int:
    """Drop the tables :func:`detach_before` detached, in one transaction; with ``count``,
    how many of their rows went (a scan of each), else 0: not the rows kept, nor
    those of leftovers (a purge that stopped after its detach no longer tells
    the rows it kept from the others)."""
    names = detached.names + detached.leftovers
    if not names:
        return 0
    dropped = 0
    with engine.begin() as connection:
        set_local(connection, lock_timeout=LOCK_TIMEOUT)
        if count and detached.names:
            dropped = _count_rows(connection, detached.names) - detached.kept
        # IF EXISTS: a purge running at the same time may take these tables
        # for a stopped purge's leftovers and drop them first.
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {', '.join(names)}"))
    return dropped


# -- converting a table ------------------------------------------------------


def primary_key(connection: Connection, table: str) -> list[str]:
    """The columns of ``table``'s primary key, in order."""
    query = sa.text(
        "SELECT a.attname FROM pg_index i"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = to_regclass(:table) AND i.indisprimary"
        " ORDER BY array_position(i.indkey::int2[], a.attnum)"
    )
    return list(connection.scalars(query, {"table": table}))


def _index_definitions(connection: Connection, table: str) -> list[tuple[str, str]]:
    """``(name, definition)`` of each index of ``table`` but its primary key."""
    query = sa.text(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = to_regclass(:table) AND NOT i.indisprimary ORDER BY c.relname"
    )
    return [(name, definition) for name, definition in connection.execute(query, {"table": table})]


_INDEX = re.compile(r"CREATE (UNIQUE )?INDEX (\S+) ON (?:ONLY )?(\S+) (USING .*)")


def build_twin(connection: Connection, table: str, *, partitioned: bool = True) -> str:
    """Make ``table``'s twin, empty: partitioned (with its default partition) or, to
    undo, plain; the same columns, primary key (with or without the partition key)
    and indexes, named with :data:`TWIN` until :func:`swap`. Its name."""
    spec = TABLES[table]
    twin = table + TWIN
    quote = _quote
    source, target = quote(connection, table), quote(connection, twin)
    # A partitioned table stores nothing: its partitions get the storage parameters.
    partition_by = (
        f" PARTITION BY RANGE ({quote(connection, spec.key)})" if partitioned else storage(table)
    )
    connection.execute(
        sa.text(
            f"CREATE TABLE {target} (LIKE {source} INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
            f" INCLUDING STORAGE){partition_by}"
        )
    )
    columns = primary_key(connection, table)
    if partitioned and spec.key not in columns:
        columns.append(spec.key)
    elif not partitioned and spec.key_added_to_primary_key:
        columns.remove(spec.key)
    connection.execute(
        sa.text(
            f"ALTER TABLE {target} ADD CONSTRAINT {quote(connection, f'pk_{table}{TWIN}')}"
            f" PRIMARY KEY ({', '.join(quote(connection, c) for c in columns)})"
        )
    )
    for name, definition in _index_definitions(connection, table):
        match = _INDEX.match(definition)
        if match is None:
            raise RuntimeError(f"cannot read the definition of index {name}: {definition}")
        unique, _, _, rest = match.groups()
        connection.execute(
            sa.text(
                f"CREATE {unique or ''}INDEX {quote(connection, name + TWIN)} ON {target} {rest}"
            )
        )
    if partitioned:
        connection.execute(
            sa.text(
                f"CREATE TABLE {quote(connection, default_name(twin))}"
                f" PARTITION OF {target} DEFAULT{storage(table)}"
            )
        )
    return twin


def swap(connection: Connection, table: str) -> None:
    """Drop ``table`` and give its twin (made by :func:`build_twin`) its names."""
    twin = table + TWIN
    quote = _quote
    children = [p.name for p in partitions(connection, twin)]
    if is_partitioned(connection, twin):
        children.append(default_name(twin))
    renames = [(f"pk_{table}{TWIN}", f"pk_{table}")]
    renames += [(name, name[: -len(TWIN)]) for name, _ in _index_definitions(connection, twin)]
    connection.execute(sa.text(f"DROP TABLE {quote(connection, table)}"))
    connection.execute(sa.text(f"ALTER TABLE {quote(connection, twin)} RENAME TO {table}"))
    for old, new in renames:
        connection.execute(
            sa.text(f"ALTER INDEX {quote(connection, old)} RENAME TO {quote(connection, new)}")
        )
    for child in children:
        new = table + child[len(twin) :]
        connection.execute(
            sa.text(f"ALTER TABLE {quote(connection, child)} RENAME TO {quote(connection, new)}")
        )


def is_empty(connection: Connection, table: str) -> bool:
    query = sa.text(f"SELECT NOT EXISTS (SELECT 1 FROM {_quote(connection, table)})")
    return bool(connection.scalar(query))


def convert_empty(connection: Connection, table: str, *, partitioned: bool = True) -> None:
    """Partition (or, to undo, unpartition) ``table`` in place, copying its rows in one
    statement: for an empty or small table, in the caller's transaction."""
    twin = build_twin(connection, table, partitioned=partitioned)
    quote = _quote
    connection.execute(
        sa.text(f"INSERT INTO {quote(connection, twin)} SELECT * FROM {quote(connection, table)}")
    )
    swap(connection, table)
