"""Fixtures of the batch page tests: a real handler."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask import Flask

from flask_llm_logs import LlmLogs
from flask_llm_logs.models import BatchRequest


@dataclasses.dataclass
class Handler:
    """A real batch handler: records what it got, fails while told to."""

    failing: bool = False
    calls: list[tuple[str, Any]] = dataclasses.field(default_factory=list)

    def __call__(self, request: BatchRequest, message: Any) -> None:
        self.calls.append((request.custom_id, message.content))
        if self.failing:
            raise RuntimeError("still refusing")


@pytest.fixture
def handler(app: Flask) -> Handler:
    handler = Handler()
    LlmLogs().register_batch_handler("summaries", handler, app=app)
    return handler
