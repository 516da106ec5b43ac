"""Room on the metrics table's pages for the writer's updates (fillfactor 70).

The writer adds each batch to rows it updated a moment before. With every
page full (PostgreSQL's fillfactor of 100) an update rarely found room on its
row's page, so it moved the row elsewhere and added an entry to the primary
key and to the index of 0013; with 30 % of each page left free, most updates
stay on the page (HOT) and add no index entry. Set on the plain table, or on
each partition (a partitioned table itself stores nothing), the twin's of an
unfinished ``flask llm-logs db partition`` too; partitions made later get it
from ``partitions.create_partition``. Only pages filled from now on keep the
room: the rows stored before stay packed (rewriting them would lock the
writers out). ``ALTER TABLE .. SET`` takes a lock that writers do not wait
for. SQLite has no fillfactor: nothing changes there. Downgrade resets it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 05:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from flask_llm_logs import partitions

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "llm_logs_metrics"
FILLFACTOR = 70


def _stored_tables() -> list[str]:
    """The metrics table if plain, else its partitions, and those of a twin in the making."""
    query = sa.text(
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE :prefix"
        " AND relnamespace = to_regnamespace(current_schema())"
    )
    found = op.get_bind().scalars(query, {"prefix": TABLE + "%"})
    return sorted(name for name in found if name == TABLE or partitions.is_part(name))


def _alter(change: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in _stored_tables():
        op.execute(f'ALTER TABLE "{name}" {change}')


def upgrade() -> None:
    _alter(f"SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    _alter("RESET (fillfactor)")
