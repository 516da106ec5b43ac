"""A trace's scores and comments on its page, and the form that adds one."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from flask_llm_logs import ConfigurationError
from flask_llm_logs.models import Score
from flask_llm_logs.models import Trace
from tests.helpers.web import Store
from tests.helpers.web import Url
from tests.helpers.web import csrf_token
from tests.helpers.web import flashes
from tests.helpers.web import html_of


def scores_of(app: Flask, trace: Trace) -> list[Score]:
    session = app.extensions["llm_logs"].session
    session.expire_all()
    return list(
        session.scalars(
            sa.select(Score).where(Score.trace_id == trace.id).order_by(Score.created_at)
        )
    )


def prefixed(path: str = "/") -> str:
    """``url`` for the tests that build their own app (the default prefix)."""
    return "/llm_logs" + path


def add(client: FlaskClient, url: Url, trace: Trace, **data: Any) -> Any:
    page = url(f"/traces/{trace.id}")
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(url(f"/traces/{trace.id}/scores"), data={"csrf_token": token, **data})


def test_trace_page_lists_its_scores(client: FlaskClient, url: Url, store: Store) -> None:
    trace = store.trace()
    span = store.span(trace)
    store.score(trace, "helpful", value=1, comment="thumbs up", source="user", author="ana")
    store.score(trace, "tone", label="too formal", span_id=span.id, source="review")
    store.score(store.trace("other"), "elsewhere", value=3)
    html = html_of(client.get(url(f"/traces/{trace.id}")))
    assert 'id="scores"' in html
    assert "thumbs up" in html and "too formal" in html and "ana" in html
    assert "elsewhere" not in html
    assert f'href="{url(f"/traces/{trace.id}/spans/{span.id}")}"' in html
    assert f'href="{url("/traces?score=helpful")}"' in html


def test_a_trace_without_scores_says_so(client: FlaskClient, url: Url, store: Store) -> None:
    html = html_of(client.get(url(f"/traces/{store.trace().id}")))
    assert "No scores or comments yet." in html


def test_add_a_score(client: FlaskClient, url: Url, store: Store, app: Flask) -> None:
    trace = store.trace()
    response = add(client, url, trace, name="helpful", value="0.5", label="", comment="ok\r\nfine")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/traces/{trace.id}#scores")
    [score] = scores_of(app, trace)
    assert (score.name, score.value, score.label, score.comment) == (
        "helpful",
        0.5,
        None,
        "ok\nfine",
    )
    assert (score.source, score.author, score.span_id) == ("ui", None, None)
    html = html_of(client.get(url(f"/traces/{trace.id}")))
    assert flashes(html) == ["Added &#39;helpful&#39;."]
    assert "ok\nfine" in html


def test_a_label_alone_and_a_comment_alone(
    client: FlaskClient, url: Url, store: Store, app: Flask
) -> None:
    trace = store.trace()
    assert add(client, url, trace, name="tone", label="too formal").status_code == 302
    assert add(client, url, trace, comment="Check the second answer.").status_code == 302
    label, comment = scores_of(app, trace)
    assert (label.name, label.value, label.label) == ("tone", None, "too formal")
    assert (comment.name, comment.value, comment.comment) == (
        "comment",
        None,
        "Check the second answer.",
    )


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "Give a value, a label or a comment."),
        ({"name": " "}, "Give a value, a label or a comment."),
        ({"value": "1"}, "Name the score (helpful, accuracy, tone…)."),
        ({"name": "x", "value": "good"}, "Not a valid float value."),
        ({"name": "x", "value": "nan"}, "Enter a finite number."),
        ({"name": "x", "value": "inf"}, "Enter a finite number."),
        ({"name": "x" * 256, "value": "1"}, "Field cannot be longer than 255 characters."),
        ({"name": "x", "label": "y" * 256}, "Field cannot be longer than 255 characters."),
        ({"comment": "c" * 10_001}, "Field cannot be longer than 10000 characters."),
    ],
)
def test_bad_input_is_shown_next_to_the_form_and_stores_nothing(
    client: FlaskClient, url: Url, store: Store, app: Flask, data: dict[str, str], error: str
) -> None:
    trace = store.trace()
    html = html_of(add(client, url, trace, **data))
    assert error in html
    assert 'id="scores"' in html and "Add score" in html
    assert scores_of(app, trace) == []


def test_the_form_needs_its_csrf_token(
    client: FlaskClient, url: Url, store: Store, app: Flask
) -> None:
    trace = store.trace()
    path = url(f"/traces/{trace.id}/scores")
    for data in ({"name": "x", "value": "1"}, {"name": "x", "value": "1", "csrf_token": "forged"}):
        assert "reload the page" in html_of(client.post(path, data=data), 400)
    assert scores_of(app, trace) == []


def test_a_score_for_an_unknown_trace_is_404(client: FlaskClient, url: Url, store: Store) -> None:
    token = csrf_token(client.get(url(f"/traces/{store.trace().id}")).get_data(as_text=True))
    response = client.post(
        url(f"/traces/{uuid.uuid4()}/scores"), data={"csrf_token": token, "name": "x", "value": 1}
    )
    assert response.status_code == 404


def test_the_author_is_the_current_user_callable(
    make_app: Callable[..., Flask], make_store: type[Store]
) -> None:
    app = make_app(LLM_LOGS_CURRENT_USER=lambda: "reviewer@example.com")
    with app.app_context():
        trace = make_store(app).trace()
        assert add(app.test_client(), prefixed, trace, name="x", value=1).status_code == 302
        [score] = scores_of(app, trace)
    assert score.author == "reviewer@example.com"


def test_the_author_defaults_to_flask_logins_user(
    make_app: Callable[..., Flask], make_store: type[Store]
) -> None:
    flask_login = pytest.importorskip("flask_login")

    class Reviewer(flask_login.UserMixin):  # type: ignore[misc,name-defined]
        id = 7

    app = make_app()
    manager = flask_login.LoginManager(app)
    manager.user_loader(lambda user_id: Reviewer() if user_id == "7" else None)

    @app.get("/login")
    def login() -> str:
        flask_login.login_user(Reviewer())
        return "in"

    with app.app_context():
        trace = make_store(app).trace()
        client = app.test_client()
        add(client, prefixed, trace, name="anonymous", value=1)
        client.get("/login")
        add(client, prefixed, trace, name="logged_in", value=1)
        authors = [(s.name, s.author) for s in scores_of(app, trace)]
    assert authors == [("anonymous", None), ("logged_in", "7")]


def test_current_user_must_be_callable(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(ConfigurationError, match="LLM_LOGS_CURRENT_USER: must be a callable"):
        make_app(LLM_LOGS_CURRENT_USER="admin")


def test_hostile_scores_are_escaped(client: FlaskClient, url: Url, store: Store) -> None:
    trace = store.trace()
    store.score(
        trace,
        "<script>n</script>",
        label="<img src=x>",
        comment="<b>c</b>",
        author='"><svg onload=x>',
    )
    html = html_of(client.get(url(f"/traces/{trace.id}")))
    for raw in ("<script>n", "<img src=x>", "<b>c", "<svg onload"):
        assert raw not in html
    assert "&lt;script&gt;n&lt;/script&gt;" in html
    assert "&lt;b&gt;c&lt;/b&gt;" in html


def test_deleting_a_trace_deletes_its_scores(
    app: Flask, client: FlaskClient, url: Url, store: Store
) -> None:
    trace, other = store.trace(), store.trace("other")
    store.span(trace)
    store.score(trace, "helpful", value=1)
    store.score(other, "helpful", value=0)
    token = csrf_token(client.get(url(f"/traces/{trace.id}")).get_data(as_text=True))

    response = client.post(url(f"/traces/{trace.id}/delete"), data={"csrf_token": token})

    assert response.status_code == 302
    assert scores_of(app, trace) == []
    assert [score.value for score in scores_of(app, other)] == [0]
    shown = flashes(html_of(client.get(response.headers["Location"])))
    assert shown == ["Deleted trace &#39;pipeline&#39;, its spans and its scores."]
