"""Traces say who, in which conversation and where; scores judge traces and spans.

Traces gain the user, the session (a conversation), tags and the
environment, each indexed with ``started_at`` for the traces list's filters
(tags by a GIN index on PostgreSQL, like the models). Existing traces get no
user, session or environment and an empty tag list. Scores get their own
table, without a foreign key to their trace: the writer may store a score
before its trace (see ``models.scores``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 20:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_LIST = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

#: The (column, started_at) indexes of the traces list's filters.
FILTER_INDEXES = {
    "ix_llm_logs_traces_user_id_started_at": "user_id",
    "ix_llm_logs_traces_session_id_started_at": "session_id",
    "ix_llm_logs_traces_environment_started_at": "environment",
}


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    with op.batch_alter_table("llm_logs_traces") as batch:
        batch.add_column(sa.Column("user_id", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("session_id", sa.String(length=255), nullable=True))
        # The server default fills the existing rows; the model sets the value from then on.
        batch.add_column(
            sa.Column("tags", JSON_LIST, nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(sa.Column("environment", sa.String(length=50), nullable=True))
    with op.batch_alter_table("llm_logs_traces") as batch:
        batch.alter_column("tags", server_default=None)
    for name, column in FILTER_INDEXES.items():
        op.create_index(name, "llm_logs_traces", [column, "started_at"], unique=False)
    if _is_postgresql():
        op.create_index(
            "ix_llm_logs_traces_tags",
            "llm_logs_traces",
            ["tags"],
            unique=False,
            postgresql_using="gin",
        )
    op.create_table(
        "llm_logs_scores",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("trace_id", sa.Uuid(), nullable=False),
        sa.Column("span_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("label", sa.String(length=255), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_logs_scores")),
    )
    op.create_index("ix_llm_logs_scores_trace_id", "llm_logs_scores", ["trace_id"], unique=False)
    op.create_index(
        "ix_llm_logs_scores_name_created_at",
        "llm_logs_scores",
        ["name", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_llm_logs_scores_name_created_at", table_name="llm_logs_scores")
    op.drop_index("ix_llm_logs_scores_trace_id", table_name="llm_logs_scores")
    op.drop_table("llm_logs_scores")
    if _is_postgresql():
        op.drop_index(
            "ix_llm_logs_traces_tags", table_name="llm_logs_traces", postgresql_using="gin"
        )
    for name in FILTER_INDEXES:
        op.drop_index(name, table_name="llm_logs_traces")
    with op.batch_alter_table("llm_logs_traces") as batch:
        for column in ("environment", "tags", "session_id", "user_id"):
            batch.drop_column(column)
