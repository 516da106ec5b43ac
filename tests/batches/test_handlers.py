"""``llm_logs.register_batch_handler`` as an app factory uses it."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from flask_llm_logs import Batch
from flask_llm_logs import LlmLogs
from flask_llm_logs.batches import flush
from flask_llm_logs.batches import poll
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.batches import RecordingHandler
from tests.helpers.batches import handled_rows


def test_handlers_registered_before_init_app_reach_every_app(
    database_url: str, fake_openai: FakeOpenAI, make_batch_app: Callable[..., Flask]
) -> None:
    llm_logs = LlmLogs()  # module level in an app factory's extensions.py
    handler = RecordingHandler()
    llm_logs.register_batch_handler("summary", handler)
    app = make_batch_app()  # creates the host table; its own LlmLogs
    factory_app = Flask("factory_app")
    factory_app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url, LLM_LOGS_OPENAI_CLIENT=fake_openai.client
    )
    llm_logs.init_app(factory_app)
    later = RecordingHandler()
    llm_logs.register_batch_handler("later", later)  # after init_app, no app context
    try:
        with factory_app.app_context():
            Batch.enqueue(purpose="summary", model="gpt-4.1-mini", input="a")
            Batch.enqueue(purpose="later", model="gpt-4.1-mini", input="b")
            flush()
            fake_openai.batches.complete_all()
            assert poll().delivered.succeeded == 2
        assert (len(handler.calls), len(later.calls)) == (1, 1)
        assert len(handled_rows(app)) == 2
        # An app this object did not initialise keeps its own handlers.
        assert "summary" not in app.extensions["llm_logs"].batch_handlers
    finally:
        factory_app.extensions["llm_logs"].shutdown()
        with factory_app.app_context():
            factory_app.extensions["sqlalchemy"].engines[None].dispose()
