"""The batch list's filters and reads: two queries per page, plus one for the filter choices."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from werkzeug.exceptions import BadRequest

from ..models import BatchRecord
from . import queries
from .queries import DbSession


@dataclasses.dataclass(frozen=True)
class BatchFilters:
    """The batches list's filters, parsed from the query string."""

    purpose: str | None = None
    status: str | None = None
    after: int | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> BatchFilters:
        status = queries._text(args, "status")
        if status is not None and len(status) > 20:  # the column's length
            raise BadRequest("status: not a batch status.")
        return cls(
            purpose=queries._text(args, "purpose"),
            status=status,
            after=queries.int_arg(args, "after"),
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """The non-empty filters as query-string arguments, for links."""
        values = dataclasses.asdict(dataclasses.replace(self, **changes))
        return {key: value for key, value in values.items() if value is not None}

    @property
    def active(self) -> bool:
        return self.purpose is not None or self.status is not None


def list_batches(session: DbSession, filters: BatchFilters, page_size: int) -> queries.BatchPage:
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
    counts = queries.request_counts(session, [batch.id for batch in batches])
    return queries.BatchPage(batches, counts, next_after)


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
