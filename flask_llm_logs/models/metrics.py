"""The metrics of LLM calls, summed per time bucket and dimension: what dashboards read.

The writer adds each batch's LLM spans to this table in the transaction
that stores them (see ``tracing.aggregate``), so reading a month of cost
by user sums a few thousand rows instead of millions of spans. A row is
one *grain* (a bucket width and the dimensions it keeps, see
:data:`GRAINS`), one bucket start and one value of each dimension kept.
Dimensions that are not kept, and values that were not recorded, are
stored as ``''`` (``0`` for the prompt version): a primary key column
cannot be ``NULL``, and ``NULL``\\ s would never conflict, so concurrent
upserts of "no user" would make two rows.

The latency histogram is one integer column per bin of
:mod:`flask_llm_logs.tracing.latency`: two rows' histograms add up column
by column, in an upsert or a ``GROUP BY``.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..tracing.latency import COLUMNS as LATENCY_COLUMNS
from .base import Base
from .tracing import Cost

#: The dimensions a row may keep, as its columns, in grain order.
DIMENSIONS = (
    "model",
    "provider",
    "name",
    "prompt_version_id",
    "user_id",
    "environment",
    "status",
)

#: What ``metrics()`` groups and filters by, and an alert rule's ``filters``
#: and ``per`` name, each with the column it reads (a prompt is the versions
#: of its name). Here, below both, so that alert rules (which the app's
#: state names) need not import the query layer.
QUERY_DIMENSIONS: dict[str, str] = {
    "model": "model",
    "provider": "provider",
    "name": "name",
    "prompt": "prompt_version_id",
    "prompt_version": "prompt_version_id",
    "user": "user_id",
    "environment": "environment",
    "status": "status",
}

#: The sums of a row, beside the histogram.
MEASURES = (
    "calls",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "cost",
    "duration_ms_sum",
)

#: A Core table: its 85 histogram columns are made in a loop, which a mapped class cannot
#: declare; nothing reads or writes it through the ORM.
metrics_table = sa.Table(
    "llm_logs_metrics",
    Base.metadata,
    # See ``tracing.aggregate.GRAINS``: the bucket width and the dimensions kept.
    sa.Column("grain", sa.SmallInteger, primary_key=True),
    sa.Column("bucket", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("model", sa.String(255), primary_key=True),
    sa.Column("provider", sa.String(255), primary_key=True),
    # The trace's name (the route, for a request's automatic trace).
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("prompt_version_id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.String(255), primary_key=True),
    sa.Column("environment", sa.String(50), primary_key=True),
    # The span's status: ``completed`` or ``error``.
    sa.Column("status", sa.String(20), primary_key=True),
    *(sa.Column(name, sa.BigInteger, nullable=False) for name in MEASURES[:6]),
    sa.Column("cost", Cost, nullable=False),
    sa.Column("duration_ms_sum", sa.Float, nullable=False),
    *(sa.Column(name, sa.Integer, nullable=False) for name in LATENCY_COLUMNS),
    # One user's rows, for ``metrics()`` filtered on a user (the dashboard of a user,
    # a per-user alert): the primary key puts the user seventh, so such a read of
    # the rows keeping every dimension walked every row of the range's buckets in
    # the key (a month of day rows: 18,000 pages of index for 200 rows, 0.5 s).
    sa.Index("ix_llm_logs_metrics_user", "user_id", "grain", "bucket"),
)
