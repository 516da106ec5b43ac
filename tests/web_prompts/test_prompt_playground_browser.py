"""The playground in a real browser, against the fake OpenAI and Anthropic servers.

With ``LLM_LOGS_SCREENSHOTS=1`` it writes ``prompt_playground.png`` for docs/prompts.rst.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.browser import shoot
from tests.helpers.prompts import make_prompt

pytestmark = pytest.mark.browser


@pytest.fixture
def app(make_app: Callable[..., Flask], fake_openai: FakeOpenAI) -> Iterator[Flask]:
    """The app the ``server`` fixture serves, with the fakes as its clients."""
    app = make_app(
        LLM_LOGS_OPENAI_CLIENT=fake_openai.client,
        LLM_LOGS_ANTHROPIC_CLIENT=fake_openai.anthropic_client,
    )
    with app.app_context():
        yield app


def test_run_a_version_then_compare_it_with_another(app: Flask, server: str, page: Any) -> None:
    make_prompt(
        "backtest-evaluation",
        "Backtest Evaluation",
        "You evaluate backtests for {{app_name}}.",
        "Judge {{strategy}} against {{benchmark}}.",
        model_params={"temperature": 0.3, "max_tokens": 300},
        default_variables={"app_name": "Tradebot", "benchmark": "buy and hold"},
        then=("Is {{strategy}} better than {{benchmark}}?", {"max_tokens": 300}),
    )

    page.goto(server + "/prompts/backtest-evaluation/versions/1")
    page.click("a:has-text('Playground')")
    assert page.input_value("textarea[name='var-app_name']") == "Tradebot"
    page.fill("textarea[name='var-strategy']", "Momentum Alpha")
    page.click("button:has-text('Run')")
    reply = page.locator(".playground-run .reply")
    assert reply.inner_text() == "Fake reply to: Judge Momentum Alpha against buy and hold."

    page.click("summary:has-text('Side by side')")
    page.select_option("select[name=compare_version]", "2")
    page.click("button:has-text('Run')")
    runs = page.locator(".playground-run")
    # Waits for the answer's page: the form posts to the page it is on, whose
    # one run was still there (or no run yet, mid-navigation) right after the click.
    expect(runs).to_have_count(2)
    assert "v2 · claude-sonnet-4-5" in runs.nth(1).inner_text()
    assert "Fake reply to: Is Momentum Alpha better than buy and hold?" in runs.nth(1).inner_text()
    assert page.errors == []
    shoot(page, "prompt_playground")

    runs.nth(0).locator("a:has-text('View the trace')").click()
    page.wait_for_url("**/traces/*")
    assert "playground:backtest-evaluation" in page.locator("h1").inner_text()
