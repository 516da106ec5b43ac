"""Test your LLM code offline: an OpenAI-compatible fake server.

:class:`FakeOpenAI` serves the OpenAI HTTP API on ``127.0.0.1`` from a
background thread, so the real ``openai`` SDK (sync and async, streaming
included) talks to it exactly as it talks to OpenAI. Installing the package
also registers a pytest plugin with the ``fake_openai``, ``openai_client``
and ``async_openai_client`` fixtures.

Only the standard library is used here; ``openai`` is imported lazily by the
client helpers.
"""

from .app import RecordedRequest
from .batches import BatchStore
from .engine import EMBEDDING_DIMENSIONS
from .engine import embedding_vector
from .errors import error_body
from .fake import FakeOpenAI
from .files import FileStore
from .files import StoredFile
from .schema import sample_for_schema
from .tokens import count_tokens

__all__ = [
    "EMBEDDING_DIMENSIONS",
    "BatchStore",
    "FakeOpenAI",
    "FileStore",
    "RecordedRequest",
    "StoredFile",
    "count_tokens",
    "embedding_vector",
    "error_body",
    "sample_for_schema",
]
