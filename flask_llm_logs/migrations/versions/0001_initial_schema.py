"""Initial schema: traces, spans, prompts, prompt versions, batches, batch requests.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 15:28:01.756403

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "llm_logs_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("claim_token", sa.String(length=64), nullable=False),
        sa.Column("provider_batch_id", sa.String(length=255), nullable=True),
        sa.Column("input_file_id", sa.String(length=255), nullable=True),
        sa.Column("output_file_id", sa.String(length=255), nullable=True),
        sa.Column("error_file_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("request_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "provider_metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_logs_batches")),
        sa.UniqueConstraint("claim_token", name=op.f("uq_llm_logs_batches_claim_token")),
        sa.UniqueConstraint(
            "provider_batch_id", name=op.f("uq_llm_logs_batches_provider_batch_id")
        ),
    )
    op.create_index(
        "ix_llm_logs_batches_purpose_created_at",
        "llm_logs_batches",
        ["purpose", "created_at"],
        unique=False,
    )
    op.create_index("ix_llm_logs_batches_status", "llm_logs_batches", ["status"], unique=False)
    op.create_table(
        "llm_logs_prompts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_logs_prompts")),
        sa.UniqueConstraint("slug", name=op.f("uq_llm_logs_prompts_slug")),
    )
    op.create_table(
        "llm_logs_spans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("trace_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("operation", sa.String(length=50), nullable=True),
        sa.Column("model", sa.String(length=255), nullable=True),
        sa.Column("provider", sa.String(length=255), nullable=True),
        sa.Column(
            "input",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "output",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cached_tokens", sa.Integer(), nullable=True),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Numeric(precision=18, scale=10, asdecimal=False), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("time_to_first_token_ms", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_logs_spans")),
    )
    op.create_index("ix_llm_logs_spans_model", "llm_logs_spans", ["model"], unique=False)
    op.create_index("ix_llm_logs_spans_parent_id", "llm_logs_spans", ["parent_id"], unique=False)
    op.create_index(
        "ix_llm_logs_spans_trace_id_started_at",
        "llm_logs_spans",
        ["trace_id", "started_at"],
        unique=False,
    )
    op.create_table(
        "llm_logs_traces",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Numeric(precision=18, scale=10, asdecimal=False), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("spans_count", sa.Integer(), nullable=False),
        sa.Column(
            "models",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("prompt_version_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_logs_traces")),
    )
    op.create_index(
        "ix_llm_logs_traces_name_started_at",
        "llm_logs_traces",
        ["name", "started_at"],
        unique=False,
    )
    op.create_index(
        "ix_llm_logs_traces_prompt_version_id_started_at",
        "llm_logs_traces",
        ["prompt_version_id", "started_at"],
        unique=False,
    )
    op.create_index(
        "ix_llm_logs_traces_started_at_id", "llm_logs_traces", ["started_at", "id"], unique=False
    )
    op.create_index(
        "ix_llm_logs_traces_status_started_at",
        "llm_logs_traces",
        ["status", "started_at"],
        unique=False,
    )
    op.create_table(
        "llm_logs_batch_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("custom_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "routing",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "result_content",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cached_tokens", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Numeric(precision=18, scale=10, asdecimal=False), nullable=True),
        sa.Column("trace_id", sa.Uuid(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["llm_logs_batches.id"],
            name=op.f("fk_llm_logs_batch_requests_batch_id_llm_logs_batches"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_logs_batch_requests")),
        sa.UniqueConstraint("custom_id", name=op.f("uq_llm_logs_batch_requests_custom_id")),
    )
    op.create_index(
        "ix_llm_logs_batch_requests_batch_id_status",
        "llm_logs_batch_requests",
        ["batch_id", "status"],
        unique=False,
    )
    op.create_index(
        "ix_llm_logs_batch_requests_purpose_status",
        "llm_logs_batch_requests",
        ["purpose", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_llm_logs_batch_requests_trace_id"),
        "llm_logs_batch_requests",
        ["trace_id"],
        unique=False,
    )
    op.create_table(
        "llm_logs_prompt_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column(
            "messages",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("model", sa.String(length=255), nullable=True),
        sa.Column(
            "model_params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "default_variables",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("changelog", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["llm_logs_prompts.id"],
            name=op.f("fk_llm_logs_prompt_versions_prompt_id_llm_logs_prompts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_logs_prompt_versions")),
        sa.UniqueConstraint(
            "prompt_id",
            "version_number",
            name=op.f("uq_llm_logs_prompt_versions_prompt_id_version_number"),
        ),
    )
    op.create_index(
        op.f("ix_llm_logs_prompt_versions_prompt_id"),
        "llm_logs_prompt_versions",
        ["prompt_id"],
        unique=False,
    )
    if _is_postgresql():
        op.create_index(
            "ix_llm_logs_spans_search",
            "llm_logs_spans",
            [
                sa.literal_column(
                    "to_tsvector('simple', "
                    "coalesce(input::text, '') || ' ' || coalesce(output::text, ''))"
                )
            ],
            unique=False,
            postgresql_using="gin",
        )
        op.create_index(
            "ix_llm_logs_traces_metadata",
            "llm_logs_traces",
            ["metadata"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"metadata": "jsonb_path_ops"},
        )
        op.create_index(
            "ix_llm_logs_traces_models",
            "llm_logs_traces",
            ["models"],
            unique=False,
            postgresql_using="gin",
        )


def downgrade() -> None:
    if _is_postgresql():
        op.drop_index(
            "ix_llm_logs_traces_models", table_name="llm_logs_traces", postgresql_using="gin"
        )
        op.drop_index(
            "ix_llm_logs_traces_metadata",
            table_name="llm_logs_traces",
            postgresql_using="gin",
            postgresql_ops={"metadata": "jsonb_path_ops"},
        )
        op.drop_index(
            "ix_llm_logs_spans_search", table_name="llm_logs_spans", postgresql_using="gin"
        )
    op.drop_index(
        op.f("ix_llm_logs_prompt_versions_prompt_id"), table_name="llm_logs_prompt_versions"
    )
    op.drop_table("llm_logs_prompt_versions")
    op.drop_index(op.f("ix_llm_logs_batch_requests_trace_id"), table_name="llm_logs_batch_requests")
    op.drop_index("ix_llm_logs_batch_requests_purpose_status", table_name="llm_logs_batch_requests")
    op.drop_index(
        "ix_llm_logs_batch_requests_batch_id_status", table_name="llm_logs_batch_requests"
    )
    op.drop_table("llm_logs_batch_requests")
    op.drop_index("ix_llm_logs_traces_status_started_at", table_name="llm_logs_traces")
    op.drop_index("ix_llm_logs_traces_started_at_id", table_name="llm_logs_traces")
    op.drop_index("ix_llm_logs_traces_prompt_version_id_started_at", table_name="llm_logs_traces")
    op.drop_index("ix_llm_logs_traces_name_started_at", table_name="llm_logs_traces")
    op.drop_table("llm_logs_traces")
    op.drop_index("ix_llm_logs_spans_trace_id_started_at", table_name="llm_logs_spans")
    op.drop_index("ix_llm_logs_spans_parent_id", table_name="llm_logs_spans")
    op.drop_index("ix_llm_logs_spans_model", table_name="llm_logs_spans")
    op.drop_table("llm_logs_spans")
    op.drop_table("llm_logs_prompts")
    op.drop_index("ix_llm_logs_batches_status", table_name="llm_logs_batches")
    op.drop_index("ix_llm_logs_batches_purpose_created_at", table_name="llm_logs_batches")
    op.drop_table("llm_logs_batches")
