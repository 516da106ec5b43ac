"""Fixtures for the batch tests: an app talking to the fake OpenAI server."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from flask_llm_logs.state import get_state
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.batches import RecordingHandler
from tests.helpers.batches import handled
from tests.helpers.batches import host_metadata


@pytest.fixture
def make_batch_app(make_app: Callable[..., Flask], fake_openai: FakeOpenAI) -> Callable[..., Flask]:
    def make(**config: Any) -> Flask:
        config.setdefault("LLM_LOGS_OPENAI_CLIENT", fake_openai.client)
        app = make_app(**config)
        with app.app_context():
            engine = get_state(app).engine
            host_metadata.create_all(engine)
            with engine.begin() as connection:
                connection.execute(handled.delete())
        return app

    return make


@pytest.fixture
def batch_app(make_batch_app: Callable[..., Flask]) -> Iterator[Flask]:
    app = make_batch_app()
    with app.app_context():
        yield app


@pytest.fixture
def handler(batch_app: Flask) -> RecordingHandler:
    handler = RecordingHandler()
    batch_app.extensions["llm_logs"].batch_handlers["summary"] = handler
    return handler
