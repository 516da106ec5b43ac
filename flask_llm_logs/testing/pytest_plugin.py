"""pytest fixtures for the fake OpenAI server, registered as a ``pytest11`` plugin.

Installing flask-llm-logs makes them available in every test suite, with no
``conftest.py`` needed. Each test gets its own server (function scope), so
scripted replies, errors, files and batches never leak between tests; a
server starts in about a millisecond.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .fake import FakeOpenAI

if TYPE_CHECKING:
    import openai


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started :class:`~flask_llm_logs.testing.FakeOpenAI`, stopped after the test."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def openai_client(fake_openai: FakeOpenAI) -> Iterator[openai.OpenAI]:
    """An ``openai.OpenAI`` talking to ``fake_openai``, with ``max_retries=0``."""
    client = fake_openai.client()
    yield client
    client.close()


@pytest.fixture
def async_openai_client(fake_openai: FakeOpenAI) -> openai.AsyncOpenAI:
    """An ``openai.AsyncOpenAI`` talking to ``fake_openai``, with ``max_retries=0``.

    An async client belongs to the event loop that first uses it, which this
    synchronous fixture cannot know: close it in that loop (``async with
    async_openai_client: ...``) so that its connections end cleanly. The
    server stops after the test in any case.
    """
    return fake_openai.async_client()
