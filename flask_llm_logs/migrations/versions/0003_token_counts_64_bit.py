"""Token counts are 64-bit: a trace's rollups may pass 2**31 tokens.

A long pipeline in one ``trace()`` adds up every span's tokens in the
trace's row; at 2**31 the 32-bit column overflowed and every later span of
that trace was refused by the database. Spans get 64-bit counts too, so a
sum over them never needs a wider type than its parts.

On PostgreSQL changing a column's type rewrites the table under an
exclusive lock: upgrade when little is being written. SQLite stores every
integer in up to 64 bits already; its tables are rebuilt for the declared
type only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 19:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")
#: Table -> (columns, whether they are nullable).
_COLUMNS = {
    "llm_logs_traces": (_TOKEN_COLUMNS, False),
    "llm_logs_spans": (_TOKEN_COLUMNS, True),
}


def _change(old: type[sa.Integer], new: type[sa.Integer]) -> None:
    for table, (columns, nullable) in _COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(
                    column, type_=new(), existing_type=old(), existing_nullable=nullable
                )


def upgrade() -> None:
    _change(sa.Integer, sa.BigInteger)


def downgrade() -> None:
    # Counts above 2**31 - 1 make this fail on PostgreSQL rather than wrap.
    _change(sa.BigInteger, sa.Integer)
