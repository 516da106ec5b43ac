"""What the OpenTelemetry tests share: the fake collector and reading what it got."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import wrapt
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


def _wrapped_by_another(method: Any) -> bool:
    """Whether a wrapper of another instrumentation (wrapt's, as OpenTelemetry's are) is in
    ``method``'s chain of ``__wrapped__``."""
    while method is not None:
        if isinstance(method, wrapt.BaseObjectProxy):
            return True
        method = getattr(method, "__wrapped__", None)
    return False


@pytest.fixture
def sdk_left_as_found(sdk_originals: dict[tuple[Any, str], Any]) -> Iterator[None]:
    """Fails a test that leaves another instrumentation's wrapper on the SDK's methods.

    OpenTelemetry's ``uninstrument()`` takes its wrapper off only when it is
    the outermost one; run while ours wraps it, it leaves it in place. Every
    later call in the process then goes through it, with the tracer of a
    provider shut down since: its span is the parent of the next test's
    spans, whose trace waits in that test's processor for a local root that
    ends in the other provider, and nothing is recorded (the OpenInference
    tests failed so after the openai-v2 ones). A fixture that instruments
    with another instrumentation requests this one (and ``reinstrumented``)
    so that its own teardown runs first. The SDK's methods are put back
    before the test fails, so the tests after it are not affected.
    """
    yield
    left = [
        f"{owner.__name__}.{name}"
        for owner, name in sdk_originals
        if _wrapped_by_another(vars(owner)[name])
    ]
    if left:
        uninstrument()
        for (owner, name), method in sdk_originals.items():
            setattr(owner, name, method)
        instrument()
        pytest.fail(f"another instrumentation's wrapper was left on {', '.join(left)}")
