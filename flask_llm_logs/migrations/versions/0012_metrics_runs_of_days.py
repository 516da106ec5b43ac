"""The metrics rows of runs of 3 and 9 days, summed from the day rows stored so far.

The writer now also keeps the rows that keep one dimension (or none) for
runs of 3 and 9 days (``flask_llm_logs.tracing.aggregate.BLOCK_BY``), so a
month by user reads about seven rows per user instead of 30. No column
changes: a run's rows are new grain numbers. Here the day rows of each
such grain are added up into their runs, nine days at a time, with the
writer's own upsert, saying how far it got on stderr. The runs' rows made
before this revision (a database created at once at head, whose 0006
filled every grain) are deleted first, so nothing counts twice. Downgrade
deletes them.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-06 01:15:00

"""

import datetime as dt
import sys
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from flask_llm_logs.tracing import aggregate

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The grain numbers of the runs, as ``aggregate`` has them at this revision.
RUNS = {"3 days": (3, 40), "9 days": (9, 50)}
#: The dimensions, in the order of the keys of ``aggregate``.
DIMENSIONS = (
    "model",
    "provider",
    "name",
    "prompt_version_id",
    "user_id",
    "environment",
    "status",
)
#: The day grains keeping one dimension (or none, the first), by offset: 30 to 37.
DAY_GRAINS = range(30, 30 + len(DIMENSIONS) + 1)


def _run_grains() -> list[int]:
    return [first + offset for _, first in RUNS.values() for offset in range(len(DAY_GRAINS))]


def upgrade() -> None:
    bind = op.get_bind()
    metrics = sa.Table("llm_logs_metrics", sa.MetaData(), autoload_with=bind)
    bind.execute(metrics.delete().where(metrics.c.grain.in_(_run_grains())))
    upsert = aggregate.upsert(bind.dialect.name, metrics)
    days = metrics.c.grain.in_(DAY_GRAINS)
    total = bind.execute(sa.select(sa.func.count()).select_from(metrics).where(days)).scalar_one()
    first, last = bind.execute(
        sa.select(sa.func.min(metrics.c.bucket), sa.func.max(metrics.c.bucket)).where(days)
    ).one()
    if not total:
        return
    _say(f"llm_logs_metrics: summing {total:,} day rows into runs of 3 and 9 days")
    done = 0
    longest = max(length for length, _ in RUNS.values())
    run = aggregate.block_start(first, longest)
    while run <= last:
        # A run of the longest length at a time: it holds whole runs of the shorter one.
        end = run + dt.timedelta(days=longest)
        read = sa.select(metrics).where(days, metrics.c.bucket >= run, metrics.c.bucket < end)
        rows: dict[tuple[int, aggregate.Key], aggregate.Sums] = {}
        for row in bind.execute(read).mappings().all():
            sums = aggregate.stored_sums(row)
            dimensions = tuple(row[name] for name in DIMENSIONS)
            for length, first_grain in RUNS.values():
                key = (aggregate.block_start(row["bucket"], length), *dimensions)
                grain = first_grain + row["grain"] - DAY_GRAINS[0]
                aggregate.add_to(rows, (grain, key), sums)
            done += 1
        aggregate.write_rows(bind, upsert, rows)
        _say(f"llm_logs_metrics: {done:,} of {total:,} day rows summed")
        run = end


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def downgrade() -> None:
    metrics = sa.table("llm_logs_metrics", sa.column("grain", sa.SmallInteger()))
    op.execute(metrics.delete().where(metrics.c.grain.in_(_run_grains())))
