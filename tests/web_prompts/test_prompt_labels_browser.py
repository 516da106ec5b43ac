"""Moving a label in a real browser: from the version list to the prompt's page and history.

With ``LLM_LOGS_SCREENSHOTS=1`` it writes ``prompt_labels*.png`` for docs/prompts.rst.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from flask_llm_logs import Prompt
from flask_llm_logs.models.base import utcnow
from flask_llm_logs.state import get_state
from tests.helpers.browser import flash
from tests.helpers.browser import shoot
from tests.helpers.prompts import make_greeting
from tests.helpers.web import START
from tests.helpers.web import Store

pytestmark = pytest.mark.browser


def test_move_a_label_and_see_the_release(app: Flask, server: str, page: Any) -> None:
    prompt = make_greeting(versions=3)
    prompt.set_label("production", version=1, by="ada")
    store = Store(app)
    # The calls ran after their versions were made: the comparison reads from then on.
    since_start = (utcnow() - START) / dt.timedelta(minutes=1)
    for n, version in enumerate((1, 1, 1, 2, 2)):
        trace = store.trace(
            prompt_version_id=prompt.version(version).id,
            minutes=since_start + n,
            duration_ms=100.0 * (n + 1),
            cost=0.002,
        )
        store.score(trace, "helpful", value=float(n % 2))

    page.goto(server + "/prompts/greeting/versions")
    row = page.locator("tr", has=page.locator("a:text-is('v2')"))
    row.locator("input[name=label]").fill("candidate")
    row.locator("button:has-text('Set label')").click()
    page.wait_for_url("**/prompts/greeting/versions")
    assert flash(page) == "Label 'candidate' now names version 2."
    assert row.locator(".label-chip").inner_text() == "candidate"

    row = page.locator("tr", has=page.locator("a:text-is('v3')"))
    row.locator("input[name=label]").fill("production")
    row.locator("button:has-text('Set label')").click()
    page.wait_for_url("**/prompts/greeting/versions")
    assert flash(page) == "Label 'production' now names version 3."
    shoot(page, "prompt_labels_versions")

    page.goto(server + "/prompts/greeting")
    labels = page.locator("#labels")
    assert labels.locator("li", has_text="production").inner_text().split() == ["production", "v3"]
    history = page.locator("#label-history li").all_inner_texts()
    assert "production" in history[0] and "v1 → v3" in history[0]
    assert "candidate" in history[1]
    results = page.locator("#results tbody tr").all_inner_texts()
    assert [text.split()[0] for text in results] == ["v3", "v2"]
    assert "n=2" in results[1]
    shoot(page, "prompt_labels")
    get_state().prompt_store.cache.clear()
    assert Prompt.load("greeting", label="production").current_version is not None
    assert Prompt.load("greeting", label="production").labels["candidate"] == 2
