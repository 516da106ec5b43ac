"""The metrics table's oldest day made whole again, where a purge left it part-deleted.

``metrics()`` now reads a bucket whole and takes away the part outside a
range, read from finer rows, which is exact only if every row is the sum of
the finer rows inside it. The purge before this revision deleted the minute
and hour rows before its cutoff's minute and hour, but kept the day row
(and the runs of days) of the cutoff's day whole: on that oldest day, the
day row counts calls its hours no longer do. Such a day (its day totals
count more calls than its minute rows) is removed here as the purge now
removes the days before its cutoff: taken out of its runs of days, its
rows deleted. A day of metrics at the retention's edge goes a little
early; nothing else changes. Downgrade leaves the rows as they are.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 07:40:00

"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from flask_llm_logs.tracing import retention

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The grains of the minute rows, and of the day totals, as at this revision.
MINUTE, DAY_TOTALS = 1, 30


def upgrade() -> None:
    bind = op.get_bind()
    metrics = sa.Table("llm_logs_metrics", sa.MetaData(), autoload_with=bind)
    c = metrics.c
    day = bind.scalar(sa.select(sa.func.min(c.bucket)).where(c.grain == DAY_TOTALS))
    if day is None:
        return
    if day.tzinfo is None:
        day = day.replace(tzinfo=dt.timezone.utc)
    end = day + dt.timedelta(days=1)
    on_the_day = sa.select(sa.func.coalesce(sa.func.sum(c.calls), 0)).where(c.bucket < end)
    day_calls = bind.scalar(on_the_day.where(c.grain == DAY_TOTALS, c.bucket >= day))
    minute_calls = bind.scalar(on_the_day.where(c.grain == MINUTE, c.bucket >= day))
    if day_calls != minute_calls:
        retention.trim_metrics(bind, end)


def downgrade() -> None:
    """Nothing to put back: the rows removed disagreed with the finer rows."""
