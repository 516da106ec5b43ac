"""Run a handler again on a failed request's stored result: no new LLM call.

Behind ``flask llm-logs batches retry`` and the UI's retry button.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa

from ..models import BatchRequest
from ..state import get_state
from .adapters import RequestOutcome
from .adapters import make_adapter
from .delivery import FAILED
from .delivery import Counts
from .delivery import Deliverer
from .locking import begin_claiming
from .locking import skip_locked


def retryable() -> sa.ColumnElement[bool]:
    """The requests a retry can rerun: failed, with a stored result to hand over."""
    return sa.and_(BatchRequest.status == FAILED, BatchRequest.result.is_not(None))


@dataclasses.dataclass
class RetryResult(Counts):
    """How many retried requests succeeded and failed again."""

    def as_dict(self) -> dict[str, Any]:
        return {"succeeded": self.succeeded, "failed": self.failed}


def _retry_locked(deliverer: Deliverer, request: BatchRequest) -> None:
    outcome = RequestOutcome(request.custom_id, body=request.result)
    deliverer.deliver([(request, outcome)], batch=request.batch_id is not None)


def retry_request(request_id: int | str) -> BatchRequest:
    """Run the handler again on the stored result of failed request ``request_id``.

    :param request_id: the request's id, or its ``custom_id``.
    :return: the request, ``succeeded`` (``fell_back``) or ``failed`` again.
    :raises LookupError: there is no such request.
    :raises ValueError: the request has not failed, or has no stored result
        (it failed at the provider: only a new LLM call could help).
    """
    state = get_state()
    session = state.session
    column = BatchRequest.id if isinstance(request_id, int) else BatchRequest.custom_id
    adapter = make_adapter(state)
    try:
        begin_claiming(session)
        request = session.scalars(
            sa.select(BatchRequest).where(column == request_id).with_for_update()
        ).one_or_none()
        if request is None:
            session.rollback()
            raise LookupError(f"no batch request {request_id!r}")
        if request.status != FAILED or request.result is None:
            reason = (
                f"its status is {request.status!r}, not 'failed'"
                if request.status != FAILED
                else "it has no stored result (it failed at the provider)"
            )
            session.rollback()
            raise ValueError(f"batch request {request_id!r} cannot be retried: {reason}")
        _retry_locked(Deliverer(state, adapter), request)
        session.commit()
        return request
    finally:
        adapter.close()


def retry_failed(purpose: str | None = None, batch_id: int | None = None) -> RetryResult:
    """Retry every failed request that has a stored result.

    :param purpose: only requests of this purpose.
    :param batch_id: only requests of this batch record.
    """
    state = get_state()
    session = state.session
    query = sa.select(BatchRequest.id).where(retryable())
    if purpose is not None:
        query = query.where(BatchRequest.purpose == purpose)
    if batch_id is not None:
        query = query.where(BatchRequest.batch_id == batch_id)
    ids = list(session.scalars(query.order_by(BatchRequest.id)))
    session.commit()
    adapter = make_adapter(state)
    deliverer = Deliverer(state, adapter)
    try:
        for request_id in ids:
            begin_claiming(session)
            request = session.scalars(
                skip_locked(
                    sa.select(BatchRequest).where(
                        BatchRequest.id == request_id, BatchRequest.status == FAILED
                    )
                )
            ).one_or_none()
            if request is not None:
                _retry_locked(deliverer, request)
            session.commit()
    finally:
        adapter.close()
    return RetryResult(succeeded=deliverer.counts.succeeded, failed=deliverer.counts.failed)
