"""Spans and traces count the prompt tokens written to the provider's cache.

Anthropic and OpenAI bill a cache write apart from other input tokens
(Anthropic at 1.25 times the input price), so the cost and the token
columns have to tell them apart. Traces roll them up like the other counts;
existing rows start at zero (spans: unknown, as for the other counts).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 19:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("llm_logs_traces") as batch:
        # The server default fills the existing rows; the model sets the value from then on.
        batch.add_column(
            sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("llm_logs_traces") as batch:
        batch.alter_column("cache_write_tokens", server_default=None)
    with op.batch_alter_table("llm_logs_spans") as batch:
        batch.add_column(sa.Column("cache_write_tokens", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table in ("llm_logs_spans", "llm_logs_traces"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("cache_write_tokens")
