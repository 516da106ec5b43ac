"""What the tests of the SDK instrumentations share: a structured-output
model, and a fixture that patches the SDKs again after each test.

A plugin of the suite (``pytest_plugins`` in tests/conftest.py); a module
asks for the fixture with
``pytestmark = pytest.mark.usefixtures("reinstrumented")``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pydantic
import pytest

from flask_llm_logs.instrumentation import instrument


class Verdict(pydantic.BaseModel):
    """The schema the structured-output tests ask the fake server for."""

    verdict: str
    confidence: float


@pytest.fixture
def reinstrumented() -> Iterator[None]:
    """Tests that uninstrument leave the SDKs patched again for the next test."""
    yield
    instrument()
