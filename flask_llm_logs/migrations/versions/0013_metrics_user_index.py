"""An index of the metrics rows by user, grain and bucket.

``metrics()`` filtered on a user (the dashboard narrowed to a user) reads
the rows keeping every dimension for each breakdown; the primary key has
the user seventh, after the bucket, so each read walked the index entries
of every row of its range to find the user's few hundred. No data changes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 04:30:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_llm_logs_metrics_user", "llm_logs_metrics", ["user_id", "grain", "bucket"])


def downgrade() -> None:
    op.drop_index("ix_llm_logs_metrics_user", table_name="llm_logs_metrics")
