"""The trace page shows the host APM's trace a trace ran in, linked when the app says where."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from tests.helpers.web import Store
from tests.helpers.web import html_of

APM_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
APM_SPAN = "00f067aa0ba902b7"


def test_the_apm_trace_id_is_shown(app: Flask, store: Store) -> None:
    trace = store.trace(apm_trace_id=APM_TRACE, apm_span_id=APM_SPAN)
    html = html_of(app.test_client().get(f"/llm_logs/traces/{trace.id}"))
    assert f"<code>{APM_TRACE}</code>" in html and f"span <code>{APM_SPAN}</code>" in html
    assert "https://" not in html.split('class="apm-trace"')[1].split("</p>")[0]


def test_the_apm_trace_id_links_to_the_apm(
    make_app: Callable[..., Flask], make_store: type[Store]
) -> None:
    app = make_app(LLM_LOGS_APM_TRACE_URL="https://tempo.example/trace/{trace_id}?x=1&y=2")
    with app.app_context():
        trace = make_store(app).trace(apm_trace_id=APM_TRACE, apm_span_id=APM_SPAN)
        html = html_of(app.test_client().get(f"/llm_logs/traces/{trace.id}"))
        plain = make_store(app).trace(name="no apm")
        without = html_of(app.test_client().get(f"/llm_logs/traces/{plain.id}"))
    assert f'href="https://tempo.example/trace/{APM_TRACE}?x=1&amp;y=2"' in html
    assert "APM trace" not in without
