"""Traces, spans, scores and metrics partitioned by time, on PostgreSQL.

An empty table is partitioned here (a new installation, or one that never
stored anything), with its default partition and the partitions of the
current and coming periods. A table holding rows is left as it is: copying
millions of rows inside the upgrade's one transaction would lock the writers
out for as long, so ``flask llm-logs db partition`` moves them later, in
chunks, while the writers write; this says so on stderr (stdout may be the
JSON of ``flask llm-logs db upgrade --json``). SQLite has no partitions:
nothing changes there.

The downgrade puts the rows back into plain tables in one statement each.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 01:00:00

"""

import datetime as dt
import sys
from collections.abc import Sequence

from alembic import op

from flask_llm_logs import partitions

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The interval of the partitions made here; the app's
#: ``LLM_LOGS_PARTITION_INTERVAL`` governs those made later.
INTERVAL = "month"


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    now = dt.datetime.now(dt.timezone.utc)
    left = []
    for table in partitions.TABLES:
        if partitions.is_partitioned(connection, table):
            continue
        if not partitions.is_empty(connection, table):
            left.append(table)
            continue
        partitions.convert_empty(connection, table)
        ahead = list(partitions.periods(now, now, INTERVAL))
        for _ in range(partitions.AHEAD):
            ahead.append(partitions.next_start(ahead[-1], INTERVAL))
        for start in ahead:
            partitions.create_partition(connection, table, start, INTERVAL)
    if left:
        print(
            f"flask-llm-logs: {', '.join(left)} hold rows and stay unpartitioned for now;"
            " run `flask llm-logs db partition` to partition them while the app runs.",
            file=sys.stderr,
        )


def downgrade() -> None:
    connection = op.get_bind()
    for table in partitions.TABLES:
        if partitions.is_partitioned(connection, table):
            partitions.convert_empty(connection, table, partitioned=False)
