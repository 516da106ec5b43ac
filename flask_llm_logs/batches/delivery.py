"""Deliver requests' outcomes: store them, trace them, run the handler.

Runs inside the caller's transaction on ``db.session``, the session the
host's handler writes through, so a handler's writes commit together with
the request's new status. Each handler call gets its own SAVEPOINT: a
handler that raises rolls back its own writes only, and its request is
marked failed with the error, its result kept for a retry.

Outcomes are delivered in chunks: results, traces and spans of a chunk are
written in one flush (bulk inserts), then the handlers run one savepoint
each, then the successes are marked in one ``UPDATE``. Per request that
leaves the savepoint and the handler's own statements.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..log import get_logger
from ..models import BatchRequest
from ..models.base import utcnow
from ..state import State
from ..tracing.recorder import error_message
from .adapters import BatchAdapter
from .adapters import Message
from .adapters import RequestOutcome
from .enqueue import is_structured
from .recording import price
from .recording import record_trace

#: Requests that reached a final state.
SUCCEEDED = "succeeded"
FELL_BACK = "fell_back"
FAILED = "failed"


@dataclasses.dataclass
class Counts:
    """What a flush, poll or retry did, for logs, the CLI and job results."""

    succeeded: int = 0
    failed: int = 0

    def add(self, other: Counts) -> None:
        self.succeeded += other.succeeded
        self.failed += other.failed


def success_status(request: BatchRequest) -> str:
    """``fell_back`` for requests sent synchronously (they have no batch)."""
    return FELL_BACK if request.batch_id is None else SUCCEEDED


class Deliverer:
    """Delivers outcomes for one app within the caller's transactions."""

    def __init__(self, state: State, adapter: BatchAdapter) -> None:
        self.state = state
        self.adapter = adapter
        self.counts = Counts()

    @property
    def session(self) -> Session:
        return self.state.session  # type: ignore[return-value]

    def deliver(
        self,
        outcomes: Iterable[tuple[BatchRequest, RequestOutcome | None]],
        *,
        batch: bool,
        started_at: dt.datetime | None = None,
        missing: str = "no result for this request",
    ) -> None:
        """Deliver each request's outcome (``None``: the provider returned nothing).

        The requests must be locked by the caller's transaction.
        """
        ready: list[tuple[BatchRequest, Message]] = []
        provider_failures: list[tuple[BatchRequest, str]] = []
        for request, outcome in outcomes:
            request.attempts = (request.attempts or 0) + 1
            if outcome is None or outcome.body is None:
                error = outcome.error if outcome is not None and outcome.error else missing
                self._mark_failed(request, error)
                provider_failures.append((request, error))
                continue
            message = self._store(request, outcome.body, batch=batch, started_at=started_at)
            if message is not None:
                ready.append((request, message))
        # Results, traces and failures are stored whatever the handlers do.
        self.session.flush()
        succeeded = [request for request, message in ready if self._handle(request, message)]
        for request, error in provider_failures:
            self._notify_failure(request, error)
        self._mark_succeeded(succeeded)

    def _store(
        self,
        request: BatchRequest,
        body: Mapping[str, Any],
        *,
        batch: bool,
        started_at: dt.datetime | None,
    ) -> Message | None:
        """Store ``body`` as the result; the handler's message, or ``None`` if unusable."""
        request.result = dict(body)
        try:
            message = self.adapter.message(body, structured=is_structured(request.payload or {}))
        except Exception as error:
            self._mark_failed(request, f"unusable result: {error_message(error)}")
            return None
        request.result_content = message.content
        request.input_tokens = message.input_tokens
        request.output_tokens = message.output_tokens
        request.cached_tokens = message.cached_tokens
        if request.cost is None:
            request.cost = price(
                self.state, self.adapter.pricing_provider, message, request.model, batch=batch
            )
        # A retry keeps the trace of the call, as does a fallback call traced
        # by the openai instrumentation. LLM_LOGS_ENABLED = False records none.
        if request.trace_id is None and self.state.enabled:
            request.trace_id = record_trace(
                self.session,
                self.state,
                request,
                message,
                provider=self.adapter.pricing_provider,
                batch=batch,
                cost=request.cost,
                started_at=started_at,
            )
        return message

    def _handle(self, request: BatchRequest, message: Message) -> bool:
        """Run the purpose's handler in a savepoint; whether it returned."""
        handler = self.state.batch_handlers.get(request.purpose)
        if handler is None:
            self._mark_failed(request, f"no batch handler registered for {request.purpose!r}")
            return False
        savepoint = self.session.begin_nested()
        try:
            handler(request, message)
            savepoint.commit()
        except Exception as error:
            if savepoint.is_active:
                savepoint.rollback()
            get_logger(__name__).warning(
                "batch handler for %r failed on request %s",
                request.purpose,
                request.custom_id,
                exc_info=True,
            )
            self._mark_failed(request, error_message(error))
            return False
        return True

    def _notify_failure(self, request: BatchRequest, error: str) -> None:
        """Tell the handler's ``on_failure``, in a savepoint of its own."""
        on_failure = getattr(self.state.batch_handlers.get(request.purpose), "on_failure", None)
        if on_failure is None:
            return
        savepoint = self.session.begin_nested()
        try:
            on_failure(request, error)
            savepoint.commit()
        except Exception:
            if savepoint.is_active:
                savepoint.rollback()
            get_logger(__name__).warning(
                "on_failure of the batch handler for %r failed on request %s",
                request.purpose,
                request.custom_id,
                exc_info=True,
            )

    def _mark_failed(self, request: BatchRequest, error: str) -> None:
        request.status = FAILED
        request.error = error
        request.completed_at = utcnow()
        self.counts.failed += 1

    def _mark_succeeded(self, requests: list[BatchRequest]) -> None:
        """One ``UPDATE`` for the chunk, after every handler returned."""
        if not requests:
            return
        now = utcnow()
        self.session.execute(
            sa.update(BatchRequest)
            .where(BatchRequest.id.in_([request.id for request in requests]))
            .values(
                status=sa.case((BatchRequest.batch_id.is_(None), FELL_BACK), else_=SUCCEEDED),
                error=None,
                completed_at=now,
                updated_at=now,
            ),
            execution_options={"synchronize_session": False},
        )
        for request in requests:
            set_committed_value(request, "status", success_status(request))
            set_committed_value(request, "error", None)
            set_committed_value(request, "completed_at", now)
        self.counts.succeeded += len(requests)
