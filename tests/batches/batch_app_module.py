"""The app a real ``rq worker`` subprocess loads through ``FLASK_APP`` (test_jobs).

Environment: ``DATABASE_URL``, ``OPENAI_BASE_URL``, ``LLM_LOGS_QUEUE``,
``LLM_LOGS_REDIS_URL``.
"""

from __future__ import annotations

import os

import openai
from batch_helpers import RecordingHandler
from flask import Flask

from flask_llm_logs import LlmLogs


def create_app() -> Flask:
    app = Flask("batch_app_module")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ["DATABASE_URL"],
        LLM_LOGS_QUEUE=os.environ["LLM_LOGS_QUEUE"],
        LLM_LOGS_REDIS_URL=os.environ["LLM_LOGS_REDIS_URL"],
        LLM_LOGS_OPENAI_CLIENT=lambda: openai.OpenAI(
            base_url=os.environ["OPENAI_BASE_URL"], api_key="test", max_retries=0
        ),
    )
    llm_logs = LlmLogs(app)
    llm_logs.register_batch_handler("summary", RecordingHandler(), app=app)
    return app
