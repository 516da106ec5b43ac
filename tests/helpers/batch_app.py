"""The app a real ``rq worker`` subprocess loads through ``FLASK_APP`` (test_jobs).

Environment: ``DATABASE_URL``, ``OPENAI_BASE_URL``, ``LLM_LOGS_QUEUE``,
``LLM_LOGS_REDIS_URL``, optionally ``LLM_LOGS_WRITER_FLUSH_INTERVAL``.
"""

from __future__ import annotations

import os
import time

import openai
from flask import Flask

from flask_llm_logs import LlmLogs
from tests.helpers.batches import RecordingHandler


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ["DATABASE_URL"],
        LLM_LOGS_QUEUE=os.environ["LLM_LOGS_QUEUE"],
        LLM_LOGS_REDIS_URL=os.environ["LLM_LOGS_REDIS_URL"],
        LLM_LOGS_WRITER_FLUSH_INTERVAL=float(
            os.environ.get("LLM_LOGS_WRITER_FLUSH_INTERVAL", "0.5")
        ),
        LLM_LOGS_OPENAI_CLIENT=lambda: openai.OpenAI(
            base_url=os.environ["OPENAI_BASE_URL"], api_key="test", max_retries=0
        ),
    )
    llm_logs = LlmLogs(app)
    llm_logs.register_batch_handler("summary", RecordingHandler(), app=app)
    return app


def ask(base_url: str) -> None:
    """An app's own job: one ``openai`` call, recorded by the instrumentation."""
    with openai.OpenAI(base_url=base_url, api_key="test", max_retries=0) as client:
        client.chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": "Hi"}]
        )


def hold(pid_path: str) -> None:
    """A job that is still running when the test kills its worker: it writes
    its process id (the work horse's) to ``pid_path``, then waits."""
    with open(pid_path, "w") as file:
        file.write(str(os.getpid()))
    time.sleep(120)
