"""Fixtures of the batch page tests: a real handler."""

from __future__ import annotations

import pytest
from flask import Flask

from flask_llm_logs import LlmLogs
from tests.helpers.batch_rows import Handler


@pytest.fixture
def handler(app: Flask) -> Handler:
    handler = Handler()
    LlmLogs().register_batch_handler("summaries", handler, app=app)
    return handler
