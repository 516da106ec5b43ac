"""The UI in a real browser: Debian's chromium driven by Playwright.

A real server (werkzeug, on a thread, loopback) serves a test app. The tests
click through the pages a person uses, check that hostile content stays
text and that the pages trigger no Content-Security-Policy violation.

The screenshots used in docs/ui.rst are written only when asked for:
``LLM_LOGS_SCREENSHOTS=1 pytest tests/web tests/web_prompts tests/web_batches``.
Without it the tests click and check exactly the same, and leave
``docs/_static/screenshots/`` untouched (a test run keeps the tree clean).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from flask_llm_logs.models import BatchRecord
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from tests.helpers.browser import ATTRIBUTE_INJECTION
from tests.helpers.browser import assert_no_injected_attributes
from tests.helpers.browser import shoot

pytestmark = pytest.mark.browser

NOW = dt.datetime(2026, 11, 28, 14, 30, tzinfo=dt.timezone.utc)


def at(minutes: float = 0, ms: float = 0) -> dt.datetime:
    return NOW + dt.timedelta(minutes=minutes, milliseconds=ms)


def demo_data(session: Any) -> Trace:
    """A few traces like a real app records; returns the richest one."""
    for n, (name, status, model) in enumerate(
        [
            ("support_reply", "completed", "gpt-4.1-mini"),
            ("classify_ticket", "completed", "gpt-4.1-nano"),
            ("summarise_report", "error", "gpt-4.1"),
            ("rag_answer", "completed", "gpt-4.1-mini"),
            ("translate", "running", "gpt-4.1-mini"),
        ]
    ):
        trace = Trace(
            name=name,
            status=status,
            models=[model],
            started_at=at(-5 * (n + 1)),
            input_tokens=800 + 150 * n,
            output_tokens=120 + 30 * n,
            cached_tokens=256 if n % 2 else 0,
            cost=0.0004 * (n + 1),
            duration_ms=900 + 400 * n,
            spans_count=1,
            metadata_={"user": f"user-{n}"},
            error="RateLimitError: Rate limit reached for gpt-4.1" if status == "error" else None,
        )
        session.add(trace)
    trace = Trace(
        name="strategy_analysis",
        status="completed",
        models=["gpt-4.1-mini"],
        started_at=at(),
        completed_at=at(ms=4200),
        input_tokens=2140,
        output_tokens=512,
        cached_tokens=1024,
        cost=0.00168,
        duration_ms=4200,
        spans_count=5,
        metadata_={"strategy_id": 42, "user": "demo"},
    )
    session.add(trace)
    session.flush()
    root = Span(
        trace_id=trace.id,
        name="retrieve_docs",
        kind="custom",
        input={"query": "momentum alpha", "top_k": 2},
        output=["Momentum Alpha buys 4h breakouts.", "Stops at 2 ATR."],
        started_at=at(),
        duration_ms=310,
    )
    chat = Span(
        trace_id=trace.id,
        name="chat gpt-4.1-mini",
        kind="llm",
        operation="chat",
        model="gpt-4.1-mini",
        provider="openai",
        input=[
            {"role": "system", "content": "You analyse trading strategies for Tradebot."},
            {"role": "user", "content": "Analyse Momentum Alpha on the 4h timeframe."},
        ],
        output={
            "role": "assistant",
            "content": (
                "**Momentum Alpha** looks sound on the 4h timeframe.\n\n"
                "- Win rate: 41 %\n- Average R: 1.9\n- Max drawdown: 12 %\n\n"
                "Consider a volatility filter: `ATR(14) > median`."
            ),
        },
        input_tokens=1320,
        output_tokens=286,
        cached_tokens=1024,
        cost=0.00094,
        started_at=at(ms=320),
        duration_ms=1850,
        time_to_first_token_ms=420,
    )
    session.add_all([root, chat])
    session.flush()
    risk = Span(
        trace_id=trace.id,
        name="risk_assessment",
        kind="custom",
        started_at=at(ms=2200),
        duration_ms=1950,
    )
    session.add(risk)
    session.flush()
    tool_call = {
        "id": "call_7",
        "type": "function",
        "function": {"name": "lookup_price", "arguments": '{"symbol": "AAPL"}'},
    }
    session.add_all(
        [
            Span(
                trace_id=trace.id,
                parent_id=risk.id,
                name="chat gpt-4.1-mini",
                kind="llm",
                operation="chat",
                model="gpt-4.1-mini",
                provider="openai",
                input=[{"role": "user", "content": "What is AAPL trading at?"}],
                output={"role": "assistant", "content": None, "tool_calls": [tool_call]},
                input_tokens=820,
                output_tokens=226,
                cost=0.00074,
                started_at=at(ms=2210),
                duration_ms=1200,
            ),
            Span(
                trace_id=trace.id,
                parent_id=risk.id,
                name="lookup_price",
                kind="tool",
                operation="execute_tool",
                input={"symbol": "AAPL"},
                output=231.4,
                started_at=at(ms=3420),
                duration_ms=730,
            ),
        ]
    )
    batch = BatchRecord(
        purpose="nightly_scoring",
        provider="openai_responses",
        model="gpt-4.1-mini",
        claim_token="demo",
        status="completed",
        request_count=1,
    )
    session.add(batch)
    session.flush()
    first = session.query(Trace).filter_by(name="support_reply").one()
    session.add(
        BatchRequest(
            batch_id=batch.id,
            custom_id="score-1",
            purpose="nightly_scoring",
            model="gpt-4.1-mini",
            status="completed",
            trace_id=first.id,
        )
    )
    session.commit()
    return trace


def test_browse_filter_trace_timeline_span(app: Flask, server: str, page: Any) -> None:
    trace = demo_data(app.extensions["llm_logs"].session)
    page.goto(server + "/")
    rows = page.locator("tbody tr")
    assert rows.count() == 6
    assert rows.first.locator("td.name").inner_text() == "strategy_analysis"
    shoot(page, "traces")

    # Filter: only the errors.
    page.select_option("select[name=status]", "error")
    page.click("button:has-text('Filter')")
    page.wait_for_url("**status=error**")
    assert page.locator("tbody tr").count() == 1
    assert page.locator("tbody td.name").inner_text() == "summarise_report"
    # Then a text search over span inputs and outputs.
    page.goto(server + "/traces")
    page.fill("input[name=q]", "momentum")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**q=momentum**")
    assert page.locator("tbody td.name").all_inner_texts() == ["strategy_analysis"]
    shoot(page, "traces-filtered")

    # Open the trace.
    page.click("td.name a")
    page.wait_for_url(f"**/traces/{trace.id}")
    assert page.locator(".card").count() == 6
    spans = page.locator(".tree details.span")
    assert spans.count() == 5
    assert not spans.nth(1).locator(".message.role-system").is_visible()
    # Expand a span: its messages per role and the rendered Markdown show.
    spans.nth(1).locator("summary").first.click()
    assert spans.nth(1).locator(".message.role-system").is_visible()
    assert spans.nth(1).locator(".markdown strong").first.inner_text() == "Momentum Alpha"
    # Expand all: the tool call and its arguments are readable.
    page.click("button:has-text('Expand all')")
    assert page.locator(".tool-name strong").inner_text() == "lookup_price"
    assert '"symbol": "AAPL"' in page.locator(".tool-call pre").inner_text()
    shoot(page, "trace")

    # The timeline: one bar per span, collapsible.
    timeline = page.locator("details#timeline")
    assert timeline.get_attribute("open") is not None
    timeline.locator("summary").click()
    assert timeline.get_attribute("open") is None
    timeline.locator("summary").click()
    assert page.locator(".waterfall rect.bar").count() == 5
    widths = [
        float(w)
        for w in page.locator(".waterfall rect.bar").evaluate_all(
            "bars => bars.map(b => b.getAttribute('width'))"
        )
    ]
    assert max(widths) > 400  # risk_assessment spans almost half of the trace
    shoot(page, "timeline", element=timeline)

    # A span page, from the timeline.
    page.click(".waterfall a:has-text('lookup_price')")
    page.wait_for_url("**/spans/**")
    assert page.locator("h1").inner_text().startswith("lookup_price")
    with page.expect_download() as download:
        page.click("a:has-text('Download raw JSON')")
    assert download.value.suggested_filename.startswith("span-")
    shoot(page, "span")

    assert page.dialogs == [] and page.errors == []


def test_dark_and_phone(app: Flask, server: str, browser: Any) -> None:
    trace = demo_data(app.extensions["llm_logs"].session)
    dark = browser.new_context(color_scheme="dark", viewport={"width": 1360, "height": 900})
    page = dark.new_page()
    page.goto(f"{server}/traces/{trace.id}")
    page.click("button:has-text('Expand all')")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(22, 24, 28)"
    shoot(page, "trace-dark")
    dark.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    page.goto(f"{server}/traces")
    # Wide tables scroll inside their box; the page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "traces-phone")
    phone.close()


HOSTILE = [
    "<script>window.pwned = 1</script>",
    '<img src=x onerror="window.pwned = 2">',
    "[click me](javascript:window.pwned=3)",
    '<a href="javascript:window.pwned=4" id="evil">evil link</a>',
    '<svg onload="window.pwned = 5"></svg>',
]


def test_hostile_content_stays_text(app: Flask, server: str, page: Any) -> None:
    session = app.extensions["llm_logs"].session
    trace = Trace(
        name="<script>window.pwned = 6</script>",
        started_at=NOW,
        models=['<img src=x onerror="window.pwned = 7">'],
        metadata_={"<b>k</b>": HOSTILE[1], "nested": {ATTRIBUTE_INJECTION: HOSTILE[0]}},
    )
    session.add(trace)
    session.flush()
    span = Span(
        trace_id=trace.id,
        name=HOSTILE[0],
        input=[{"role": "user", "content": text} for text in HOSTILE],
        output={"role": "assistant", "content": "\n\n".join(HOSTILE)},
        error=HOSTILE[1],
        started_at=NOW,
    )
    session.add(span)
    session.commit()

    for path in ("/traces", f"/traces/{trace.id}", f"/traces/{trace.id}/spans/{span.id}"):
        page.goto(server + path)
        if page.locator("button:has-text('Expand all')").count():
            page.click("button:has-text('Expand all')")
        assert page.evaluate("window.pwned") is None, path
        assert page.locator("img").count() == 0
        assert page.locator("#evil").count() == 0
        assert page.locator("a[href^='javascript:']").count() == 0
        assert_no_injected_attributes(page)
    # On the span page the payloads show as the text that was stored.
    body = page.locator("main").inner_text()
    for text in ("<script>window.pwned = 1</script>", '<img src=x onerror="window.pwned = 2">'):
        assert text in body
    # Clicking what looks like a link does nothing either.
    page.get_by_text("[click me](javascript:window.pwned=3)").first.click()
    assert page.evaluate("window.pwned") is None
    shoot(page, "escaped")
    assert page.dialogs == [] and page.errors == []


def test_big_trace_loads_a_span_when_opened(app: Flask, server: str, page: Any) -> None:
    session = app.extensions["llm_logs"].session
    trace = Trace(name="big_pipeline", started_at=NOW, models=["gpt-4.1-mini"])
    session.add(trace)
    session.flush()
    session.add_all(
        [
            Span(
                trace_id=trace.id,
                name=f"step {n}",
                kind="llm",
                input=[{"role": "user", "content": f"Question {n}"}],
                output={"role": "assistant", "content": f"**Answer {n}**"},
                started_at=at(ms=100 * n),
                duration_ms=90,
            )
            for n in range(250)
        ]
    )
    session.commit()
    page.goto(f"{server}/traces/{trace.id}")
    span = page.locator(".tree details.span").nth(4)
    assert span.locator(".message").count() == 0
    span.locator(":scope > summary").click()
    span.locator(".message.role-assistant strong").wait_for()
    assert span.locator(".message.role-user").inner_text().endswith("Question 4")
    assert span.locator(".message.role-assistant strong").inner_text() == "Answer 4"
    # Closing and opening again does not fetch twice.
    span.locator(":scope > summary").click()
    span.locator(":scope > summary").click()
    assert span.locator(".message.role-user").count() == 1
    assert page.dialogs == [] and page.errors == []


def test_very_big_trace_shows_more_on_request(app: Flask, server: str, page: Any) -> None:
    """The first spans, then "show more" (a plain link: no script needed)."""
    from flask_llm_logs.web.trace_queries import TRACE_PAGE_SPANS

    count = TRACE_PAGE_SPANS + 20
    session = app.extensions["llm_logs"].session
    trace = Trace(name="huge_pipeline", started_at=NOW, models=[], spans_count=count)
    session.add(trace)
    session.flush()
    session.add_all(
        [
            Span(trace_id=trace.id, name=f"step {n}", started_at=at(ms=n), duration_ms=1)
            for n in range(count)
        ]
    )
    session.commit()
    page.goto(f"{server}/traces/{trace.id}")
    assert page.locator(".tree details.span").count() == TRACE_PAGE_SPANS
    assert page.locator(".waterfall li").count() == TRACE_PAGE_SPANS
    page.locator(".tree + .show-more a").click()
    page.wait_for_url(f"**spans={TRACE_PAGE_SPANS * 2}#span-*")
    assert page.locator(".tree details.span").count() == count
    assert page.locator(".show-more").count() == 0
    # The link's fragment brings the reader to the first span not shown before.
    first_new = page.locator(f".tree details.span >> nth={TRACE_PAGE_SPANS}")
    assert first_new.locator(".span-name").inner_text() == f"step {TRACE_PAGE_SPANS}"
    assert first_new.is_visible()
    assert page.dialogs == [] and page.errors == []


def test_long_reply_is_plain_text_with_the_download_link(
    app: Flask, server: str, page: Any
) -> None:
    from flask_llm_logs.web.rendering import RICH_TEXT_LIMIT

    session = app.extensions["llm_logs"].session
    trace = Trace(name="long_reply", started_at=NOW, models=[])
    session.add(trace)
    session.flush()
    reply = "# Title <img src=x onerror=alert(1)> " * (RICH_TEXT_LIMIT // 30)
    span = Span(
        trace_id=trace.id,
        name="chat",
        kind="llm",
        started_at=NOW,
        output={"role": "assistant", "content": reply},
    )
    session.add(span)
    session.commit()
    page.goto(f"{server}/traces/{trace.id}/spans/{span.id}")
    output = page.locator("section.section", has=page.locator("h2", has_text="Output"))
    assert output.locator(".markdown, h1, img").count() == 0
    assert output.locator(".text").inner_text().startswith("# Title <img src=x")
    note = output.locator(".unformatted")
    assert "Shown as plain text" in note.inner_text()
    with page.expect_download() as download:
        note.locator("a").click()
    assert download.value.suggested_filename == f"span-{span.id}.json"
    assert page.dialogs == [] and page.errors == []
