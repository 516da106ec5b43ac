"""An operator's controls over one batch: cancel it, requeue its failed requests.

Behind ``flask llm-logs batches cancel`` / ``requeue`` and the batch page's
buttons, so both do exactly the same thing.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..models import BatchRecord
from ..models import BatchRequest
from ..models.base import utcnow
from ..state import get_state
from ..tracing.recorder import error_message
from .adapters import TERMINAL_STATUSES
from .adapters import make_adapter
from .delivery import FAILED
from .locking import begin_claiming

#: The status of a batch an operator cancelled, kept until the provider's
#: own status is final (see :mod:`.poll`).
CANCELLED = "cancelled"


def can_cancel(record: BatchRecord) -> bool:
    """Whether the provider may still be running ``record``: submitted, not ended."""
    return (
        record.provider_batch_id is not None
        and record.status not in TERMINAL_STATUSES
        and record.reconciled_at is None
    )


def cancel_batch(batch_id: int) -> BatchRecord:
    """Ask the provider to stop batch ``batch_id``, and mark it ``cancelled``.

    Poll keeps reconciling the batch: requests the provider ran before it
    stopped are delivered to the handler as usual, the others fail as
    ``batch_cancelled`` (:func:`requeue_batch` submits them again).

    :return: the batch record, ``cancelled``.
    :raises LookupError: there is no such batch.
    :raises ValueError: the batch cannot be cancelled: it was not submitted
        yet, has ended, or the provider refused (its error is in the message).
    """
    state = get_state()
    session = state.session
    record = session.get(BatchRecord, batch_id)
    if record is None:
        session.rollback()
        raise LookupError(f"no batch {batch_id}")
    provider_id = record.provider_batch_id
    if provider_id is None or not can_cancel(record):
        reason = (
            "it was not submitted to the provider"
            if provider_id is None
            else f"it has ended ({record.status})"
        )
        session.rollback()
        raise ValueError(f"batch {batch_id} cannot be cancelled: {reason}")
    session.commit()  # no transaction held open across the provider call
    adapter = make_adapter(state)
    try:
        adapter.cancel(provider_id)
    except Exception as error:
        raise ValueError(
            f"batch {batch_id} was not cancelled: the provider answered {error_message(error)}"
        ) from None
    finally:
        adapter.close()
    session.execute(
        sa.update(BatchRecord)
        .where(BatchRecord.id == batch_id, BatchRecord.status.not_in(TERMINAL_STATUSES))
        .values(status=CANCELLED),
        execution_options={"synchronize_session": False},
    )
    session.commit()
    session.refresh(record)
    return record


def requeue_batch(batch_id: int) -> int:
    """Give the failed requests of batch ``batch_id`` back to the next flush; how many.

    For requests that failed at the provider (an error line, a batch that
    expired, was cancelled or failed, or that the provider lost): each
    becomes ``pending`` outside any batch, its error and any stored result,
    tokens, cost and trace link cleared, so the next flush submits it in a
    new batch and a new call is traced and priced. A request that succeeded
    is never requeued; one whose handler failed on a stored result can be
    retried without a new call instead (:func:`.retry_failed`). Requests
    still waiting for the batch's results are left to poll.

    :raises LookupError: there is no such batch.
    """
    session = get_state().session
    begin_claiming(session)
    if session.get(BatchRecord, batch_id) is None:
        session.rollback()
        raise LookupError(f"no batch {batch_id}")
    requeued = session.execute(
        sa.update(BatchRequest)
        .where(BatchRequest.batch_id == batch_id, BatchRequest.status == FAILED)
        .values(
            status="pending",
            batch_id=None,
            error=None,
            result=sa.null(),
            result_content=sa.null(),
            input_tokens=None,
            output_tokens=None,
            cached_tokens=None,
            cost=None,
            trace_id=None,
            completed_at=None,
            updated_at=utcnow(),
        ),
        execution_options={"synchronize_session": False},
    ).rowcount  # type: ignore[attr-defined]
    session.commit()
    return int(requeued)
