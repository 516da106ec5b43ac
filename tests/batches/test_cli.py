from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from flask import Flask

from flask_llm_logs import Batch
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.batches import RecordingHandler
from tests.helpers.batches import handled_rows

#: The checkout, so that ``flask`` imports ``tests.helpers.batch_app``.
ROOT = Path(__file__).parents[2]


def invoke(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["llm-logs", "batches", *args])


def invoke_json(app: Flask, *args: str, exit_code: int = 0) -> Any:
    result = invoke(app, *args, "--json")
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def test_flush_poll_and_retry_commands(batch_app: Flask, fake_openai: FakeOpenAI) -> None:
    handler = RecordingHandler()
    batch_app.extensions["llm_logs"].batch_handlers["summary"] = handler
    first = Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input="a")
    second = Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input="b")
    handler.fail_for = {first.custom_id, second.custom_id}

    assert invoke_json(batch_app, "flush", "summary")["submitted"] == 2
    fake_openai.batches.complete_all()
    # Failed requests: exit status 1, the JSON still on stdout.
    assert invoke_json(batch_app, "poll", exit_code=1)["failed"] == 2

    handler.fail_for = {second.custom_id}
    assert invoke_json(batch_app, "retry", str(first.id))["status"] == "succeeded"
    result = invoke_json(batch_app, "retry", second.custom_id, exit_code=1)
    assert result["status"] == "failed" and "handler refused" in result["error"]

    # Every retry failed: exit status 1 (it was 0).
    result = invoke_json(batch_app, "retry", "--purpose", "summary", "--failed", exit_code=1)
    assert result == {"succeeded": 0, "failed": 1}
    handler.fail_for = set()
    result = invoke_json(batch_app, "retry", "--failed", "--purpose", "summary")
    assert result == {"succeeded": 1, "failed": 0}
    assert len(handled_rows(batch_app)) == 2
    assert len(fake_openai.requests_to("/v1/responses")) == 0


def test_commands_print_text_for_people_outside_an_app_context(
    make_batch_app: Any, fake_openai: Any
) -> None:
    """``app.test_cli_runner()`` pushes no app context: the commands push one."""
    app = make_batch_app()
    handler = RecordingHandler()
    app.extensions["llm_logs"].batch_handlers["summary"] = handler
    with app.app_context():
        request = Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input="a")
    handler.fail_for = {request.custom_id}

    result = invoke(app, "flush")
    assert result.exit_code == 0, result.output
    assert result.output == "Submitted 1 request in 1 batch.\n"
    fake_openai.batches.complete_all()
    result = invoke(app, "poll")
    assert result.exit_code == 1, result.output
    assert result.output == "Checked 1 batch, 1 reconciled: 0 requests succeeded, 1 failed.\n"
    result = invoke(app, "retry", "--failed")
    assert result.exit_code == 1, result.output
    assert result.output == "Retried 1 failed request: 0 succeeded, 1 failed again.\n"
    result = invoke(app, "retry", str(request.id))
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Request {request.id}: failed. ")
    assert "handler refused" in result.output


def test_flush_and_poll_exit_1_when_the_provider_fails(batch_app: Flask, fake_openai: Any) -> None:
    Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input="a")
    fake_openai.fail_next(status=500, path="/v1/batches", message="upstream broke")
    result = invoke(batch_app, "flush")
    assert result.exit_code == 1, result.output
    assert "1 batch submission failed" in result.output
    assert invoke_json(batch_app, "flush")["submitted"] == 1

    fake_openai.fail_next(status=500, path="/v1/batches/*", method="GET")
    result = invoke_json(batch_app, "poll", exit_code=1)
    assert (result["checked"], result["errors"]) == (0, 1)
    assert invoke_json(batch_app, "poll")["errors"] == 0


def test_retry_usage_errors(batch_app: Flask) -> None:
    assert invoke(batch_app, "retry").exit_code == 2
    assert invoke(batch_app, "retry", "5", "--failed").exit_code == 2
    result = invoke(batch_app, "retry", "12345")
    assert result.exit_code == 1 and "no batch request" in result.output


def test_commands_under_a_real_flask_process(
    make_batch_app: Any, fake_openai: Any, database_url: str
) -> None:
    app = make_batch_app()
    handler = RecordingHandler()
    app.extensions["llm_logs"].batch_handlers["summary"] = handler
    with app.app_context():
        requests = [
            Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input=text) for text in "ab"
        ]
    handler.fail_for = {request.custom_id for request in requests}
    assert invoke(app, "flush").exit_code == 0
    fake_openai.batches.complete_all()
    assert invoke(app, "poll").exit_code == 1
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        DATABASE_URL=database_url,
        OPENAI_BASE_URL=fake_openai.base_url,
        LLM_LOGS_QUEUE=app.config["LLM_LOGS_QUEUE"],
        LLM_LOGS_REDIS_URL=app.config["LLM_LOGS_REDIS_URL"],
    )

    def flask(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "flask", "--app", "tests.helpers.batch_app:create_app"]
        return subprocess.run(
            [*command, "llm-logs", "batches", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    # That app's handler accepts them.
    process = flask("retry", "--failed", "--json")
    assert process.returncode == 0, process.stderr
    assert json.loads(process.stdout) == {"succeeded": 2, "failed": 0}
    process = flask("retry", str(requests[0].id))
    assert process.returncode == 1
    assert "cannot be retried: its status is 'succeeded'" in process.stderr
    assert len(handled_rows(app)) == 2  # the failed calls' rows were rolled back
