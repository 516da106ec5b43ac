"""Results read as leniently as the SDK reads responses; requests OpenAI refuses fail as there."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask

from flask_llm_logs import Batch
from flask_llm_logs.batches import flush
from flask_llm_logs.batches import poll
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.state import get_state
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.batches import RecordingHandler


def stored_requests() -> list[BatchRequest]:
    session = get_state().session
    rows = list(session.scalars(sa.select(BatchRequest).order_by(BatchRequest.id)))
    session.rollback()
    return rows


def rewrite_output(
    fake_openai: FakeOpenAI, file_id: str, change: Callable[[dict[str, Any]], None]
) -> None:
    """Change each result body of an output file, as another provider would write it."""
    stored = fake_openai.files.get(file_id)
    lines = [json.loads(line) for line in stored.text.splitlines()]
    for line in lines:
        change(line["response"]["body"])
    stored.content = "".join(json.dumps(line) + "\n" for line in lines).encode()


def older_api(body: dict[str, Any]) -> None:
    """What an OpenAI-compatible provider or an older API version sends."""
    del body["usage"]["input_tokens_details"]["cache_write_tokens"]
    del body["usage"]["output_tokens_details"]
    for key in ("parallel_tool_calls", "tool_choice", "tools", "created_at"):
        body.pop(key, None)


def test_results_missing_fields_the_sdk_requires_are_delivered(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    for n in range(2):
        Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input=f"text {n}")
    flush("summary")
    [provider_id] = fake_openai.batches.ids()
    done = fake_openai.batches.complete(provider_id)
    rewrite_output(fake_openai, done["output_file_id"], older_api)

    result = poll()

    assert (result.delivered.succeeded, result.delivered.failed) == (2, 0)
    for request in stored_requests():
        assert request.status == "succeeded" and request.error is None
        assert request.result_content == f"Fake reply to: {request.payload['input']}"
        assert request.input_tokens and request.output_tokens
        assert request.cached_tokens == 0 and request.cost
    [(_, message), _] = handler.calls
    assert message.content.startswith("Fake reply to: text")
    assert message.reasoning_tokens is None  # left out by the provider, not invented
    assert message.response.output_text == message.content


def test_a_result_without_output_is_still_unusable(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input="text")
    flush("summary")
    [provider_id] = fake_openai.batches.ids()
    done = fake_openai.batches.complete(provider_id)
    rewrite_output(fake_openai, done["output_file_id"], lambda body: body.pop("output"))

    poll()

    [request] = stored_requests()
    assert request.status == "failed"
    assert request.error == "unusable result: ValueError: the result has no readable output"
    assert request.result is not None  # kept, as for any failed result
    assert handler.calls == []


def test_max_tokens_fails_at_the_fake_as_at_openai(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    """``max_tokens`` is a Chat Completions parameter: the Responses API refuses it."""
    Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input="a", max_tokens=50)
    Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input="b", max_output_tokens=50)
    flush("summary")
    fake_openai.batches.complete_all()
    poll()

    refused, accepted = stored_requests()
    assert refused.status == "failed" and refused.error is not None
    assert refused.error.startswith("unsupported_parameter: Unsupported parameter: 'max_tokens'")
    assert [custom_id for custom_id, _ in handler.failures] == [refused.custom_id]
    assert accepted.status == "succeeded"
