"""A flush process that dies with SIGKILL mid-submission (run by test_recovery).

Environment: ``DATABASE_URL``, ``OPENAI_BASE_URL`` and ``KILL_AT``:
``after_create`` (the provider batch exists, its id is not recorded) or
``before_create`` (the file is uploaded, no batch was created).
"""

from __future__ import annotations

import os
import signal
from typing import Any

import openai
from flask import Flask

from flask_llm_logs import LlmLogs
from flask_llm_logs.batches import flush
from flask_llm_logs.batches.adapters import OpenAIResponsesAdapter

real_create = OpenAIResponsesAdapter.create


def dying_create(self: OpenAIResponsesAdapter, *args: Any, **kwargs: Any) -> Any:
    if os.environ["KILL_AT"] == "after_create":
        real_create(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)


OpenAIResponsesAdapter.create = dying_create  # type: ignore[method-assign]

app = Flask("killed_flush")
app.config.update(
    SQLALCHEMY_DATABASE_URI=os.environ["DATABASE_URL"],
    LLM_LOGS_OPENAI_CLIENT=lambda: openai.OpenAI(
        base_url=os.environ["OPENAI_BASE_URL"], api_key="test", max_retries=0
    ),
)
LlmLogs(app)
with app.app_context():
    flush("summary")
raise SystemExit("flush returned: it should have been killed")
