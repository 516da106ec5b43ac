"""An index of the metrics rows by user, grain and bucket.

``metrics()`` filtered on a user (the dashboard narrowed to a user) reads
the rows keeping every dimension for each breakdown; the primary key has
the user seventh, after the bucket, so each read walked the index entries
of every row of its range to find the user's few hundred. No data changes.

Building the index holds the writers' upserts of the metrics table off
until the upgrade commits (about 14 s for 3.3 million rows). A twin left by
an unfinished ``flask llm-logs db partition`` (``llm_logs_metrics__p``) gets
the index too: the command's swap keeps the twin's indexes, not the table's.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 04:30:00

"""

from collections.abc import Sequence

from alembic import op

from flask_llm_logs import partitions

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLE = "llm_logs_metrics"
INDEX = "ix_llm_logs_metrics_user"
TWIN = partitions.TWIN


def _twin_exists() -> bool:
    return partitions.has_twin(op.get_bind(), TABLE)


def upgrade() -> None:
    op.create_index(INDEX, TABLE, ["user_id", "grain", "bucket"])
    if _twin_exists():
        op.create_index(INDEX + TWIN, TABLE + TWIN, ["user_id", "grain", "bucket"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    if _twin_exists():
        op.drop_index(INDEX + TWIN, table_name=TABLE + TWIN, if_exists=True)
