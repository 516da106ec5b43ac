"""Alerts: each rule's state (per dimension value) and the history of its firings.

Two new tables, nothing existing changes. ``llm_logs_alert_states`` is unique
on (rule, dimension, key): the row a check's conditional ``UPDATE`` moves
from ``ok`` to ``firing``, so that one check only sends the notification.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-05 22:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "llm_logs_alert_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=255), nullable=False),
        sa.Column("dimension", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_logs_alert_states")),
        sa.UniqueConstraint(
            "rule", "dimension", "key", name=op.f("uq_llm_logs_alert_states_rule_dimension_key")
        ),
    )
    op.create_table(
        "llm_logs_alert_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=255), nullable=False),
        sa.Column("dimension", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("comparison", sa.String(length=10), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filters", JSON, nullable=False),
        sa.Column("delivery", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_logs_alert_events")),
    )
    op.create_index(
        "ix_llm_logs_alert_events_created_at", "llm_logs_alert_events", ["created_at"], unique=False
    )
    op.create_index(
        "ix_llm_logs_alert_events_rule_created_at",
        "llm_logs_alert_events",
        ["rule", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_llm_logs_alert_events_rule_created_at", table_name="llm_logs_alert_events")
    op.drop_index("ix_llm_logs_alert_events_created_at", table_name="llm_logs_alert_events")
    op.drop_table("llm_logs_alert_events")
    op.drop_table("llm_logs_alert_states")
