"""Deliver one request's outcome: store it, trace it, run the handler.

Runs inside the caller's transaction on ``db.session``, the session the
host's handler writes through, so a handler's writes commit together with
the request's new status. Each handler call gets its own SAVEPOINT: a
handler that raises rolls back its own writes only, and its request is
marked failed with the error, its result kept for a retry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from ..extension import State
from ..models import BatchRequest
from ..models.base import utcnow
from .adapters import BatchAdapter
from .adapters import Outcome
from .enqueue import is_structured
from .recording import price
from .recording import record_trace

logger = logging.getLogger("flask_llm_logs.batches")

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


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


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
        request: BatchRequest,
        outcome: Outcome | None,
        *,
        batch: bool,
        started_at: dt.datetime | None = None,
        missing: str = "no result for this request",
    ) -> None:
        """Deliver ``outcome`` (``None``: the provider returned nothing for it)."""
        if outcome is None or outcome.body is None:
            error = outcome.error if outcome is not None and outcome.error else missing
            self.fail(request, error)
            return
        self.deliver_result(request, outcome.body, batch=batch, started_at=started_at)

    def deliver_result(
        self,
        request: BatchRequest,
        body: Mapping[str, Any],
        *,
        batch: bool,
        started_at: dt.datetime | None = None,
    ) -> None:
        """Store ``body`` as the request's result and hand it to the handler."""
        request.attempts = (request.attempts or 0) + 1
        request.result = dict(body)
        try:
            message = self.adapter.message(body, structured=is_structured(request.payload or {}))
        except Exception as error:
            self._mark_failed(request, f"unusable result: {_error_text(error)}")
            return
        request.result_content = message.content
        request.input_tokens = message.input_tokens
        request.output_tokens = message.output_tokens
        request.cached_tokens = message.cached_tokens
        if request.trace_id is None:
            request.cost = price(
                self.state, self.adapter.pricing_provider, message, request.model, batch=batch
            )
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
        # Result and trace are stored whatever the handler does.
        self.session.flush()
        handler = self.state.batch_handlers.get(request.purpose)
        if handler is None:
            self._mark_failed(request, f"no batch handler registered for {request.purpose!r}")
            return
        savepoint = self.session.begin_nested()
        try:
            handler(request, message)
            request.status = FELL_BACK if request.batch_id is None else SUCCEEDED
            request.error = None
            request.completed_at = utcnow()
            savepoint.commit()
        except Exception as error:
            if savepoint.is_active:
                savepoint.rollback()
            logger.warning(
                "batch handler for %r failed on request %s",
                request.purpose,
                request.custom_id,
                exc_info=True,
            )
            self._mark_failed(request, _error_text(error))
            return
        self.counts.succeeded += 1

    def fail(self, request: BatchRequest, error: str) -> None:
        """Mark ``request`` failed and tell the handler's ``on_failure``."""
        request.attempts = (request.attempts or 0) + 1
        self._mark_failed(request, error)
        handler = self.state.batch_handlers.get(request.purpose)
        on_failure = getattr(handler, "on_failure", None)
        if on_failure is None:
            return
        savepoint = self.session.begin_nested()
        try:
            on_failure(request, error)
            savepoint.commit()
        except Exception:
            if savepoint.is_active:
                savepoint.rollback()
            logger.warning(
                "on_failure of the batch handler for %r failed on request %s",
                request.purpose,
                request.custom_id,
                exc_info=True,
            )

    def _mark_failed(self, request: BatchRequest, error: str) -> None:
        request.status = FAILED
        request.error = error
        request.completed_at = utcnow()
        self.session.flush()
        self.counts.failed += 1
