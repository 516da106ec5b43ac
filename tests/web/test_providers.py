"""Providers in the UI: shown on trace and span pages, filterable, their cache writes shown."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers.web import Store
from tests.helpers.web import html_of


def trace_ids(html: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"/traces/([0-9a-f-]{36})\"", html)))


@pytest.fixture
def calls(store: Store) -> dict[str, Any]:
    """A trace per provider, and one that called two providers, oldest first."""
    openai = store.trace("summary", minutes=0, models=["gpt-4.1-mini"])
    store.span(openai, "chat gpt-4.1-mini", kind="llm", model="gpt-4.1-mini", provider="openai")
    claude = store.trace(
        "review",
        minutes=10,
        models=["claude-sonnet-4"],
        input_tokens=1000,
        output_tokens=100,
        cached_tokens=500,
        cache_write_tokens=300,
    )
    span = store.span(
        claude,
        "chat claude-sonnet-4",
        kind="llm",
        model="claude-sonnet-4",
        provider="anthropic",
        input_tokens=1000,
        output_tokens=100,
        cached_tokens=500,
        cache_write_tokens=300,
        reasoning_tokens=0,
    )
    both = store.trace("compare", minutes=20, models=["gemini-2.5-flash", "gpt-4.1-mini"])
    store.span(
        both, "chat gemini-2.5-flash", kind="llm", model="gemini-2.5-flash", provider="google"
    )
    store.span(both, "chat gpt-4.1-mini", ms=5, kind="llm", model="gpt-4.1-mini", provider="openai")
    return {"openai": openai, "claude": claude, "both": both, "claude_span": span}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"provider": "openai"}, ["both", "openai"]),
        ({"provider": "anthropic"}, ["claude"]),
        ({"provider": "google"}, ["both"]),
        ({"provider": "mistral"}, []),
        ({"model": "claude-sonnet-4"}, ["claude"]),
        ({"model": "gemini-2.5-flash"}, ["both"]),
        ({"provider": "openai", "model": "gemini-2.5-flash"}, ["both"]),
    ],
)
def test_traces_filter_by_provider_and_by_any_providers_model(
    client: FlaskClient, url: Any, calls: dict[str, Any], query: dict[str, str], expected: list[str]
) -> None:
    html = html_of(client.get(url("/traces"), query_string=query))
    assert trace_ids(html) == [str(calls[k].id) for k in expected]
    assert f'name="provider" value="{query.get("provider", "")}"' in html


def test_a_provider_alone_makes_the_filters_active(
    client: FlaskClient, url: Any, calls: dict[str, Any]
) -> None:
    html = html_of(client.get(url("/traces"), query_string={"provider": "openai"}))
    assert "Clear" in html


def test_trace_page_shows_providers_and_cache_writes(
    client: FlaskClient, url: Any, calls: dict[str, Any]
) -> None:
    html = html_of(client.get(url(f"/traces/{calls['both'].id}")))
    assert "google, openai" in html  # the Models card names the providers
    assert '<span class="chip provider" title="provider">google</span>' in html
    html = html_of(client.get(url(f"/traces/{calls['claude'].id}")))
    assert "500 cached (50%) · 300 cache writes" in html


def test_span_page_shows_cache_writes_beside_cached_tokens(
    client: FlaskClient, url: Any, calls: dict[str, Any]
) -> None:
    span = calls["claude_span"]
    html = html_of(client.get(url(f"/traces/{span.trace_id}/spans/{span.id}")))
    assert "500 cached · 300 cache writes · 0 reasoning" in html
    assert "anthropic" in html


def test_provider_names_are_escaped(client: FlaskClient, url: Any, store: Store) -> None:
    trace = store.trace("odd")
    store.span(trace, "chat", kind="llm", model="m", provider="<b>host</b>")
    html = html_of(client.get(url(f"/traces/{trace.id}")))
    assert "<b>host</b>" not in html and "&lt;b&gt;host&lt;/b&gt;" in html
    html = html_of(client.get(url("/traces"), query_string={"provider": "<b>host</b>"}))
    assert trace_ids(html) == [str(trace.id)]
    assert "<b>host</b>" not in html
