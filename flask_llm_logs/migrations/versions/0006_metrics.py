"""The metrics table: LLM calls summed per time bucket and dimension, filled from the spans.

The writer keeps it from now on (see ``flask_llm_logs.tracing.aggregate``);
here the LLM spans stored so far are added to it, a chunk of
:data:`CHUNK` spans at a time, with the same code the writer uses, saying
how far it got after each chunk. On a large table it takes a while: the
spans are read once, in id order, in the migration's transaction.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 22:00:00

"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from flask_llm_logs.tracing import aggregate

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: LLM spans read and added per statement while the table is filled.
CHUNK = 5000
#: The histogram's bins, as ``flask_llm_logs.tracing.latency`` had them at this revision.
LATENCY_BINS = 85
COST = sa.Numeric(precision=18, scale=10)


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("grain", sa.SmallInteger(), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("prompt_version_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("environment", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in (
                "calls",
                "errors",
                "input_tokens",
                "output_tokens",
                "cached_tokens",
                "cache_write_tokens",
            )
        ),
        sa.Column("cost", COST, nullable=False),
        sa.Column("duration_ms_sum", sa.Float(), nullable=False),
        *(sa.Column(f"latency_{n:02d}", sa.Integer(), nullable=False) for n in range(LATENCY_BINS)),
    ]


_KEY = (
    "grain",
    "bucket",
    "model",
    "provider",
    "name",
    "prompt_version_id",
    "user_id",
    "environment",
    "status",
)


def upgrade() -> None:
    op.create_table(
        "llm_logs_metrics",
        *_columns(),
        sa.PrimaryKeyConstraint(*_KEY, name=op.f("pk_llm_logs_metrics")),
    )
    _fill()


def _fill() -> None:
    """Add the LLM spans stored so far, in chunks of :data:`CHUNK`, reporting progress."""
    json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    spans = sa.table(
        "llm_logs_spans",
        *(sa.column(name) for name in ("kind", "model", "provider", "status")),
        *(sa.column(name) for name in ("input_tokens", "output_tokens", "cached_tokens")),
        *(sa.column(name) for name in ("cache_write_tokens", "duration_ms")),
        # Read back as float: the sums are floats (Decimal + float raises).
        sa.column("cost", sa.Numeric(precision=18, scale=10, asdecimal=False)),
        sa.column("metadata", json),
        sa.column("id", sa.Uuid()),
        sa.column("trace_id", sa.Uuid()),
        sa.column("started_at", sa.DateTime(timezone=True)),
    )
    traces = sa.table(
        "llm_logs_traces",
        sa.column("id", sa.Uuid()),
        *(sa.column(name) for name in ("name", "user_id", "environment")),
    )
    bind = op.get_bind()
    metrics = sa.Table("llm_logs_metrics", sa.MetaData(), *_columns())
    metrics.append_constraint(sa.PrimaryKeyConstraint(*_KEY))
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    upsert = aggregate.upsert_statement(dialect.insert, metrics)
    llm = spans.c.kind == "llm"
    total = bind.execute(sa.select(sa.func.count()).select_from(spans).where(llm)).scalar_one()
    read = (
        sa.select(
            *(spans.c[name] for name in ("id", "trace_id", "kind", "model", "provider")),
            *(spans.c[name] for name in ("status", "input_tokens", "output_tokens")),
            *(spans.c[name] for name in ("cached_tokens", "cache_write_tokens", "cost")),
            spans.c.duration_ms,
            spans.c.started_at,
            spans.c.metadata["prompt_version_id"].as_integer().label("prompt_version_id"),
            traces.c.name.label("trace_name"),
            traces.c.user_id,
            traces.c.environment,
        )
        .select_from(spans.outerjoin(traces, traces.c.id == spans.c.trace_id))
        .where(llm)
        .order_by(spans.c.id)
        .limit(CHUNK)
    )
    say = context.config.print_stdout
    say(f"llm_logs_metrics: adding {total:,} LLM spans")
    done = 0
    last_id = None
    while True:
        chunk = read if last_id is None else read.where(spans.c.id > last_id)
        rows = [row._asdict() for row in bind.execute(chunk)]
        if not rows:
            return
        dims = {
            row["trace_id"]: (
                row["trace_name"] or "",
                row["user_id"] or "",
                row["environment"] or "",
            )
            for row in rows
        }
        versions = {row["id"]: row["prompt_version_id"] for row in rows if row["prompt_version_id"]}
        grains = aggregate.all_grains(aggregate.minute_sums(rows, dims, versions))
        bind.execute(upsert, aggregate.parameters(grains))
        done += len(rows)
        last_id = rows[-1]["id"]
        say(f"llm_logs_metrics: {done:,} of {total:,} LLM spans added")


def downgrade() -> None:
    op.drop_table("llm_logs_metrics")
