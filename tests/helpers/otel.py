"""What the OpenTelemetry tests share: the fake collector and reading what it got."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from opentelemetry.sdk.trace import TracerProvider

import flask_llm_logs
from flask_llm_logs.instrumentation import instrument
from flask_llm_logs.instrumentation import openai as openai_instrumentation
from flask_llm_logs.instrumentation import uninstrument
from flask_llm_logs.otel import LlmLogsSpanProcessor
from flask_llm_logs.testing.otlp import FakeCollector
from flask_llm_logs.testing.otlp import ReceivedSpan
from flask_llm_logs.tracing import apm


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    """A started fake OTLP/HTTP collector, stopped after the test."""
    with FakeCollector() as collector:
        yield collector


@pytest.fixture
def export_app(make_app: Callable[..., Flask], collector: FakeCollector) -> Iterator[Flask]:
    """An app that stores and exports to ``collector``, in an app context."""
    app = make_app(LLM_LOGS_OTLP_ENDPOINT=collector.endpoint)
    with app.app_context():
        yield app


def exported(collector: FakeCollector, **where: Any) -> list[ReceivedSpan]:
    """The spans ``collector`` got once everything recorded so far is stored and exported."""
    assert flask_llm_logs.flush(timeout=10), "not stored and exported in time"
    return collector.received(**where)


def by_name(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    named = {span.name: span for span in spans}
    assert len(named) == len(spans), f"two spans share a name: {[s.name for s in spans]}"
    return named


@pytest.fixture
def provider(app: Flask) -> Iterator[TracerProvider]:
    """The host's provider, feeding our processor."""
    provider = TracerProvider()
    provider.add_span_processor(LlmLogsSpanProcessor(app))
    yield provider
    apm.ingest = None  # the processor registered itself for our own calls
    provider.shutdown()


@pytest.fixture
def only_theirs(app: Flask) -> None:
    """Our own instrumentation off (``reinstrumented`` puts it back): the other one alone."""
    uninstrument()


def instrumented(instrumentor: Any, provider: TracerProvider) -> Any:
    instrumentor.instrument(tracer_provider=provider)
    return instrumentor


def _openai_methods() -> list[tuple[Any, str]]:
    owners = []
    for point in openai_instrumentation.PATCH_POINTS:
        module = importlib.import_module(point.module)
        owners.append((getattr(module, point.cls) if point.cls else module, point.method))
    return owners


@pytest.fixture(scope="module")
def sdk_originals() -> dict[tuple[Any, str], Any]:
    """The openai SDK's own methods, read before the module's first test."""
    uninstrument()
    originals = {(owner, name): vars(owner)[name] for owner, name in _openai_methods()}
    instrument()
    return originals


@pytest.fixture
def sdk_methods_restored(sdk_originals: dict[tuple[Any, str], Any]) -> Iterator[None]:
    """The SDK's own methods under ours again after the test.

    Another instrumentation's ``uninstrument()`` unwraps only its own wrapper
    when it is the outermost one; under ours it stays, and every later
    test's calls would go through it.
    """
    yield
    uninstrument()
    for (owner, name), method in sdk_originals.items():
        setattr(owner, name, method)
    instrument()
