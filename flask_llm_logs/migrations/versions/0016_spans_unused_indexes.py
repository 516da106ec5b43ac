"""The spans' indexes on ``model`` and ``parent_id`` dropped: no query needs them.

A span's model is filtered through its trace's ``models`` (the traces
list) or the metrics table (the dashboard); only the dashboard narrowed to
a tag reads the spans of a time range by model, and their partitions (the
range) narrow those first. A span's parent is read only within its trace,
by ``trace_id``. Each index still cost the writer and the
server an entry per span, and the purge two more files a partition to drop
(about 4 % of a day of spans). No data changes.

``DROP INDEX`` takes the spans table's lock for an instant: no rows are
read. A twin left by an unfinished ``flask llm-logs db partition``
(``llm_logs_spans__p``) loses its copies too (see 0013). Downgrade builds
them again, which reads the whole table.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 12:50:00

"""

from collections.abc import Sequence

from alembic import op

from flask_llm_logs import partitions

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLE = "llm_logs_spans"
INDEXES = {"ix_llm_logs_spans_model": "model", "ix_llm_logs_spans_parent_id": "parent_id"}
TWIN = partitions.TWIN


def _twin_exists() -> bool:
    return partitions.has_twin(op.get_bind(), TABLE)


def upgrade() -> None:
    twin = _twin_exists()
    for index in INDEXES:
        op.drop_index(index, table_name=TABLE)
        if twin:
            op.drop_index(index + TWIN, table_name=TABLE + TWIN, if_exists=True)


def downgrade() -> None:
    twin = _twin_exists()
    for index, column in INDEXES.items():
        op.create_index(index, TABLE, [column])
        if twin:
            op.create_index(index + TWIN, TABLE + TWIN, [column])
