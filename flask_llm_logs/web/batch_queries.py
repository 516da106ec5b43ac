"""The batch pages' filters and reads: a fixed number of queries per page.

The list: the batches, their request counts, the filter choices and the
requests waiting to be submitted. A batch: the batch, a page of its
requests and its totals.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import NotFound

from ..batches.retry import retryable
from ..models import BatchRecord
from ..models import BatchRequest
from ..tracing.pricing import synchronous_price
from . import params
from .trace_queries import DbSession


@dataclasses.dataclass(frozen=True)
class BatchFilters:
    """The batches list's filters, parsed from the query string."""

    purpose: str | None = None
    status: str | None = None
    after: int | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> BatchFilters:
        status = params.text_arg(args, "status")
        if status is not None and len(status) > 20:  # the column's length
            raise BadRequest("status: not a batch status.")
        return cls(
            purpose=params.text_arg(args, "purpose"),
            status=status,
            after=params.int_arg(args, "after"),
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """The non-empty filters as query-string arguments, for links."""
        values = dataclasses.asdict(dataclasses.replace(self, **changes))
        return {key: value for key, value in values.items() if value is not None}

    @property
    def active(self) -> bool:
        return self.purpose is not None or self.status is not None


@dataclasses.dataclass
class BatchPage:
    batches: list[BatchRecord]
    #: Batch id -> {request status: count}.
    counts: dict[int, dict[str, int]]
    next_after: int | None


def request_counts(session: DbSession, batch_ids: list[int]) -> dict[int, dict[str, int]]:
    """Each batch's requests counted by status (one query)."""
    counts: dict[int, dict[str, int]] = {batch_id: {} for batch_id in batch_ids}
    if batch_ids:
        rows = session.execute(
            sa.select(BatchRequest.batch_id, BatchRequest.status, sa.func.count())
            .where(BatchRequest.batch_id.in_(batch_ids))
            .group_by(BatchRequest.batch_id, BatchRequest.status)
        )
        for batch_id, status, count in rows:
            if batch_id is not None:  # always, given the WHERE; tells the type checker
                counts[batch_id][status] = count
    return counts


@dataclasses.dataclass(frozen=True)
class BatchTotals:
    """A batch's requests counted by status, what can be retried, and what they cost."""

    counts: dict[str, int]
    #: Failed requests with a stored result: what "Retry all failed" reruns.
    retryable: int
    #: The batch price of its priced requests; ``None`` when none is priced.
    cost: float | None

    @property
    def saving(self) -> float | None:
        """What the batch saved against sending the same requests one by one."""
        return None if self.cost is None else synchronous_price(self.cost) - self.cost


def batch_totals(session: DbSession, batch_id: int) -> BatchTotals:
    """One query: counts by status, retryable requests, total cost."""
    rows = session.execute(
        sa.select(
            BatchRequest.status,
            sa.func.count(),
            sa.func.count(sa.case((retryable(), 1))),
            sa.func.sum(BatchRequest.cost),
        )
        .where(BatchRequest.batch_id == batch_id)
        .group_by(BatchRequest.status)
    ).all()
    costs = [float(cost) for *_, cost in rows if cost is not None]
    return BatchTotals(
        counts={status: count for status, count, _, _ in rows},
        retryable=sum(can_retry for _, _, can_retry, _ in rows),
        cost=sum(costs) if costs else None,
    )


@dataclasses.dataclass
class BatchDetail:
    batch: BatchRecord
    requests: list[BatchRequest]
    totals: BatchTotals
    next_after: int | None


def batch_detail(
    session: DbSession, batch_id: int, after: int | None, page_size: int
) -> BatchDetail:
    """A batch and a page of its requests, keyset-paginated on id: three queries."""
    batch = session.get(BatchRecord, batch_id)
    if batch is None:
        raise NotFound(f"There is no batch {batch_id}.")
    query = (
        sa.select(BatchRequest)
        .where(BatchRequest.batch_id == batch_id)
        .order_by(BatchRequest.id)
        .limit(page_size + 1)
    )
    if after is not None:
        query = query.where(BatchRequest.id > after)
    requests = list(session.scalars(query))
    next_after = None
    if len(requests) > page_size:
        requests = requests[:page_size]
        next_after = requests[-1].id
    return BatchDetail(batch, requests, batch_totals(session, batch_id), next_after)


def list_batches(session: DbSession, filters: BatchFilters, page_size: int) -> BatchPage:
    """Newest batches first, keyset-paginated on id, with request counts by status."""
    query = sa.select(BatchRecord).order_by(BatchRecord.id.desc()).limit(page_size + 1)
    if filters.purpose is not None:
        query = query.where(BatchRecord.purpose == filters.purpose)
    if filters.status is not None:
        query = query.where(BatchRecord.status == filters.status)
    if filters.after is not None:
        query = query.where(BatchRecord.id < filters.after)
    batches = list(session.scalars(query))
    next_after = None
    if len(batches) > page_size:
        batches = batches[:page_size]
        next_after = batches[-1].id
    counts = request_counts(session, [batch.id for batch in batches])
    return BatchPage(batches, counts, next_after)


@dataclasses.dataclass(frozen=True)
class Waiting:
    """Requests of one purpose and model waiting to be submitted."""

    purpose: str
    model: str
    count: int
    oldest: dt.datetime


def waiting_requests(session: DbSession, purpose: str | None = None) -> list[Waiting]:
    """Pending requests by purpose and model, oldest first (one query).

    Grouped, so the list stays one line per purpose and model however many
    requests wait.
    """
    query = (
        sa.select(
            BatchRequest.purpose,
            BatchRequest.model,
            sa.func.count(),
            sa.func.min(BatchRequest.created_at),
        )
        .where(BatchRequest.status == "pending")
        .group_by(BatchRequest.purpose, BatchRequest.model)
        .order_by(sa.func.min(BatchRequest.created_at))
    )
    if purpose is not None:
        query = query.where(BatchRequest.purpose == purpose)
    rows = session.execute(query).all()
    return [Waiting(purpose, model, count, oldest) for purpose, model, count, oldest in rows]


@dataclasses.dataclass(frozen=True)
class Choices:
    purposes: list[str]
    statuses: list[str]


def filter_choices(session: DbSession) -> Choices:
    """The purposes and statuses batches have, for the filter menus (one query)."""
    pairs = session.execute(sa.select(BatchRecord.purpose, BatchRecord.status).distinct()).all()
    return Choices(
        purposes=sorted({purpose for purpose, _ in pairs}),
        statuses=sorted({status for _, status in pairs}),
    )
