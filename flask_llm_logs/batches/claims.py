"""Claims: the link between our batch record and the provider's batch.

A claim is a :class:`~flask_llm_logs.models.BatchRecord` in status
``claimed`` whose ``claim_token`` is written into the provider batch's
metadata on creation. If the submitting process dies after the provider
created the batch but before its id was recorded, the poll job finds the
provider batch by that token and adopts it; only when the provider has no
such batch are the requests released to the next flush. So a crash never
leads to a second submission of the same requests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import sqlalchemy as sa

from ..log import get_logger
from ..models import BatchRecord
from ..models import BatchRequest
from ..models.base import as_utc
from ..models.base import utcnow
from ..state import State
from .adapters import BatchAdapter
from .adapters import ProviderBatch
from .locking import begin_claiming

#: The provider-batch metadata key holding our claim token.
CLAIM_KEY = "llm_logs_claim"
#: How far before a claim to look for its provider batch (clock skew).
SEARCH_MARGIN = dt.timedelta(hours=1)
INTERRUPTED = "submission interrupted: no provider batch carries this claim; requests released"


def _search_start(value: dt.datetime) -> int:
    """``value`` less :data:`SEARCH_MARGIN`, as the Unix time providers page by."""
    return int((as_utc(value) - SEARCH_MARGIN).timestamp())


def find_by_claim(adapter: BatchAdapter, token: str, *, since: dt.datetime) -> ProviderBatch | None:
    """The provider batch whose metadata names ``token``, or ``None``.

    Pages through the provider's batches newer than ``since`` (minus a
    margin): providers cannot filter on metadata.
    """
    for batch in adapter.batches_since(_search_start(since)):
        if batch.metadata.get(CLAIM_KEY) == token:
            return batch
    return None


def release(session: Any, record_id: int, error: str) -> int:
    """Give a claim's requests back to the next flush and record why; how many.

    Conditional on the claim still being ``claimed``, so concurrent
    recoveries release it once.
    """
    begin_claiming(session)
    released = session.execute(
        sa.update(BatchRequest)
        .where(BatchRequest.batch_id == record_id, BatchRequest.status == "claimed")
        .values(status="pending", batch_id=None, updated_at=utcnow()),
        execution_options={"synchronize_session": False},
    ).rowcount
    session.execute(
        sa.update(BatchRecord)
        .where(BatchRecord.id == record_id, BatchRecord.status == "claimed")
        .values(status="failed", error=error, reconciled_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    session.commit()
    return int(released)


def record_submission(
    session: Any, adapter: BatchAdapter, record_id: int, provider_batch: ProviderBatch
) -> bool:
    """Store the provider ids on a claim; whether the claim was still ours.

    When a stale-claim recovery released the claim in the meantime (the
    submission took longer than ``LLM_LOGS_BATCH_STALE_CLAIM_AFTER``), the
    provider batch is cancelled: its requests are pending again and will be
    submitted by the next flush.
    """
    begin_claiming(session)
    updated = session.execute(
        sa.update(BatchRecord)
        .where(BatchRecord.id == record_id, BatchRecord.status == "claimed")
        .values(
            provider_batch_id=provider_batch.id,
            input_file_id=provider_batch.input_file_id,
            status=provider_batch.status,
            provider_metadata=dict(provider_batch.raw),
            submitted_at=utcnow(),
        ),
        execution_options={"synchronize_session": False},
    ).rowcount
    if updated:
        session.execute(
            sa.update(BatchRequest)
            .where(BatchRequest.batch_id == record_id, BatchRequest.status == "claimed")
            .values(status="submitted", updated_at=utcnow()),
            execution_options={"synchronize_session": False},
        )
    adopted_elsewhere = session.scalar(
        sa.select(BatchRecord.provider_batch_id).where(BatchRecord.id == record_id)
    )
    session.commit()
    if not updated and adopted_elsewhere != provider_batch.id:
        get_logger(__name__).warning(
            "batch %s was released before its submission was recorded; cancelling %s",
            record_id,
            provider_batch.id,
        )
        try:
            adapter.cancel(provider_batch.id)
        except Exception:
            get_logger(__name__).warning("cancelling %s failed", provider_batch.id, exc_info=True)
    return bool(updated)


@dataclasses.dataclass
class Recovery:
    """What one stale-claim recovery did: claims adopted or released, requests freed."""

    adopted: int = 0
    released: int = 0
    requests_released: int = 0


def recover_stale_claims(state: State, adapter: BatchAdapter) -> Recovery:
    """Adopt or release claims older than ``LLM_LOGS_BATCH_STALE_CLAIM_AFTER``.

    Also gives back requests claimed for a synchronous fallback call by a
    process that died before delivering them.
    """
    session = state.session
    # Read live, like LLM_LOGS_ENABLED: tests and admin tools change it at runtime.
    cutoff = utcnow() - state.batch_stale_claim_after
    recovery = Recovery()
    stale = session.execute(
        sa.select(BatchRecord.id, BatchRecord.claim_token, BatchRecord.claimed_at).where(
            BatchRecord.status == "claimed", BatchRecord.claimed_at < cutoff
        )
    ).all()
    session.commit()
    if stale:
        oldest = min(row.claimed_at for row in stale)
        tokens = {row.claim_token for row in stale}
        # One pass over the provider's recent batches finds every stale claim.
        found = {
            batch.metadata[CLAIM_KEY]: batch
            for batch in adapter.batches_since(_search_start(oldest))
            if batch.metadata.get(CLAIM_KEY) in tokens
        }
        for row in stale:
            if row.claim_token in found:
                if record_submission(session, adapter, row.id, found[row.claim_token]):
                    get_logger(__name__).warning(
                        "adopted provider batch %s for stale claim %s",
                        found[row.claim_token].id,
                        row.id,
                    )
                    recovery.adopted += 1
            else:
                released = release(session, row.id, INTERRUPTED)
                if released:  # else another poller released it first
                    recovery.requests_released += released
                    recovery.released += 1
    begin_claiming(session)
    recovery.requests_released += session.execute(
        sa.update(BatchRequest)
        .where(
            BatchRequest.status == "claimed",
            BatchRequest.batch_id.is_(None),
            BatchRequest.updated_at < cutoff,
        )
        .values(status="pending", updated_at=utcnow()),
        execution_options={"synchronize_session": False},
    ).rowcount  # type: ignore[attr-defined]
    session.commit()
    return recovery
