"""The batch pages in a real browser: open a batch with a failed request and retry it.

With ``LLM_LOGS_SCREENSHOTS=1`` it writes the ``batch_*.png`` screenshots of docs/ui.rst.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from flask import Flask

from flask_llm_logs.models import BatchRequest
from tests.helpers.batch_rows import LONG_ROUTING
from tests.helpers.batch_rows import SUBMITTED
from tests.helpers.batch_rows import Handler
from tests.helpers.batch_rows import add_batch
from tests.helpers.batch_rows import add_request
from tests.helpers.batch_rows import failed_request
from tests.helpers.browser import ATTRIBUTE_INJECTION
from tests.helpers.browser import assert_no_injected_attributes
from tests.helpers.browser import flash
from tests.helpers.browser import shoot
from tests.helpers.web import Store

pytestmark = pytest.mark.browser


def test_open_a_batch_and_retry_its_failed_request(
    app: Flask, server: str, page: Any, handler: Handler, store: Store
) -> None:
    add_batch(app, requests=12, purpose="nightly_scoring", provider_batch_id="batch_6f1c0a9e")
    add_batch(app, purpose="summaries", status="in_progress", provider_batch_id="batch_90ab77d2")
    batch = add_batch(
        app,
        requests=0,
        provider_batch_id="batch_691f3ac2e4",
        input_file_id="file-in-7Qm2",
        output_file_id="file-out-K81p",
        error_file_id="file-err-3xZt",
        completed_at=SUBMITTED + dt.timedelta(minutes=47),
    )
    for n in range(3):
        trace = store.trace(f"summaries {n}", minutes=n)
        add_request(
            app,
            batch,
            f"sum-{n}",
            status="succeeded",
            routing={"ticket_id": 4100 + n, "queue": "billing"},
            input_tokens=1800 + 40 * n,
            output_tokens=210 + n,
            cached_tokens=1024,
            cost=0.00041,
            trace_id=trace.id,
        )
    failing = failed_request(app, batch, "sum-3")
    session = app.extensions["llm_logs"].session
    session.get(BatchRequest, failing.id).routing = {"ticket_id": 4103, "thread": LONG_ROUTING}
    batch.request_count = 4
    session.commit()

    page.goto(server + "/batches")
    assert page.locator("tbody tr").count() == 3
    shoot(page, "batch_list")
    page.select_option("select[name=status]", "in_progress")
    page.click("button:has-text('Filter')")
    page.wait_for_url("**status=in_progress**")
    assert page.locator("tbody tr").count() == 1
    page.goto(server + "/batches")

    page.click(f"a:text-is('#{batch.id}')")
    page.wait_for_url(f"**/batches/{batch.id}")
    failed_row = page.locator("tr:has(code:text-is('sum-3'))")
    assert failed_row.locator(".badge").inner_text() == "failed"
    assert failed_row.locator(f"[title='{LONG_ROUTING}']").count() == 1
    shoot(page, "batch_show")

    failed_row.locator("button:has-text('Retry')").click()
    page.wait_for_url(f"**/batches/{batch.id}")
    assert flash(page) == "Request sum-3 succeeded on retry."
    assert page.locator("tr:has(code:text-is('sum-3')) .badge").inner_text() == "succeeded"
    assert [custom_id for custom_id, _ in handler.calls] == ["sum-3"]
    assert page.locator("button:has-text('Retry')").count() == 0
    # The new trace of the retried request links back to this batch.
    page.locator("tr:has(code:text-is('sum-3')) td a").first.click()
    page.wait_for_url("**/traces/**")
    page.locator(f"main a[href$='/batches/{batch.id}']").wait_for()
    assert page.errors == []


def test_batch_tables_fit_at_1280_px(app: Flask, server: str, browser: Any, store: Store) -> None:
    """At a laptop's 1280 px, the batch tables fit their box: no sideways scrolling."""
    for n in range(3):
        batch = add_batch(
            app,
            requests=4,
            purpose=f"ticket_scoring_{n}",
            model="gpt-4.1-mini-2025-04-14",
            provider_batch_id=f"batch_6f1c0a9e2d4b4c1a9e8f7d6c5b4a{n:04d}",
            completed_at=SUBMITTED + dt.timedelta(minutes=47),
        )
        for status in ("failed", "submitted", "fell_back", "claimed"):
            add_request(app, batch, f"{batch.id}-{status}", status=status)
    batch.status = "in_progress"  # with every action: cancel, requeue, retry
    failed_request(app, batch, f"{batch.id}-retryable")
    store.add_all(
        [
            BatchRequest(
                custom_id=f"waiting-{n}",
                purpose="ticket_scoring_with_a_long_purpose_name",
                model="gpt-4.1-mini-2025-04-14",
                status="pending",
            )
            for n in range(3)
        ]
    )
    trace = store.trace("summaries")
    add_request(
        app,
        batch,
        "req_8c1d4e6f0a2b4c6d8e0f1a3b5c7d9e1f",
        status="failed",
        routing={"ticket_id": 4103, "thread": LONG_ROUTING, "queue": "billing-escalations"},
        error="RuntimeError: " + "the handler refused this result " * 4,
        input_tokens=182_345,
        output_tokens=21_034,
        cached_tokens=102_400,
        cost=0.041234,
        trace_id=trace.id,
    )
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    laptop = context.new_page()
    for path in ("/batches", f"/batches/{batch.id}"):
        laptop.goto(server + path)
        overflowing = laptop.evaluate(
            """[...document.querySelectorAll('.table-wrap')]
                 .filter(box => box.scrollWidth > box.clientWidth)
                 .map(box => [box.scrollWidth, box.clientWidth])"""
        )
        assert overflowing == [], path
        assert laptop.evaluate("document.documentElement.scrollWidth") <= 1280, path
    laptop.goto(server + f"/batches/{batch.id}")
    for action in ("Cancel batch", "Requeue failed", "Retry all failed"):
        assert laptop.locator(f"button:has-text('{action}')").is_visible()
    context.close()


def test_routing_cannot_add_attributes(app: Flask, server: str, page: Any) -> None:
    """A long routing value shows whole in a ``title``: as its text, never as attributes."""
    batch = add_batch(app)
    routing = {"thread": {ATTRIBUTE_INJECTION: "x" * 40}, "tags": [ATTRIBUTE_INJECTION] * 2}
    add_request(app, batch, "r-hostile", status="failed", routing=routing, error="refused")

    page.goto(server + f"/batches/{batch.id}")
    assert_no_injected_attributes(page)
    titles = page.locator("tr:has(code:text-is('r-hostile')) [title]")
    shown = [titles.nth(n).get_attribute("title") for n in range(titles.count())]
    assert shown == [json.dumps(routing[key]) for key in ("tags", "thread")]
    page.keyboard.press("Tab")
    assert page.dialogs == [] and page.errors == []
