"""Credentials in error text and names are scrubbed as they are in metadata.

A gateway's 401 that echoes the key, an exception that quotes the request's
``Authorization`` header: what the writer stores never holds the key, and
the scrubbing happens on the writer's thread, not in the caller's call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import sqlalchemy as sa
from flask import Flask

from flask_llm_logs import span
from flask_llm_logs import trace
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.state import get_state
from flask_llm_logs.testing import FakeOpenAI
from flask_llm_logs.tracing import serialize
from tests.helpers.tracing import MESSAGES
from tests.helpers.tracing import flush
from tests.helpers.tracing import one_trace

SECRET = "sk-live-abcdefghijklmnopqrstuvwxyz0123"
#: A gateway key without the ``sk-`` shape: recognised by the name before it.
GATEWAY_KEY = "gw-7f3a9c1e5b2d"
ECHO = (
    f"Incorrect API key provided: {SECRET}. Request headers: "
    f"{{'Authorization': 'Bearer {SECRET}', 'x-api-key': '{GATEWAY_KEY}'}}"
)


def everything_stored(app: Flask) -> str:
    """Every stored trace and span row, as one string to search for a key."""
    with get_state(app).engine.connect() as connection:
        rows = [
            *connection.execute(sa.select(Trace.__table__)),
            *connection.execute(sa.select(Span.__table__)),
        ]
    return repr([tuple(row) for row in rows])


@pytest.fixture
def scrubbing_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """The names of the threads :func:`serialize.scrub_text` runs on."""
    threads: set[str] = set()
    scrub = serialize.scrub_text

    def spy(text: str) -> str:
        threads.add(threading.current_thread().name)
        return scrub(text)

    monkeypatch.setattr(serialize, "scrub_text", spy)
    # Short texts are scrubbed once per process: forget the earlier tests' ones.
    serialize._short_text.cache_clear()
    yield threads


def test_gateway_401_echoing_the_key(
    app: Flask, fake_openai: FakeOpenAI, scrubbing_threads: set[str]
) -> None:
    client = fake_openai.client(api_key=SECRET)
    fake_openai.fail_next(401, message=ECHO)
    with pytest.raises(openai.AuthenticationError) as raised, trace("request"):
        client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    assert SECRET in str(raised.value)  # what the host sees is the SDK's own

    row, [llm] = one_trace(app)
    assert row.status == llm.status == "error"
    for error in (row.error, llm.error):
        assert error.startswith("AuthenticationError")
        assert "Incorrect API key provided: [redacted]." in error
        assert "'Authorization': '[redacted]', 'x-api-key': '[redacted]'" in error
    text = everything_stored(app)
    assert SECRET not in text and GATEWAY_KEY not in text
    assert scrubbing_threads and threading.current_thread().name not in scrubbing_threads


def test_exception_in_a_trace_quoting_the_header(app: Flask, scrubbing_threads: set[str]) -> None:
    with (
        pytest.raises(RuntimeError),
        trace(f"export api_key={GATEWAY_KEY}"),
        span(f"call with Bearer {SECRET}"),
    ):
        raise RuntimeError(f"upstream refused: Authorization: Bearer {SECRET}")
    flush()
    row, [step] = one_trace(app)
    assert row.name == "export api_key=[redacted]"
    assert step.name == "call with [redacted]"
    assert row.error == step.error == "RuntimeError: upstream refused: Authorization: [redacted]"
    text = everything_stored(app)
    assert SECRET not in text and GATEWAY_KEY not in text
    assert scrubbing_threads and threading.current_thread().name not in scrubbing_threads


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("password=hunter2&user=bob", "password=[redacted]&user=bob"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: [redacted]"),
        ('{"api_key": "gw-1", "model": "m"}', '{"api_key": "[redacted]", "model": "m"}'),
        ("Set-Cookie: session=abc; Path=/", "Set-Cookie: [redacted]; Path=/"),
        ("the secret sauce, unauthorized: 401", "the secret sauce, unauthorized: 401"),
        ("Authorization: [redacted]", "Authorization: [redacted]"),  # twice changes nothing
    ],
)
def test_scrub_text(text: str, scrubbed: str) -> None:
    assert serialize.scrub_text(text) == scrubbed
    assert serialize.scrub_secrets({"note": text}) == {"note": scrubbed}


@pytest.mark.parametrize(
    "metadata",
    [
        {"gen_ai.request.model": "gpt-4.1-mini", "gen_ai.request.temperature": 0.2},
        {"api_key": SECRET, "note": ECHO, "count": 3, "ok": True, "none": None},
        {"nan": float("nan"), "inf": float("inf"), "nul\x00key": "nul\x00value"},
        {"long": "x" * 300 + f" Bearer {SECRET}", "X-Api-Key": "k"},
        {"nested": {"Authorization": "Bearer abc", "list": [SECRET, 1]}},
        {1: "not a text key", "tags": ("a", "b")},
        {},
    ],
)
def test_metadata_json_is_scrubbed_json_of_the_metadata(metadata: dict[Any, Any]) -> None:
    """The one-walk path for flat metadata gives what the three walks give."""
    three_walks = serialize.dumps(serialize.scrub_secrets(serialize.to_json(dict(metadata))))
    assert serialize.metadata_json(metadata) == three_walks
    assert SECRET not in three_walks
