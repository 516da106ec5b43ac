"""Spans keep their search words; the full-text index reads them.

The index used to compute ``to_tsvector`` over each span's input and output
at insert, 120 µs of database CPU per 2 KB span; the writer now stores the
words it cuts (see ``flask_llm_logs.tracing.search``). Existing spans get
theirs here, cut by the same function, in the migration's transaction: on
a large table, upgrade when little is being written.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 05:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from flask_llm_logs.tracing import search

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Spans read and updated per statement while the words are filled in.
CHUNK = 1000

_OLD_DOCUMENT = "coalesce(input::text, '') || ' ' || coalesce(output::text, '')"


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _fill_search_words(words_type: sa.types.TypeEngine[str]) -> None:
    spans = sa.table(
        "llm_logs_spans",
        sa.column("id", sa.Uuid()),
        sa.column("input", sa.JSON()),
        sa.column("output", sa.JSON()),
        sa.column("search", words_type),
    )
    read = sa.select(
        spans.c.id, sa.cast(spans.c.input, sa.Text), sa.cast(spans.c.output, sa.Text)
    ).order_by(spans.c.id)
    fill = (
        sa.update(spans)
        .where(spans.c.id == sa.bindparam("span_id"))
        .values(search=sa.bindparam("words"))
    )
    bind = op.get_bind()
    last_id = None
    while True:
        chunk = read if last_id is None else read.where(spans.c.id > last_id)
        rows = bind.execute(chunk.limit(CHUNK)).all()
        if not rows:
            return
        documents = [
            {"span_id": span_id, "words": search.document(input_text, output_text)}
            for span_id, input_text, output_text in rows
        ]
        if documents := [row for row in documents if row["words"] is not None]:
            bind.execute(fill, documents)
        last_id = rows[-1][0]


def upgrade() -> None:
    if not _is_postgresql():
        op.add_column("llm_logs_spans", sa.Column("search", sa.Text(), nullable=True))
        _fill_search_words(sa.Text())
        return
    op.drop_index("ix_llm_logs_spans_search", table_name="llm_logs_spans", postgresql_using="gin")
    op.add_column("llm_logs_spans", sa.Column("search", postgresql.TSVECTOR(), nullable=True))
    _fill_search_words(postgresql.TSVECTOR())
    op.create_index(
        "ix_llm_logs_spans_search",
        "llm_logs_spans",
        ["search"],
        unique=False,
        postgresql_using="gin",
    )


def downgrade() -> None:
    if _is_postgresql():
        op.drop_index(
            "ix_llm_logs_spans_search", table_name="llm_logs_spans", postgresql_using="gin"
        )
    with op.batch_alter_table("llm_logs_spans") as batch:  # SQLite before 3.35 too
        batch.drop_column("search")
    if _is_postgresql():
        op.create_index(
            "ix_llm_logs_spans_search",
            "llm_logs_spans",
            [sa.literal_column(f"to_tsvector('simple', {_OLD_DOCUMENT})")],
            unique=False,
            postgresql_using="gin",
        )
