"""Batches and requests inserted through the ORM as the batch jobs leave
them, and a real batch handler, for the batch page tests (tests/web_batches)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask import Flask

from flask_llm_logs.models import BatchRecord
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.testing.engine import Engine

SUBMITTED = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.timezone.utc)
LONG_ROUTING = "ticket-" + "x" * 120


def stored_result(text: str = "A summary.") -> dict[str, Any]:
    """A provider response body as poll stores it, from the project's fake OpenAI."""
    return Engine().response({"model": "gpt-4.1-mini", "input": text})


def add_batch(app: Flask, requests: int = 0, **fields: Any) -> BatchRecord:
    """A batch with ``requests`` succeeded requests, inserted through the ORM."""
    session = app.extensions["llm_logs"].session
    fields.setdefault("purpose", "summaries")
    fields.setdefault("status", "completed")
    batch = BatchRecord(
        provider="openai_responses",
        model=fields.pop("model", "gpt-4.1-mini"),
        claim_token=f"claim-{fields['purpose']}-{fields.get('provider_batch_id') or id(fields)}",
        submitted_at=SUBMITTED,
        **fields,
    )
    session.add(batch)
    session.flush()
    for n in range(requests):
        session.add(
            BatchRequest(
                batch_id=batch.id,
                custom_id=f"{batch.id}-ok-{n}",
                purpose=batch.purpose,
                model=batch.model,
                status="succeeded",
                input_tokens=100 + n,
                output_tokens=20,
                cost=0.0001,
            )
        )
    batch.request_count = requests
    session.commit()
    return batch


def add_request(app: Flask, batch: BatchRecord, custom_id: str, **fields: Any) -> BatchRequest:
    session = app.extensions["llm_logs"].session
    request = BatchRequest(
        batch_id=batch.id, custom_id=custom_id, purpose=batch.purpose, model=batch.model, **fields
    )
    session.add(request)
    session.commit()
    return request


def failed_request(app: Flask, batch: BatchRecord, custom_id: str = "r-failed") -> BatchRequest:
    return add_request(
        app,
        batch,
        custom_id,
        status="failed",
        error="RuntimeError: handler refused",
        result=stored_result(),
        attempts=1,
    )


@dataclasses.dataclass
class Handler:
    """A real batch handler: records what it got, fails while told to."""

    failing: bool = False
    calls: list[tuple[str, Any]] = dataclasses.field(default_factory=list)

    def __call__(self, request: BatchRequest, message: Any) -> None:
        self.calls.append((request.custom_id, message.content))
        if self.failing:
            raise RuntimeError("still refusing")
