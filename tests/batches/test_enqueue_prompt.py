"""``Batch.enqueue(prompt=...)``: a prompt built for the Responses API, its version linked."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_llm_logs import Batch
from flask_llm_logs import Prompt
from flask_llm_logs import trace
from flask_llm_logs.batches import flush
from flask_llm_logs.batches import poll
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.models import Trace
from flask_llm_logs.state import get_state
from flask_llm_logs.testing import FakeOpenAI
from flask_llm_logs.tracing.context import take_prompt_version
from tests.helpers.batches import RecordingHandler
from tests.helpers.batches import requests_by_custom_id
from tests.helpers.prompts import current_version
from tests.helpers.prompts import make_prompt


def make_summary() -> int:
    """A prompt ``summary`` of one version; its id."""
    prompt = make_prompt(
        "summary",
        "Summary",
        "Summarize for {{audience}}.",
        "{{conversation}}",
        model_params={"temperature": 0.2, "max_tokens": 300},
        default_variables={"audience": "the desk"},
    )
    return current_version(prompt).id


def test_enqueue_builds_the_prompt_for_the_responses_api(
    batch_app: Flask, fake_openai: FakeOpenAI, handler: RecordingHandler
) -> None:
    version_id = make_summary()
    with trace("enqueueing"):
        request = Batch.enqueue(
            prompt="summary",
            variables={"conversation": "A long talk"},
            purpose="summary",
            routing={"conversation_id": 42},
        )
        # Enqueueing is not an LLM call: the caller's next call is not linked.
        assert take_prompt_version() is None
    assert request.payload == {
        "model": "gpt-4.1-mini",
        "instructions": "Summarize for the desk.",
        "input": [{"role": "user", "content": "A long talk"}],
        "temperature": 0.2,
        "max_output_tokens": 300,
    }
    assert request.routing == {"conversation_id": 42, "prompt_version_id": version_id}

    flush("summary")
    fake_openai.batches.complete_all()
    poll()
    [delivered] = requests_by_custom_id().values()
    assert delivered.status == "succeeded"
    linked = get_state().session.get(Trace, delivered.trace_id)
    assert linked is not None and linked.prompt_version_id == version_id
    assert handler.calls[0][1].content == "Fake reply to: A long talk"


def test_arguments_given_win_over_the_prompt(batch_app: Flask) -> None:
    make_summary()
    request = Batch.enqueue(
        prompt="summary",
        variables={"conversation": "Talk", "audience": "traders"},
        purpose="summary",
        model="gpt-4.1-nano",
        input="And one more thing.",
        temperature=0.9,
        max_output_tokens=50,
    )
    assert request.payload["model"] == "gpt-4.1-nano"
    assert request.payload["instructions"] == "Summarize for traders."
    assert request.payload["input"] == [
        {"role": "user", "content": "Talk"},
        {"role": "user", "content": "And one more thing."},
    ]
    assert (request.payload["temperature"], request.payload["max_output_tokens"]) == (0.9, 50)


def test_bad_prompt_arguments_raise_and_store_nothing(batch_app: Flask) -> None:
    make_summary()
    Prompt.create("empty", "Empty")
    Prompt.create_with_content(
        "seeded", "Seeded", messages=[{"role": "user", "content": "x"}], model_params={"seed": 1}
    )
    cases = [
        ({"prompt": "nope"}, "prompt: .*nope"),
        ({"prompt": "empty"}, "prompt: 'empty' has no version"),
        ({"prompt": "seeded", "model": "m"}, "'seed' has no counterpart in the responses API"),
        ({"prompt": 3}, "prompt must be a prompt's slug"),
        ({"prompt": "summary", "variables": ["x"]}, "variables must be a dict"),
        ({"model": "m", "input": "x", "variables": {"a": 1}}, "variables: pass them with prompt="),
        ({"input": "x"}, "model must be a non-empty string"),
    ]
    for arguments, message in cases:
        with pytest.raises(ValueError, match=message):
            Batch.enqueue(purpose="summary", **arguments)  # type: ignore[arg-type]
    session = get_state().session
    assert session.scalar(sa.select(sa.func.count()).select_from(BatchRequest)) == 0
