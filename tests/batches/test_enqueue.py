from __future__ import annotations

from typing import Any

import pydantic
import pytest
import sqlalchemy as sa
from flask import Flask

from flask_llm_logs import Batch
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.state import get_state


class Summary(pydantic.BaseModel):
    title: str
    score: int


def _count() -> int:
    session = get_state().session
    count = session.scalar(sa.select(sa.func.count()).select_from(BatchRequest))
    session.rollback()
    return int(count or 0)


def test_enqueue_stores_a_pending_request_at_once(batch_app: Flask) -> None:
    request = Batch.enqueue(
        purpose="summary",
        model="gpt-4.1-mini",
        instructions="Summarize.",
        input="A long conversation",
        routing={"conversation_id": 42},
        temperature=0.2,
        max_output_tokens=100,
    )
    stored = get_state().session.get(BatchRequest, request.id)
    assert stored is not None
    assert stored.status == "pending"
    assert stored.custom_id == request.custom_id and stored.custom_id.startswith("req_")
    assert stored.routing == {"conversation_id": 42}
    assert stored.payload == {
        "model": "gpt-4.1-mini",
        "input": "A long conversation",
        "instructions": "Summarize.",
        "temperature": 0.2,
        "max_output_tokens": 100,
    }


def test_input_may_be_a_responses_input_list(batch_app: Flask) -> None:
    items: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "input_text", "text": "Hello"}]},
        {"role": "assistant", "content": "Hi"},
    ]
    request = Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input=tuple(items))
    stored = get_state().session.get(BatchRequest, request.id)
    assert stored is not None
    assert stored.payload == {
        "model": "gpt-4.1-mini",
        "input": items,
    }


def test_custom_ids_are_unique(batch_app: Flask) -> None:
    ids = {Batch.enqueue(purpose="p", model="m", input=f"x{i}").custom_id for i in range(20)}
    assert len(ids) == 20


@pytest.mark.parametrize(
    ("schema", "name", "strict"),
    [
        (Summary, "Summary", True),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, "response", True),
        ({"name": "answer", "schema": {"type": "object"}, "strict": False}, "answer", False),
    ],
)
def test_schema_becomes_text_format(batch_app: Flask, schema: Any, name: str, strict: bool) -> None:
    request = Batch.enqueue(purpose="p", model="gpt-4.1-mini", input="x", schema=schema)
    format_ = request.payload["text"]["format"]
    assert format_["type"] == "json_schema"
    assert format_["name"] == name
    assert format_["strict"] is strict
    assert format_["schema"]["type"] == "object"
    if schema is Summary:
        assert format_["schema"]["additionalProperties"] is False
        assert set(format_["schema"]["required"]) == {"title", "score"}


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"purpose": ""}, "purpose"),
        ({"purpose": None}, "purpose"),
        ({"model": "  "}, "model"),
        ({"model": 3}, "model"),
        ({"input": 42}, "input"),
        ({"input": ""}, "input"),
        ({"input": ["not a dict"]}, "input"),
        ({"input": []}, "input"),
        ({"schema": "not a schema"}, "schema"),
        ({"schema": {"title": "no type"}}, "schema"),
        ({"schema": int}, "schema"),
        ({"routing": {"when": object()}}, "routing"),
        ({"routing": ["a"]}, "routing"),
        ({"routing": {"x": float("nan")}}, "routing"),
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": 5}, "temperature"),
        ({"instructions": 7}, "instructions"),
        ({"stream": True}, "stream"),
    ],
)
def test_bad_arguments_raise_and_store_nothing(
    batch_app: Flask, arguments: dict[str, Any], named: str
) -> None:
    call = {"purpose": "summary", "model": "gpt-4.1-mini", "input": "hello", **arguments}
    with pytest.raises(ValueError, match=named):
        Batch.enqueue(**call)
    assert _count() == 0
