"""``flask_llm_logs.score()``: checked on the caller's side, stored by the writer."""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask import abort
from flask import request
from flask_login import current_user
from flask_login import login_required

import flask_llm_logs
from flask_llm_logs.models import Score
from flask_llm_logs.testing import FakeOpenAI
from flask_llm_logs.tracing.retention import purge_old_traces
from tests.helpers.login import with_login
from tests.helpers.tracing import MESSAGES
from tests.helpers.tracing import flush
from tests.helpers.tracing import traces
from tests.helpers.writer import stored
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record


def scores(app: Flask, **where: Any) -> list[Any]:
    flush()
    return stored(app, Score, **where)


def test_a_score_of_the_current_trace_and_of_a_span(app: Flask) -> None:
    with flask_llm_logs.trace("answer") as step:
        trace_id = flask_llm_logs.current_trace_id()
        with flask_llm_logs.span("retrieve") as retrieve:
            pass
        flask_llm_logs.score("helpful", 1, comment="thumbs up", source="user")
    assert step.trace_id is not None and trace_id == str(step.trace_id)
    flask_llm_logs.score(
        "tone", label="too formal", trace_id=trace_id, span_id=str(retrieve.id), author="ana"
    )

    stored_scores = sorted(scores(app), key=lambda score: score.name)
    assert [(s.name, s.value, s.label, s.source, s.author) for s in stored_scores] == [
        ("helpful", 1.0, None, "user", None),
        ("tone", None, "too formal", "api", "ana"),
    ]
    assert {s.trace_id for s in stored_scores} == {step.trace_id}
    assert [s.span_id for s in stored_scores] == [None, retrieve.id]
    assert stored_scores[0].comment == "thumbs up"
    assert flask_llm_logs.stats()["written_scores"] == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"name": ""}, "name: must be a non-empty string"),
        ({"name": "   "}, "name: must be a non-empty string"),
        ({"name": None}, "name: must be a non-empty string"),
        ({"value": math.nan}, "value: must be a finite number"),
        ({"value": math.inf}, "value: must be a finite number"),
        ({"value": "1"}, "value: must be a number"),
        ({"value": True}, "value: must be a number"),
        ({"value": None}, "value: give a value or a label"),
        ({"trace_id": "not-a-uuid"}, "trace_id: not a trace id: 'not-a-uuid'"),
        ({"trace_id": 42}, "trace_id: not a trace id: 42"),
        ({"span_id": "nope"}, "span_id: not a span id: 'nope'"),
        ({"source": ""}, "source: must be a non-empty string"),
        ({"source": "x" * 51}, "source: at most 50 characters"),
        ({"label": ""}, "label: must be a non-empty string"),
        ({"comment": 3}, "comment: must be a string"),
    ],
)
def test_bad_input_names_the_argument_and_stores_nothing(
    app: Flask, arguments: dict[str, Any], message: str
) -> None:
    given: dict[str, Any] = {"name": "helpful", "value": 1, "trace_id": uuid.uuid4(), **arguments}
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        flask_llm_logs.score(**given)
    assert scores(app) == []


def test_no_trace_to_score_outside_any(app: Flask) -> None:
    assert flask_llm_logs.current_trace_id() is None
    with pytest.raises(ValueError, match=r"^trace_id: no current trace"):
        flask_llm_logs.score("helpful", 1)
    assert scores(app) == []


def test_a_score_sent_before_its_trace_shows_once_the_trace_arrives(app: Flask) -> None:
    record = trace_record(status="completed")
    flask_llm_logs.score("helpful", 0, trace_id=record.id, source="user")
    assert [s.trace_id for s in scores(app)] == [record.id]
    assert traces(app) == []

    submit(app, record)
    [trace] = traces(app)
    assert [s.value for s in scores(app, trace_id=trace.id)] == [0.0]


def test_a_span_scored_without_its_trace_is_scored_on_the_span_s_trace(app: Flask) -> None:
    """The issue's reviewer example: only the span's id, outside any trace."""
    with flask_llm_logs.trace("answer") as answer, flask_llm_logs.span("draft") as draft:
        pass
    flush()
    with flask_llm_logs.trace("review queue"):  # another trace is current: not the one scored
        flask_llm_logs.score("tone", label="too formal", span_id=str(draft.id), author="ana")
    flask_llm_logs.score("length", 3, span_id=draft.id, source="review")

    stored_scores = scores(app)
    assert {(s.name, s.trace_id, s.span_id) for s in stored_scores} == {
        ("tone", answer.trace_id, draft.id),
        ("length", answer.trace_id, draft.id),
    }


def test_a_span_of_the_current_trace_scored_before_it_is_stored(app: Flask) -> None:
    with flask_llm_logs.trace("answer") as answer:
        with flask_llm_logs.span("draft") as draft:
            pass
        flask_llm_logs.score("helpful", 1, span_id=draft.id)  # the span waits in the queue
    assert [(s.trace_id, s.span_id) for s in scores(app)] == [(answer.trace_id, draft.id)]


def test_a_score_of_an_unknown_span_is_dropped_with_a_warning(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    unknown = uuid.uuid4()
    flask_llm_logs.score("helpful", 1, span_id=unknown)
    assert scores(app) == []
    assert f"score 'helpful' of span {unknown} dropped: no such span is stored" in caplog.text


def test_the_purge_removes_a_trace_with_its_scores(app: Flask) -> None:
    old = trace_record(status="completed", started_at=time.time() - 40 * 86400)
    recent = trace_record(status="completed")
    submit(app, old, recent)
    for record in (old, recent):
        flask_llm_logs.score("helpful", 1, trace_id=record.id)
    flush()

    assert purge_old_traces(30) == 1
    assert [s.trace_id for s in scores(app)] == [recent.id]


def test_recording_off_stores_no_score_but_still_checks(make_app: Any) -> None:
    app = make_app(LLM_LOGS_ENABLED=False)
    with app.app_context():
        flask_llm_logs.score("helpful", 1, trace_id=uuid.uuid4())
        with pytest.raises(ValueError, match=r"^value: must be a finite number"):
            flask_llm_logs.score("helpful", math.nan, trace_id=uuid.uuid4())
        assert scores(app) == []


def test_thumbs_up_from_the_page_as_documented(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    """docs/users.rst: the answer hands its trace id to the page, which sends the verdict."""
    app = with_login(make_app())
    client = fake_openai.client()

    @app.post("/chat")
    @login_required  # type: ignore[untyped-decorator]
    def chat() -> dict[str, Any]:
        client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
        return {"trace_id": flask_llm_logs.current_trace_id()}

    @app.post("/feedback")
    @login_required  # type: ignore[untyped-decorator]
    def feedback() -> tuple[str, int]:
        verdict = request.form["verdict"]
        try:
            flask_llm_logs.score(
                "helpful",
                1 if verdict == "up" else 0,
                trace_id=request.form["trace_id"],
                comment=request.form.get("comment") or None,
                source="user",
                author=current_user.get_id(),
            )
        except ValueError:
            abort(400)
        return "", 204

    http = app.test_client()
    http.post("/login/ana")
    trace_id = http.post("/chat").get_json()["trace_id"]
    form = {"verdict": "up", "trace_id": trace_id, "comment": "thumbs up"}
    assert http.post("/feedback", data=form).status_code == 204
    assert http.post("/feedback", data={**form, "trace_id": "forged"}).status_code == 400

    with app.app_context():
        [trace] = traces(app)
        [stored_score] = scores(app)
    assert str(trace.id) == trace_id and trace.user_id == "ana"
    assert (stored_score.trace_id, stored_score.value, stored_score.author) == (
        trace.id,
        1.0,
        "ana",
    )
    assert (stored_score.source, stored_score.comment) == ("user", "thumbs up")
