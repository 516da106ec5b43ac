"""The dashboard in a real browser: charts, range, breakdown links and CSV downloads.

The screenshots of docs/ui.rst's dashboard section are written only with
``LLM_LOGS_SCREENSHOTS=1`` (see tests/helpers/browser.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from typing import Any

import pytest
from flask import Flask

from flask_llm_logs.models import PromptRecord
from flask_llm_logs.models import PromptVersion
from tests.helpers.browser import shoot
from tests.helpers.tracing import flush
from tests.helpers.writer import span_record
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record

pytestmark = pytest.mark.browser

ROUTES = ("support_reply", "classify_ticket", "summarise_report", "rag_answer")
MODELS = (
    ("gpt-4.1-mini", "openai", 0.0004, 900.0),
    ("gpt-4.1", "openai", 0.004, 2200.0),
    ("claude-sonnet-4", "anthropic", 0.006, 3100.0),
)


def demo_calls(app: Flask) -> None:
    """A day of calls like an app makes: four routes, three models, eight users, two
    versions of a prompt, errors now and then, through the writer."""
    session = app.extensions["llm_logs"].session
    prompt = PromptRecord(slug="support", name="Support")
    versions = [PromptVersion(prompt=prompt, version_number=n, messages=[]) for n in (1, 2)]
    session.add_all([prompt, *versions])
    session.commit()
    rng = random.Random(16)
    now = dt.datetime.now(dt.timezone.utc)
    records: list[Any] = []
    for n in range(240):
        at = (now - dt.timedelta(minutes=rng.uniform(0, 24 * 60))).timestamp()
        route = ROUTES[n % len(ROUTES)]
        user = "=cmd|' /C calc'!A0" if n == 7 else f"user-{rng.randint(1, 8)}"
        trace = trace_record(
            name=route,
            status="completed",
            started_at=at,
            user_id=user,
            environment="production" if n % 10 else "staging",
        )
        model, provider, price, latency = MODELS[rng.choice((0, 0, 0, 1, 2))]
        version = versions[0 if at < (now - dt.timedelta(hours=8)).timestamp() else 1]
        failed = rng.random() < 0.06
        tokens = rng.randint(300, 2500)
        records += [
            trace,
            span_record(
                trace.id,
                name=f"chat {model}",
                kind="llm",
                model=model,
                provider=provider,
                started_at=at,
                status="error" if failed else "completed",
                input_tokens=tokens,
                output_tokens=tokens // 5,
                cached_tokens=tokens // 2 if n % 3 == 0 else 0,
                cost=price * tokens / 1000,
                duration_ms=latency * rng.uniform(0.4, 1.8),
                metadata={"prompt_version_id": version.id} if route == "support_reply" else {},
            ),
        ]
    submit(app, *records)
    flush()


def test_dashboard_in_a_browser(app: Flask, server: str, page: Any) -> None:
    demo_calls(app)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{server}/dashboard")
    assert page.locator("nav[aria-label=Sections] a").first.inner_text() == "Dashboard"
    assert page.locator(".totals .card").first.inner_text().startswith("CALLS")
    assert page.locator("figure.chart").count() == 5
    shoot(page, "dashboard", page.locator("main"))

    # Hover a bucket of the cost chart: its <title> is the browser's tooltip.
    cost = page.locator("figure.chart", has_text="Cost").first
    busiest = cost.locator("rect.series").first
    bucket = busiest.get_attribute("data-bucket")
    hit = cost.locator(f'rect.hit[data-bucket="{bucket}"]')
    hit.hover()
    assert hit.evaluate("element => getComputedStyle(element).fillOpacity") == "0.08"
    tooltip = hit.locator("title").text_content()
    assert tooltip is not None and "UTC\ncost: $" in tooltip
    table_rows = cost.locator("details.chart-data tr")
    assert table_rows.count() == 25  # the header and 24 hours

    # The range: the bucket follows it.
    page.click("nav.range-picker >> text=7 days")
    page.wait_for_url("**range=7d**")
    assert "by hour" in page.locator(".page-head").inner_text()
    page.click("nav.range-picker >> text=Last hour")
    page.wait_for_url("**range=1h**")
    assert "by minute" in page.locator(".page-head").inner_text()
    page.click("nav.range-picker >> text=24 hours")
    page.wait_for_url("**range=24h**")

    # A breakdown row opens the traces list narrowed to it.
    row = page.locator("#by-model tbody tr").first
    model = row.locator("th a").inner_text()
    calls = int(row.locator("td").first.inner_text())
    shoot(page, "dashboard-breakdowns", page.locator("#by-model"))
    shoot(page, "dashboard-prompt-versions", page.locator("#by-prompt_version"))
    row.locator("th a").click()
    page.wait_for_url("**/traces?**")
    assert page.locator("input[name=model]").input_value() == model
    assert page.locator(".totals .card").first.inner_text().split()[-1] == str(calls)
    shoot(page, "traces-totals", page.locator(".totals"))

    # The traces list's own CSV, then a breakdown's.
    with page.expect_download() as traces_download:
        page.click("a.export")
    traces_rows = list(csv.DictReader(io.StringIO(read(traces_download.value))))
    assert len(traces_rows) == calls and {r["models"] for r in traces_rows} == {model}

    page.goto(f"{server}/dashboard")
    with page.expect_download() as users_download:
        page.locator("#by-user a.export").click()
    download = users_download.value
    assert download.suggested_filename == "user.csv"
    users = list(csv.DictReader(io.StringIO(read(download))))
    assert "'=cmd|' /C calc'!A0" in {row["user"] for row in users}
    costs = [float(row["cost"]) for row in users]
    assert costs == sorted(costs, reverse=True)  # top spenders first
    assert page.errors == []


def test_dashboard_prints_and_reads_in_the_dark(app: Flask, server: str, browser: Any) -> None:
    demo_calls(app)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))
    page.goto(f"{server}/dashboard")
    shoot(page, "dashboard-dark", page.locator(".charts"))
    page.emulate_media(media="print")
    assert page.locator("nav.range-picker").is_hidden()
    assert page.locator(".charts").is_visible()
    assert page.pdf(format="A4")[:4] == b"%PDF"
    context.close()
    assert errors == []


def read(download: Any) -> str:
    with open(download.path(), encoding="utf-8") as file:
        return file.read()
