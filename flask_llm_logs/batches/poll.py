"""Poll: reconcile every unfinished provider batch, delivering each result once.

For each submitted batch not yet reconciled: ask the provider for its
status; once it has ended, read its output and error files and deliver the
requests still waiting, in chunks. Each chunk is one transaction that locks
its request rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the database
write lock on SQLite) and changes their status in the same transaction as
the handler's own writes: two pollers never deliver the same request, and a
crash mid-chunk rolls the whole chunk back for the next poll.

A batch the provider answers "not found" for (after a key or account
change) gets the provider's error recorded, and once that has lasted
``LLM_LOGS_BATCH_LOST_AFTER`` it ends ``failed`` like a batch the provider
failed: its requests fail and ``on_failure`` runs once for each.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import sqlalchemy as sa

from ..log import get_logger
from ..models import BatchRecord
from ..models import BatchRequest
from ..models.base import utcnow
from ..state import State
from ..state import get_state
from .adapters import BatchAdapter
from .adapters import BatchNotFound
from .adapters import ProviderBatch
from .adapters import RequestOutcome
from .adapters import make_adapter
from .claims import Recovery
from .claims import recover_stale_claims
from .control import CANCELLED
from .delivery import Counts
from .delivery import Deliverer
from .locking import begin_claiming
from .locking import skip_locked

#: Requests delivered per transaction.
DELIVERY_CHUNK = 100
#: Requests that wait for their provider batch's result.
WAITING = "submitted"
#: The key of a batch record's ``metadata`` holding when the provider first
#: answered "not found" for it (ISO 8601), until it knows the batch again.
LOST_SINCE = "lost_since"


@dataclasses.dataclass
class PollResult:
    """What one poll did."""

    #: Batches checked with the provider, and those fully reconciled now.
    checked: int = 0
    reconciled: int = 0
    delivered: Counts = dataclasses.field(default_factory=Counts)
    recovery: Recovery = dataclasses.field(default_factory=Recovery)
    #: Batches whose check failed (provider unreachable...): retried next poll.
    errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "reconciled": self.reconciled,
            "succeeded": self.delivered.succeeded,
            "failed": self.delivered.failed,
            "adopted": self.recovery.adopted,
            "released": self.recovery.released,
            "errors": self.errors,
        }


def poll() -> PollResult:
    """Reconcile every unfinished batch and recover stale claims.

    Needs an app context. Safe to run in several processes at once.
    """
    state = get_state()
    adapter = make_adapter(state)
    try:
        return _Poll(state, adapter).run()
    finally:
        adapter.close()


class _Poll:
    def __init__(self, state: State, adapter: BatchAdapter) -> None:
        self.state = state
        self.session = state.session
        self.adapter = adapter
        self.deliverer = Deliverer(state, adapter)
        self.result = PollResult(delivered=self.deliverer.counts)

    def run(self) -> PollResult:
        try:
            self.result.recovery = recover_stale_claims(self.state, self.adapter)
        except Exception:
            self.session.rollback()
            self.result.errors += 1
            get_logger(__name__).warning("recovering stale batch claims failed", exc_info=True)
        rows = self.session.execute(
            sa.select(
                BatchRecord.id,
                BatchRecord.provider_batch_id,
                BatchRecord.submitted_at,
                BatchRecord.metadata_,
            )
            .where(BatchRecord.provider_batch_id.is_not(None), BatchRecord.reconciled_at.is_(None))
            .order_by(BatchRecord.id)
        ).all()
        self.session.commit()
        for row in rows:
            try:
                self._reconcile(row.id, row.provider_batch_id, row.submitted_at, row.metadata_)
            except Exception:
                self.session.rollback()
                self.result.errors += 1
                get_logger(__name__).warning("reconciling batch %s failed", row.id, exc_info=True)
        return self.result

    def _reconcile(
        self,
        record_id: int,
        provider_id: str,
        submitted_at: dt.datetime,
        metadata: dict[str, Any] | None,
    ) -> None:
        metadata = dict(metadata or {})
        try:
            provider_batch = self.adapter.retrieve(provider_id)
        except BatchNotFound as error:
            lost = self._lost(record_id, provider_id, metadata, str(error))
            if lost is None:
                self.result.errors += 1
                return
            provider_batch = lost
        else:
            self._record_status(record_id, provider_batch, metadata)
        self.result.checked += 1
        if not provider_batch.finished:
            return
        if self._waiting(record_id):
            outcomes = self.adapter.outcomes(provider_batch)
            while self._deliver_chunk(record_id, provider_batch, outcomes, submitted_at):
                pass
        if self._mark_reconciled(record_id):
            self.result.reconciled += 1

    def _record_status(
        self, record_id: int, provider_batch: ProviderBatch, metadata: dict[str, Any]
    ) -> None:
        """Store what the provider shows now; a batch known again is no longer lost.

        A batch an operator cancelled stays ``cancelled`` while the provider
        is still ``cancelling`` it, then takes the provider's final status.
        """
        values: dict[str, Any] = {}
        if metadata.pop(LOST_SINCE, None) is not None:
            values["metadata_"] = metadata
        status: Any = provider_batch.status
        if not provider_batch.finished:
            status = sa.case((BatchRecord.status == CANCELLED, CANCELLED), else_=status)
        self.session.execute(
            sa.update(BatchRecord)
            .where(BatchRecord.id == record_id, BatchRecord.reconciled_at.is_(None))
            .values(
                status=status,
                output_file_id=provider_batch.output_file_id,
                error_file_id=provider_batch.error_file_id,
                provider_metadata=dict(provider_batch.raw),
                completed_at=utcnow() if provider_batch.finished else None,
                error="; ".join(provider_batch.errors) or None,
                **values,
            ),
            execution_options={"synchronize_session": False},
        )
        self.session.commit()

    def _lost(
        self, record_id: int, provider_id: str, metadata: dict[str, Any], error: str
    ) -> ProviderBatch | None:
        """Record the provider's "not found" on the batch; the batch as failed once
        that has lasted ``LLM_LOGS_BATCH_LOST_AFTER``, else ``None`` (asked again
        next poll: the key or account may be fixed meanwhile).

        One warning line per poll, without a traceback: the error is expected
        and the batch page shows it.
        """
        now = utcnow()
        since = _lost_since(metadata) or now
        lost_after = self.state.batch_lost_after
        message = (
            f"the provider does not know batch {provider_id} "
            f"(since {since:%Y-%m-%d %H:%M:%S} UTC): {error}"
        )
        gone = now - since >= lost_after
        values: dict[str, Any] = {
            "error": message,
            "metadata_": {**metadata, LOST_SINCE: since.isoformat()},
        }
        if gone:
            message = f"{message}; marked failed after {lost_after}"
            values.update(error=message, status="failed", completed_at=now)
        self.session.execute(
            sa.update(BatchRecord)
            .where(BatchRecord.id == record_id, BatchRecord.reconciled_at.is_(None))
            .values(**values),
            execution_options={"synchronize_session": False},
        )
        self.session.commit()
        get_logger(__name__).warning("batch %s: %s", record_id, message)
        if not gone:
            return None
        return ProviderBatch(id=provider_id, status="failed", errors=(message,))

    def _waiting(self, record_id: int) -> bool:
        waiting = self.session.scalar(
            sa.select(BatchRequest.id)
            .where(BatchRequest.batch_id == record_id, BatchRequest.status == WAITING)
            .limit(1)
        )
        self.session.commit()
        return waiting is not None

    def _deliver_chunk(
        self,
        record_id: int,
        provider_batch: ProviderBatch,
        outcomes: dict[str, RequestOutcome],
        submitted_at: dt.datetime,
    ) -> bool:
        session = self.session
        begin_claiming(session)
        requests = session.scalars(
            skip_locked(
                sa.select(BatchRequest)
                .where(BatchRequest.batch_id == record_id, BatchRequest.status == WAITING)
                .order_by(BatchRequest.id)
                .limit(DELIVERY_CHUNK)
            )
        ).all()
        if not requests:
            session.commit()
            return False
        missing = (
            "; ".join(provider_batch.errors)
            or f"batch {provider_batch.status} without a result for this request"
        )
        self.deliverer.deliver(
            [(request, outcomes.get(request.custom_id)) for request in requests],
            batch=True,
            started_at=submitted_at,
            missing=missing,
        )
        session.commit()
        return True

    def _mark_reconciled(self, record_id: int) -> bool:
        """Close the batch once none of its requests waits any more."""
        waiting = (
            sa.select(BatchRequest.id)
            .where(BatchRequest.batch_id == record_id, BatchRequest.status == WAITING)
            .exists()
        )
        updated = self.session.execute(
            sa.update(BatchRecord)
            .where(BatchRecord.id == record_id, BatchRecord.reconciled_at.is_(None), ~waiting)
            .values(reconciled_at=utcnow()),
            execution_options={"synchronize_session": False},
        ).rowcount  # type: ignore[attr-defined]
        self.session.commit()
        return bool(updated)


def _lost_since(metadata: dict[str, Any]) -> dt.datetime | None:
    value = metadata.get(LOST_SINCE)
    try:
        return dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
