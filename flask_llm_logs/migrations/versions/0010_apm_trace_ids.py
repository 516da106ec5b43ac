"""A trace keeps the host's OpenTelemetry trace and span it started in.

An app running OpenTelemetry (its APM's request traces) records LLM calls
inside those traces; the trace page links to the APM's trace by this id,
and the export makes our spans children of that span. Existing rows have
none.

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-05 22:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("llm_logs_traces") as batch:
        batch.add_column(sa.Column("apm_trace_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("apm_span_id", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("llm_logs_traces") as batch:
        batch.drop_column("apm_span_id")
        batch.drop_column("apm_trace_id")
