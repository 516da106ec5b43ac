"""Prompts remember the file ``sync-prompts`` made them from, and that file's hash.

Two nullable columns on ``llm_logs_prompts``: the file's path relative to the
prompts folder (``skills/backtest-evaluation.md``) and the SHA-256 of what the
sync read (the file, then its body files). Prompts made before this revision,
or through the API and the UI, have neither until a sync reads their file.

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-05 22:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("llm_logs_prompts") as batch:
        batch.add_column(sa.Column("source_path", sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column("source_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("llm_logs_prompts") as batch:
        batch.drop_column("source_hash")
        batch.drop_column("source_path")
