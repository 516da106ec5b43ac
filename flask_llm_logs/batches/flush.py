"""Flush: claim pending requests, submit them as provider batches.

Per purpose and model: claim up to one provider batch worth of pending
requests (50,000 requests / 200 MB for OpenAI) in one short transaction,
stamped with a fresh claim token; then, outside any transaction, upload the
JSONL file and create the provider batch with the claim token in its
metadata; then record the provider ids. A crash between creating the batch
and recording it leaves a claim that the poll job adopts by its token (see
:mod:`.claims`), so nothing is submitted twice.

Models the provider cannot batch, and every model when
``LLM_LOGS_BATCH_ENABLED`` is False, are sent synchronously instead.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from ..instrumentation import is_instrumented
from ..log import get_logger
from ..models import BatchRecord
from ..models import BatchRequest
from ..models.base import utcnow
from ..state import State
from ..state import get_state
from ..tracing.api import trace
from ..tracing.context import link_prompt_version
from ..tracing.recorder import error_message
from .adapters import BatchAdapter
from .adapters import RequestOutcome
from .adapters import make_adapter
from .claims import CLAIM_KEY
from .claims import find_by_claim
from .claims import record_submission
from .claims import release
from .delivery import Counts
from .delivery import Deliverer
from .locking import begin_claiming
from .locking import skip_locked
from .recording import prompt_version_id
from .recording import trace_metadata

#: Requests claimed per transaction for synchronous fallback.
FALLBACK_CHUNK = 50
#: Ids per ``IN (...)``: under SQLite's bound-parameter limit.
ID_CHUNK = 10_000


@dataclasses.dataclass
class FlushResult:
    """What one flush did."""

    #: Ids of the :class:`~flask_llm_logs.models.BatchRecord` rows submitted.
    batches: list[int] = dataclasses.field(default_factory=list)
    submitted: int = 0
    #: Batch records whose submission failed (their requests are pending again).
    submit_failures: int = 0
    #: Requests sent synchronously instead, and how their delivery went.
    fallback: Counts = dataclasses.field(default_factory=Counts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "submitted": self.submitted,
            "submit_failures": self.submit_failures,
            "fell_back": self.fallback.succeeded,
            "fallback_failed": self.fallback.failed,
        }


def flush(purpose: str | None = None) -> FlushResult:
    """Submit the pending requests of ``purpose`` (``None``: of every purpose).

    Needs an app context. Safe to run concurrently: each request is claimed
    by one flush only.
    """
    state = get_state()
    adapter = make_adapter(state)
    try:
        return _Flush(state, adapter).run(purpose)
    finally:
        adapter.close()


def _chunks(values: list[int], size: int = ID_CHUNK) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _Flush:
    def __init__(self, state: State, adapter: BatchAdapter) -> None:
        self.state = state
        self.session = state.session
        self.adapter = adapter
        self.result = FlushResult()

    def run(self, purpose: str | None) -> FlushResult:
        query = sa.select(BatchRequest.purpose, BatchRequest.model).where(
            BatchRequest.status == "pending"
        )
        if purpose is not None:
            query = query.where(BatchRequest.purpose == purpose)
        groups = self.session.execute(query.distinct()).all()
        self.session.commit()
        # Read live, like LLM_LOGS_ENABLED: switching batches off at runtime
        # (a provider outage) takes effect at the next flush.
        enabled = self.state.batch_enabled
        for group_purpose, model in sorted(groups):
            if enabled and self.adapter.can_batch(model):
                while self._submit_one(group_purpose, model):
                    pass
            else:
                self._fall_back(group_purpose, model)
        return self.result

    # -- batch submission ------------------------------------------------------

    def _pending(self, purpose: str, model: str, limit: int) -> sa.Select[Any]:
        return skip_locked(
            sa.select(BatchRequest.id, BatchRequest.custom_id, BatchRequest.payload)
            .where(
                BatchRequest.purpose == purpose,
                BatchRequest.model == model,
                BatchRequest.status == "pending",
            )
            .order_by(BatchRequest.id)
            .limit(limit)
        )

    def _claim(self, purpose: str, model: str) -> tuple[BatchRecord, bytes] | None:
        """Claim one provider batch worth of requests; the record and its file."""
        session = self.session
        begin_claiming(session)
        rows = session.execute(self._pending(purpose, model, self.adapter.max_requests)).all()
        if not rows:
            session.commit()
            return None
        lines: list[bytes] = []
        size = 0
        for row in rows:
            line = self.adapter.encode(row.custom_id, row.payload)
            if lines and size + len(line) > self.adapter.max_bytes:
                break
            lines.append(line)
            size += len(line)
        ids = [row.id for row in rows[: len(lines)]]
        record = BatchRecord(
            purpose=purpose,
            provider=self.adapter.name,
            model=model,
            claim_token=uuid.uuid4().hex,
            status="claimed",
            request_count=len(ids),
            claimed_at=utcnow(),
        )
        session.add(record)
        session.flush()
        for chunk in _chunks(ids):
            session.execute(
                sa.update(BatchRequest)
                .where(BatchRequest.id.in_(chunk))
                .values(status="claimed", batch_id=record.id, updated_at=utcnow()),
                execution_options={"synchronize_session": False},
            )
        session.commit()
        return record, b"".join(lines)

    def _submit_one(self, purpose: str, model: str) -> bool:
        claimed = self._claim(purpose, model)
        if claimed is None:
            return False
        record, data = claimed
        record_id, token, count = record.id, record.claim_token, record.request_count
        claimed_at = record.claimed_at
        metadata = {
            CLAIM_KEY: token,
            "llm_logs_batch_id": str(record_id),
            "llm_logs_purpose": purpose[:512],
        }
        try:
            file_id = self.adapter.upload(data, f"llm_logs_batch_{record_id}.jsonl")
            provider_batch = self.adapter.create(file_id, metadata)
        except Exception as error:
            get_logger(__name__).warning(
                "submitting batch %s of %r failed", record_id, purpose, exc_info=True
            )
            message = f"submission failed: {error_message(error)}"
            try:
                # The create call may have reached the provider before failing.
                found = find_by_claim(self.adapter, token, since=claimed_at)
            except Exception:
                # Unsure: keep the claim; the poll job settles it once stale.
                get_logger(__name__).warning(
                    "looking up batch %s failed; left to recovery", record_id
                )
                self._note_error(record_id, message)
                self.result.submit_failures += 1
                return False
            if found is None:
                release(self.session, record_id, message)
                self.result.submit_failures += 1
                # Released requests wait for the next flush, not a tight loop.
                return False
            provider_batch = found
        if record_submission(self.session, self.adapter, record_id, provider_batch):
            self.result.batches.append(record_id)
            self.result.submitted += count
        return True

    def _note_error(self, record_id: int, message: str) -> None:
        self.session.execute(
            sa.update(BatchRecord).where(BatchRecord.id == record_id).values(error=message),
            execution_options={"synchronize_session": False},
        )
        self.session.commit()

    # -- synchronous fallback --------------------------------------------------

    def _fall_back(self, purpose: str, model: str) -> None:
        deliverer = Deliverer(self.state, self.adapter)
        session = self.session
        while True:
            begin_claiming(session)
            ids = list(
                session.scalars(
                    self._pending(purpose, model, FALLBACK_CHUNK).with_only_columns(BatchRequest.id)
                )
            )
            if not ids:
                session.commit()
                break
            session.execute(
                sa.update(BatchRequest)
                .where(BatchRequest.id.in_(ids))
                .values(status="claimed", updated_at=utcnow()),
                execution_options={"synchronize_session": False},
            )
            session.commit()
            for request_id in ids:
                self._send_now(deliverer, request_id)
        self.result.fallback.add(deliverer.counts)

    def _send_now(self, deliverer: Deliverer, request_id: int) -> None:
        session = self.session
        request = session.get_one(BatchRequest, request_id)
        payload, metadata = request.payload, trace_metadata(request, batch=False)
        version_id = prompt_version_id(request.routing or {})
        session.commit()
        started_at = utcnow()
        trace_id = None
        try:
            if is_instrumented() and self.state.enabled:
                # The instrumented call records the trace (one, not two).
                with trace(request.purpose, metadata=metadata) as step:
                    if version_id is not None:
                        link_prompt_version(version_id)
                    trace_id = step.trace_id
                    outcome = RequestOutcome("", body=self.adapter.send(payload))
            else:
                outcome = RequestOutcome("", body=self.adapter.send(payload))
        except Exception as error:
            outcome = RequestOutcome("", error=error_message(error))
        begin_claiming(session)
        claimed = session.scalars(
            sa.select(BatchRequest)
            .where(BatchRequest.id == request_id, BatchRequest.status == "claimed")
            .with_for_update()
        ).one_or_none()
        if claimed is not None:  # else a stale-claim recovery released it meanwhile
            claimed.trace_id = trace_id
            deliverer.deliver([(claimed, outcome)], batch=False, started_at=started_at)
        session.commit()
