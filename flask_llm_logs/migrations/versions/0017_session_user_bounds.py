"""When each session and each user has traces: the first and last trace's start.

Two small tables keyed by session and by user (see ``models.bounds``),
which the writer keeps from now on, filled here from the traces stored
before: one ``GROUP BY`` read of the traces, nothing rewritten. They give
the totals of a session or a user a range on ``started_at``, so that on
PostgreSQL they read only the partitions the key's traces are in. The
tables are new in this revision's transaction: no writer sees them before
it commits, so the fill is a plain insert. Traces that processes of the
previous version store after it are taken in by the writers' hourly
maintenance (docs/partitions.rst).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 12:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Each table, by the trace column it is keyed by.
TABLES = {"session_id": "llm_logs_sessions", "user_id": "llm_logs_users"}


def upgrade() -> None:
    for key, table in TABLES.items():
        op.create_table(
            table,
            sa.Column(key, sa.String(length=255), nullable=False),
            sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint(key, name=op.f(f"pk_{table}")),
        )
        op.create_index(f"ix_{table}_last_at", table, ["last_at"], unique=False)
        op.execute(
            f"INSERT INTO {table} ({key}, first_at, last_at)"
            f" SELECT {key}, min(started_at), max(started_at) FROM llm_logs_traces"
            f" WHERE {key} IS NOT NULL GROUP BY {key}"
        )


def downgrade() -> None:
    for table in TABLES.values():
        op.drop_index(f"ix_{table}_last_at", table_name=table)
        op.drop_table(table)
