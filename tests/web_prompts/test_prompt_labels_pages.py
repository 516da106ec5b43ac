"""Labels in the UI: moving one from the version list, protected labels, publishing on save,
the history, and the labelled versions compared by results."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask import Request
from flask.testing import FlaskClient

from flask_llm_logs import Prompt
from flask_llm_logs.models import Score
from flask_llm_logs.state import get_state
from flask_llm_logs.tracing import latency
from flask_llm_logs.web.prompt_results import Figure
from flask_llm_logs.web.prompt_results import labelled_results
from tests.helpers.prompts import HOSTILE
from tests.helpers.prompts import NEW
from tests.helpers.prompts import make_greeting
from tests.helpers.prompts import record_version_calls
from tests.helpers.web import START
from tests.helpers.web import Store
from tests.helpers.web import Url
from tests.helpers.web import csrf_token
from tests.helpers.web import flashes
from tests.helpers.web import html_of

EDIT = {
    "name": "Greeting",
    "messages-0-role": "user",
    "messages-0-content": "Changed {{name}}",
    "model": "gpt-4.1",
}


MINUTE = dt.timedelta(minutes=1)


def default_url(path: str = "/") -> str:
    """``url`` for apps made in the test, with the default prefix."""
    return "/llm_logs" + path


def move(client: FlaskClient, url: Url, number: int, label: str, **extra: Any) -> Any:
    token = csrf_token(html_of(client.get(url("/prompts/greeting/versions"))))
    return client.post(
        url(f"/prompts/greeting/versions/{number}/label"),
        data={"label": label, "csrf_token": token, **extra},
    )


def test_a_label_moves_from_the_version_list(
    make_app: Callable[..., Flask], make_store: type[Store]
) -> None:
    app = make_app(LLM_LOGS_CURRENT_USER=lambda: "ada")
    client, url = app.test_client(), default_url
    with app.app_context():
        prompt = make_greeting(versions=2)
        html = html_of(client.get(url("/prompts/greeting/versions")))
        assert html.count('name="label"') == 2
        assert '<option value="production">' in html and '<option value="staging">' in html

        response = move(client, url, 1, "production")
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/prompts/greeting/versions")
        html = html_of(client.get(url("/prompts/greeting/versions")))
        assert flashes(html) == ["Label &#39;production&#39; now names version 1."]
        assert prompt.labels["production"] == 1
        assert move(client, url, 2, "candidate").status_code == 302
        moves = prompt.label_moves()
        assert [(m.label, m.to_version, m.moved_by) for m in moves] == [
            ("candidate", 2, "ada"),
            ("production", 1, "ada"),
        ]
        assert Prompt.load("greeting", label="candidate").label == "candidate"


@pytest.mark.parametrize(
    ("number", "label", "status"),
    [(1, "Not A Label", 400), (1, "", 400), (9, "staging", 404)],
)
def test_a_bad_move_is_refused_and_moves_nothing(
    app: Flask, client: FlaskClient, url: Url, number: int, label: str, status: int
) -> None:
    prompt = make_greeting()
    response = move(client, url, number, label)
    assert response.status_code == status
    assert prompt.label_moves() == []


def test_a_move_needs_a_csrf_token(app: Flask, client: FlaskClient, url: Url) -> None:
    prompt = make_greeting()
    response = client.post(url("/prompts/greeting/versions/1/label"), data={"label": "staging"})
    assert response.status_code == 400
    assert prompt.label_moves() == []


def publishers_only(request: Request, action: str) -> bool:
    """An authorize callable that takes the action: only publishers may publish."""
    return action != "prompts.publish" or request.headers.get("X-Role") == "publisher"


def test_protected_labels_move_only_for_publishers(make_app: Callable[..., Flask]) -> None:
    app = make_app(
        LLM_LOGS_AUTHORIZE=publishers_only, LLM_LOGS_PROTECTED_LABELS=["production", "eu"]
    )
    client, url = app.test_client(), default_url
    with app.app_context():
        prompt = make_greeting(versions=2)
        html = html_of(client.get(url("/prompts/greeting/versions")))
        assert "Protected labels (eu, production)" in html
        for label in ("production", "eu"):
            response = move(client, url, 1, label)
            assert response.status_code == 403
            assert "prompts.publish" in response.get_data(as_text=True)
        assert move(client, url, 1, "staging").status_code == 302
        client.environ_base["HTTP_X_ROLE"] = "publisher"
        assert move(client, url, 2, "production").status_code == 302
        assert prompt.labels == {"production": 2, "staging": 1}


def test_an_authorize_that_takes_only_the_request_keeps_its_meaning(
    make_app: Callable[..., Flask],
) -> None:
    seen: list[str | None] = []

    def admins(request: Request) -> bool:
        seen.append(request.headers.get("X-Role"))
        return request.headers.get("X-Role") == "admin"

    app = make_app(TESTING=False, LLM_LOGS_AUTHORIZE=admins)
    client, url = app.test_client(), default_url
    client.environ_base["HTTP_X_ROLE"] = "admin"
    with app.app_context():
        prompt = make_greeting()
        assert move(client, url, 1, "production").status_code == 302
        assert prompt.labels["production"] == 1
        assert set(seen) == {"admin"}


def test_an_authorize_that_takes_the_action_is_asked_with_its_name(
    make_app: Callable[..., Flask],
) -> None:
    actions: list[str] = []

    def record(request: Request, action: str) -> bool:
        actions.append(action)
        return True

    app = make_app(TESTING=False, LLM_LOGS_AUTHORIZE=record)
    client, url = app.test_client(), default_url
    with app.app_context():
        make_greeting()
        assert move(client, url, 1, "production").status_code == 302
        assert move(client, url, 1, "staging").status_code == 302
    assert set(actions) == {"view", "prompts.publish"}
    assert actions.count("prompts.publish") == 1


def test_saving_moves_no_label_and_publishing_moves_production(
    app: Flask, client: FlaskClient, url: Url
) -> None:
    prompt = make_greeting()
    prompt.set_label("production", version=1)
    edit = url("/prompts/greeting/edit")
    html = html_of(client.get(edit))
    assert "Publish as production" in html
    token = csrf_token(html)

    assert client.post(edit, data={**EDIT, "csrf_token": token}).status_code == 302
    assert prompt.labels["production"] == 1
    response = client.post(
        edit,
        data={**EDIT, "messages-0-content": "Again {{name}}", "publish": "y", "csrf_token": token},
    )
    assert response.status_code == 302
    assert prompt.labels["production"] == 3
    html = html_of(client.get(url("/prompts/greeting")))
    assert flashes(html)[-1] == "Saved version 3 and production now names version 3."
    # Unchanged content with the box ticked publishes the current version.
    prompt.set_label("production", version=1)
    response = client.post(
        edit,
        data={**EDIT, "messages-0-content": "Again {{name}}", "publish": "y", "csrf_token": token},
    )
    assert response.status_code == 302
    assert prompt.labels["production"] == 3
    assert [v.version_number for v in Prompt.load("greeting", cache=False).versions] == [1, 2, 3]


def test_publishing_is_refused_to_those_who_may_not(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_AUTHORIZE=publishers_only)
    client, url = app.test_client(), default_url
    with app.app_context():
        prompt = make_greeting()
        edit = url("/prompts/greeting/edit")
        html = html_of(client.get(edit))
        assert "Publish as production" not in html
        data = {**EDIT, "publish": "y", "csrf_token": csrf_token(html)}
        html = html_of(client.post(edit, data=data))
        assert "Publishing needs the permission &#39;prompts.publish&#39;." in html
        assert [v.version_number for v in Prompt.load("greeting", cache=False).versions] == [1]
        assert prompt.labels["production"] is None


def test_the_prompt_page_shows_labels_and_history_escaped(
    app: Flask, client: FlaskClient, url: Url
) -> None:
    prompt = make_greeting(versions=2)
    prompt.set_label("production", version=1, by=HOSTILE)
    prompt.set_label("production", version=2, by="grace")
    prompt.split({"production": 1})
    html = html_of(client.get(url("/prompts/greeting")))
    labels = html[html.index('id="labels"') : html.index('id="label-history"')]
    assert "production</span>" in labels and "v2</a>" in labels
    assert "staging</span>" in labels and "no version yet" in labels
    assert "Split: production 1" in labels
    history = html[html.index('id="label-history"') :]
    assert "v1 → v2" in history and "by grace" in history
    assert "<script>" not in html and "&lt;script&gt;" in history
    page = html_of(client.get(url("/prompts/greeting/labels")))
    assert page.count("<li>") >= 2 and "by grace" in page


def test_labelled_versions_are_compared_by_results(app: Flask, store: Store) -> None:
    """Calls, cost, errors and durations from the metrics table: LLM calls, not traces."""
    prompt = make_greeting(versions=3)
    prompt.set_label("production", version=1)
    prompt.set_label("staging", version=2)
    prompt.set_label("candidate", version=2)
    v1, v2, v3 = (prompt.version(n).id for n in (1, 2, 3))
    traces = record_version_calls(
        app,
        v1,
        *(
            {
                "duration_ms": duration,
                "cost": 0.01 if n < 3 else None,
                "status": "error" if n == 0 else "completed",
            }
            for n, duration in enumerate([100.0, 200.0, 300.0, 400.0])
        ),
    )
    for n, trace_id in enumerate(traces):
        store.add_all(
            [
                Score(trace_id=trace_id, name="helpful", value=float(n % 2)),
                Score(trace_id=trace_id, name="thumbs", label="up"),  # no value: not in the means
            ]
        )
    store.trace(prompt_version_id=v1, status="running")  # a trace without a call: no call
    record_version_calls(app, v2, {"duration_ms": 50.0, "cost": 0.002})
    record_version_calls(app, v3, {"duration_ms": 1.0})  # not labelled: not compared

    results = labelled_results(get_state().session, prompt.id)
    assert [(r.version_number, r.labels) for r in results] == [
        (2, ["candidate", "staging"]),
        (1, ["production"]),
    ]
    new, old = results
    assert (old.calls, new.calls) == (4, 1)
    assert old.cost_per_call.calls == 4  # a call without a cost costs 0
    assert old.cost_per_call.value == pytest.approx(0.0075)
    assert old.error_rate == Figure(0.25, 4)
    within = pytest.approx  # the histogram's percentiles: within its documented bound
    bound = latency.RELATIVE_ERROR
    assert {p: f.calls for p, f in old.durations.items()} == {50: 4, 95: 4}
    assert old.durations[50].value == within(200.0, rel=bound)
    assert old.durations[95].value == within(400.0, rel=bound)
    assert old.scores == {"helpful": Figure(0.5, 4)}
    assert new.durations[50].value == new.durations[95].value == within(50.0, rel=bound)
    assert new.cost_per_call.value == pytest.approx(0.002) and new.cost_per_call.calls == 1
    assert new.error_rate == Figure(0.0, 1) and new.scores == {}


def test_the_comparison_has_the_scores_of_traces_running_when_the_version_was_made(
    app: Flask, store: Store
) -> None:
    """A trace may link a version made while it ran (``Prompt.build()`` in its middle):
    the scores are read from the traces started ``LLM_LOGS_INCOMPLETE_AFTER`` (and an
    hour of clock slack) before the oldest labelled version on, a range on the
    partitioned tables; a trace running longer than that is left out."""
    prompt = make_greeting()
    prompt.set_label("production", version=1)
    version = prompt.version(1)
    made = version.created_at.replace(tzinfo=version.created_at.tzinfo or dt.timezone.utc)
    limit = get_state().settings.incomplete_after
    for started, value in ((made - dt.timedelta(hours=2), 1.0), (made - 2 * limit, 0.0)):
        trace = store.trace(prompt_version_id=version.id, minutes=(started - START) / MINUTE)
        store.add_all([Score(trace_id=trace.id, name="helpful", value=value)])

    [result] = labelled_results(get_state().session, prompt.id)

    assert result.scores == {"helpful": Figure(1.0, 1)}


def test_the_prompt_page_shows_the_comparison(
    app: Flask, client: FlaskClient, url: Url, store: Store
) -> None:
    prompt = make_greeting(versions=2)
    html = html_of(client.get(url("/prompts/greeting")))
    assert "label versions to compare them" in html
    prompt.set_label("production", version=1)
    # 1.2 ** 26.5 ms, the middle of a histogram bin: shown exactly.
    (trace_id,) = record_version_calls(
        app, prompt.version(1).id, {"duration_ms": latency.estimate(27), "cost": 0.5}
    )
    store.add_all([Score(trace_id=trace_id, name="helpful", value=1.0)])
    html = html_of(client.get(url("/prompts/greeting")))
    results = html[html.index('id="results"') :]
    results = results[: results.index("</section>")]
    assert '<th class="num" scope="col">helpful</th>' in results
    assert '1.00 <span class="muted">n=1</span>' in results
    assert '0.0 % <span class="muted">n=1</span>' in results
    assert '125 ms <span class="muted">n=1</span>' in results
    assert "LLM calls" in results


def test_the_ui_shows_the_latest_version_whatever_the_default_label(
    make_app: Callable[..., Flask],
) -> None:
    """With LLM_LOGS_PROMPT_LABEL set, the UI still edits and shows drafts, released or not."""
    app = make_app(LLM_LOGS_PROMPT_LABEL="production")
    client, url = app.test_client(), default_url
    with app.app_context():
        make_greeting(versions=2)
        for path in ("/edit", "/versions", "/versions/2", "/compare", "/labels", "/delete"):
            html_of(client.get(url("/prompts/greeting" + path)))
        assert "Hi v2" in html_of(client.get(url("/prompts/greeting")))
        token = csrf_token(html_of(client.get(url("/prompts/new"))))
        response = client.post(
            url("/prompts/new"), data={**NEW, "slug": "greeting", "csrf_token": token}
        )
        assert "already exists" in html_of(response)
