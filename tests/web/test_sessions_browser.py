"""Scores, sessions and users in a real browser (see test_browser.py for the set-up).

Screenshots for docs/ui.rst only with ``LLM_LOGS_SCREENSHOTS=1``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_llm_logs.models import Score
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from tests.helpers.browser import flash
from tests.helpers.browser import shoot

pytestmark = pytest.mark.browser

NOW = dt.datetime(2026, 11, 28, 14, 30, tzinfo=dt.timezone.utc)

QUESTIONS = [
    ("How do I reset my password?", "Open **Settings → Security** and choose *Reset password*."),
    ("The email never arrived.", "Check the spam folder; the sender is `no-reply@example.com`."),
    ("Found it, thanks!", "Glad it worked. Anything else?"),
]


def conversation(session: Any) -> list[Trace]:
    """A support chat of three turns by ana, and a chat of bob's; returns ana's traces."""
    traces = []
    history: list[dict[str, str]] = [{"role": "system", "content": "You are a support agent."}]
    for n, (question, answer) in enumerate(QUESTIONS):
        trace = Trace(
            name="POST /chat/<int:id>",
            status="completed",
            models=["gpt-4.1-mini"],
            user_id="ana@example.com",
            session_id="support-7f3a",
            tags=["support", "beta"],
            environment="production",
            started_at=NOW + dt.timedelta(minutes=2 * n),
            input_tokens=400 + 150 * n,
            output_tokens=60 + 10 * n,
            cost=0.0003 * (n + 1),
            duration_ms=900 + 100 * n,
            spans_count=1,
        )
        session.add(trace)
        session.flush()
        history.append({"role": "user", "content": question})
        session.add(
            Span(
                trace_id=trace.id,
                name="chat gpt-4.1-mini",
                kind="llm",
                model="gpt-4.1-mini",
                input=list(history),
                output={"role": "assistant", "content": answer},
                started_at=trace.started_at,
                duration_ms=trace.duration_ms,
            )
        )
        history.append({"role": "assistant", "content": answer})
        traces.append(trace)
    session.add(
        Trace(
            name="POST /chat/<int:id>",
            status="completed",
            models=["gpt-4.1"],
            user_id="bob@example.com",
            session_id="support-91c0",
            tags=["support"],
            environment="staging",
            started_at=NOW - dt.timedelta(minutes=30),
            input_tokens=900,
            output_tokens=200,
            cost=0.002,
        )
    )
    session.add(
        Score(
            trace_id=traces[1].id,
            name="helpful",
            value=0,
            comment="thumbs down",
            source="user",
            author="ana@example.com",
            created_at=NOW + dt.timedelta(minutes=3),
        )
    )
    session.commit()
    return traces


def test_add_a_score_from_the_trace_page(app: Flask, server: str, page: Any) -> None:
    state = app.extensions["llm_logs"]
    # As LLM_LOGS_CURRENT_USER would give it (the server fixture's app is built without it).
    state.settings = dataclasses.replace(state.settings, current_user=lambda: "reviewer")
    traces = conversation(state.session)
    page.goto(f"{server}/traces?tag=support&environment=production")
    assert page.locator("tbody tr").count() == 3
    shoot(page, "traces-context")

    page.goto(f"{server}/traces/{traces[1].id}")
    scores = page.locator("#scores tbody tr")
    assert scores.count() == 1
    assert "thumbs down" in scores.first.inner_text()
    form = page.locator("form.score-form")
    # A value without a name is refused next to the field; nothing is stored.
    form.locator("input[name=value]").fill("1")
    form.locator("button:has-text('Add score')").click()
    assert "Name the score" in form.locator(".field-errors").inner_text()
    assert form.locator("input[name=value]").input_value() == "1"
    form.locator("input[name=name]").fill("accuracy")
    form.locator("input[name=value]").fill("0.75")
    form.locator("input[name=label]").fill("<b>partly</b>")
    form.locator("textarea[name=comment]").fill("Second answer ignores the spam folder hint.")
    form.locator("button:has-text('Add score')").click()
    page.wait_for_url(f"**/traces/{traces[1].id}#scores")
    assert flash(page) == "Added 'accuracy'."
    assert scores.count() == 2
    added = scores.nth(1).inner_text()
    assert "accuracy" in added and "0.75" in added and "<b>partly</b>" in added
    assert "reviewer" in added and "ui" in added
    shoot(page, "trace-scores", element=page.locator("#scores"))
    session = state.session
    session.expire_all()
    stored = session.scalars(sa.select(Score).where(Score.name == "accuracy")).one()
    assert (stored.value, stored.author, stored.source) == (0.75, "reviewer", "ui")
    assert page.dialogs == [] and page.errors == []


def test_sessions_conversation_and_user(app: Flask, server: str, page: Any) -> None:
    traces = conversation(app.extensions["llm_logs"].session)
    page.goto(f"{server}/sessions")
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    assert rows.first.locator("td.name").inner_text() == "support-7f3a"
    shoot(page, "sessions")

    rows.first.locator("td.name a").click()
    page.wait_for_url("**/sessions/support-7f3a")
    turns = page.locator(".turn")
    assert turns.count() == 3
    # Each turn: the user's last message and the reply, not the whole history.
    assert turns.nth(2).locator(".message").count() == 2
    assert turns.nth(2).locator(".role-user").inner_text().endswith("Found it, thanks!")
    assert turns.first.locator(".markdown strong").inner_text() == "Settings → Security"
    shoot(page, "session")

    turns.nth(1).locator("a.span-name").click()
    page.wait_for_url(f"**/traces/{traces[1].id}")
    page.locator(".trace-context a.user").click()
    page.wait_for_url("**/users/ana@example.com")
    cards = page.locator(".card-value").all_inner_texts()
    assert cards[:2] == ["3", "1"]
    shoot(page, "user")
    assert page.dialogs == [] and page.errors == []
