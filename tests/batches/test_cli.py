from __future__ import annotations

import json
from typing import Any

from flask import Flask

from flask_llm_logs import Batch
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.batches import RecordingHandler
from tests.helpers.batches import handled_rows


def invoke(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["llm-logs", "batches", *args])


def test_flush_poll_and_retry_commands(batch_app: Flask, fake_openai: FakeOpenAI) -> None:
    handler = RecordingHandler()
    batch_app.extensions["llm_logs"].batch_handlers["summary"] = handler
    first = Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input="a")
    second = Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input="b")
    handler.fail_for = {first.custom_id, second.custom_id}

    result = invoke(batch_app, "flush", "summary")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["submitted"] == 2
    fake_openai.batches.complete_all()
    result = invoke(batch_app, "poll")
    assert json.loads(result.output)["failed"] == 2

    handler.fail_for = {second.custom_id}
    result = invoke(batch_app, "retry", str(first.id))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "succeeded"

    result = invoke(batch_app, "retry", "--purpose", "summary", "--failed")
    assert json.loads(result.output) == {"succeeded": 0, "failed": 1}
    handler.fail_for = set()
    result = invoke(batch_app, "retry", "--failed", "--purpose", "summary")
    assert json.loads(result.output) == {"succeeded": 1, "failed": 0}
    assert len(handled_rows(batch_app)) == 2
    assert len(fake_openai.requests_to("/v1/responses")) == 0


def test_retry_usage_errors(batch_app: Flask) -> None:
    assert invoke(batch_app, "retry").exit_code == 2
    assert invoke(batch_app, "retry", "5", "--failed").exit_code == 2
    result = invoke(batch_app, "retry", "12345")
    assert result.exit_code == 1 and "no batch request" in result.output
