"""Prompt labels, their history, and A/B splits.

A label names one version of a prompt (``llm_logs_prompt_labels``); every
move of a label is kept (``llm_logs_prompt_label_moves``) as the prompt's
release history. A prompt gains the split set by ``Prompt.split()``.
Existing prompts get no label and no split: ``load()`` keeps building
their latest version unless the app asks for a label.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-05 22:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("llm_logs_prompts") as batch:
        batch.add_column(sa.Column("split", JSON, nullable=True))
    op.create_table(
        "llm_logs_prompt_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["llm_logs_prompts.id"],
            name=op.f("fk_llm_logs_prompt_labels_prompt_id_llm_logs_prompts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["llm_logs_prompt_versions.id"],
            name=op.f("fk_llm_logs_prompt_labels_version_id_llm_logs_prompt_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_logs_prompt_labels")),
        sa.UniqueConstraint(
            "prompt_id", "name", name=op.f("uq_llm_logs_prompt_labels_prompt_id_name")
        ),
    )
    op.create_index(
        "ix_llm_logs_prompt_labels_version_id",
        "llm_logs_prompt_labels",
        ["version_id"],
        unique=False,
    )
    op.create_table(
        "llm_logs_prompt_label_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=50), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("moved_by", sa.String(length=255), nullable=True),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["llm_logs_prompts.id"],
            name=op.f("fk_llm_logs_prompt_label_moves_prompt_id_llm_logs_prompts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_logs_prompt_label_moves")),
    )
    op.create_index(
        "ix_llm_logs_prompt_label_moves_prompt_id_id",
        "llm_logs_prompt_label_moves",
        ["prompt_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_llm_logs_prompt_label_moves_prompt_id_id", table_name="llm_logs_prompt_label_moves"
    )
    op.drop_table("llm_logs_prompt_label_moves")
    op.drop_index("ix_llm_logs_prompt_labels_version_id", table_name="llm_logs_prompt_labels")
    op.drop_table("llm_logs_prompt_labels")
    with op.batch_alter_table("llm_logs_prompts") as batch:
        batch.drop_column("split")
