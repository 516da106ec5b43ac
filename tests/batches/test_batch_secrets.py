"""Batch errors never store the credentials a provider or a handler echoes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from flask_llm_logs.batches import flush
from flask_llm_logs.batches import poll
from flask_llm_logs.models import BatchRecord
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.state import get_state
from tests.helpers.batches import RecordingHandler
from tests.helpers.batches import batches
from tests.helpers.batches import enqueue
from tests.helpers.batches import requests_by_custom_id

SECRET = "sk-live-abcdefghijklmnopqrstuvwxyz0123"
GATEWAY_KEY = "gw-7f3a9c1e5b2d"
ECHO = f"Incorrect API key provided: {SECRET}; headers: x-api-key={GATEWAY_KEY}"
SCRUBBED = "Incorrect API key provided: [redacted]; headers: x-api-key=[redacted]"


def stored_errors() -> str:
    with get_state().engine.connect() as connection:
        rows = [
            *connection.execute(sa.select(BatchRecord.__table__)),
            *connection.execute(sa.select(BatchRequest.__table__)),
        ]
    return repr([tuple(row) for row in rows])


def test_submission_401_echoing_the_key(batch_app: Any, fake_openai: Any) -> None:
    enqueue(1)
    fake_openai.fail_next(status=401, path="/v1/batches", message=ECHO)
    assert flush("summary").submit_failures == 1
    [record] = batches()
    assert record.error is not None
    assert record.error.startswith("submission failed: AuthenticationError")
    assert record.error.endswith(SCRUBBED)
    assert SECRET not in stored_errors() and GATEWAY_KEY not in stored_errors()


def test_fallback_call_401_echoing_the_key(make_batch_app: Any, fake_openai: Any) -> None:
    app = make_batch_app(LLM_LOGS_BATCH_ENABLED=False)
    handler = RecordingHandler()
    with app.app_context():
        app.extensions["llm_logs"].batch_handlers["summary"] = handler
        enqueue(1)
        fake_openai.fail_next(status=401, path="/v1/responses", message=ECHO)
        flush("summary")
        [request] = requests_by_custom_id().values()
        assert request.status == "failed"
        assert request.error is not None and request.error.endswith(SCRUBBED)
        assert SECRET not in stored_errors() and GATEWAY_KEY not in stored_errors()


def test_handler_error_quoting_the_header(batch_app: Any, fake_openai: Any) -> None:
    def handler(request: BatchRequest, message: Any) -> None:
        raise RuntimeError(f"CRM refused: Authorization: Bearer {SECRET}")

    batch_app.extensions["llm_logs"].batch_handlers["summary"] = handler
    enqueue(1)
    flush("summary")
    fake_openai.batches.complete_all()
    poll()
    [request] = requests_by_custom_id().values()
    assert request.status == "failed"
    assert request.error == "RuntimeError: CRM refused: Authorization: [redacted]"
    assert SECRET not in stored_errors()
