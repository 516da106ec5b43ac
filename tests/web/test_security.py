"""Access control, CSRF, escaping and the security headers of the UI."""

from __future__ import annotations

import pathlib
import re
import uuid
from collections.abc import Callable
from collections.abc import Iterator

import pytest
from flask import Flask
from flask import Request
from flask.testing import FlaskClient
from flask_wtf.csrf import CSRFProtect

import flask_llm_logs.web
from flask_llm_logs import LlmLogs
from flask_llm_logs import Prompt
from flask_llm_logs import PromptNotFound
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from tests.helpers.batch_rows import add_batch
from tests.helpers.batch_rows import failed_request
from tests.helpers.prompts import NEW
from tests.helpers.prompts import make_greeting
from tests.helpers.web import Store
from tests.helpers.web import Url
from tests.helpers.web import csrf_token

HOSTILE = [
    "<script>window.pwned = 1</script>",
    '<img src=x onerror="window.pwned = 2">',
    "[click me](javascript:window.pwned=3)",
    '<a href="javascript:window.pwned=4">link</a>',
]


def test_closed_without_debug_testing_or_authorize(make_app: Callable[..., Flask]) -> None:
    app = make_app(TESTING=False)
    client = app.test_client()
    for path in ("/llm_logs/", "/llm_logs/traces", "/llm_logs/batches", "/llm_logs/prompts"):
        response = client.get(path)
        assert response.status_code == 403
        html = response.get_data(as_text=True)
        assert "LLM_LOGS_AUTHORIZE" in html
        assert "Content-Security-Policy" in response.headers
    # Buttons too: the access check comes before anything else.
    for path in ("/llm_logs/traces/x/delete", "/llm_logs/batches/1/retry"):
        assert client.post(path).status_code == 403
    # The stylesheet stays public so the 403 page is readable.
    assert client.get("/llm_logs/static/llm_logs/style.css").status_code == 200


def test_authorize_callable_decides(make_app: Callable[..., Flask]) -> None:
    seen: list[Request] = []

    def only_admins(request: Request) -> bool:
        seen.append(request)
        return request.headers.get("X-Role") == "admin"

    app = make_app(TESTING=False, LLM_LOGS_AUTHORIZE=only_admins)
    client = app.test_client()
    assert client.get("/llm_logs/traces", headers={"X-Role": "admin"}).status_code == 200
    assert client.get("/llm_logs/traces", headers={"X-Role": "guest"}).status_code == 403
    assert [r.headers.get("X-Role") for r in seen] == ["admin", "guest"]


def test_debug_mode_opens_the_ui(make_app: Callable[..., Flask]) -> None:
    app = make_app(TESTING=False)
    app.debug = True
    assert app.test_client().get("/llm_logs/traces").status_code == 200


def test_security_headers(client: FlaskClient, url: Url) -> None:
    response = client.get(url("/traces"))
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def hostile_trace(store: Store) -> Trace:
    trace = store.trace(
        '<script>window.pwned = "name"</script>',
        metadata_={"<b>key</b>": '<img src=x onerror="window.pwned = 5">'},
        error="<script>window.pwned = 6</script>",
        models=["<i>model</i>"],
    )
    store.span(
        trace,
        "<script>span name</script>",
        model="<b>m</b>",
        input=[{"role": "user", "content": text} for text in HOSTILE],
        output={"role": "<script>role</script>", "content": "\n\n".join(HOSTILE)},
        error=HOSTILE[1],
        metadata_={"note": HOSTILE[0]},
    )
    store.span(trace, "raw", input=HOSTILE[1], output={"html": HOSTILE[0]})
    return trace


def test_everything_is_escaped(
    client: FlaskClient, url: Url, hostile_trace: Trace, app: Flask
) -> None:
    span = app.extensions["llm_logs"].session.query(Span).filter_by(name="raw").one()
    pages = [
        url("/traces"),
        url(f"/traces/{hostile_trace.id}"),
        url(f"/traces/{hostile_trace.id}/spans/{span.id}"),
    ]
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        assert "<script>window" not in html and "<script>span" not in html
        assert "<img src=x" not in html and "<img" not in html
        assert not re.search(r'<a [^>]*href="javascript:', html)
        assert "<b>" not in html and "<i>model" not in html
        # No inline handlers or scripts of our own either.
        assert not re.search(r"<[^>]+\son\w+\s*=", html)
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html)
    trace_page = client.get(pages[1]).get_data(as_text=True)
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in trace_page


def test_templates_let_jinja_escape_everything() -> None:
    """``tojson`` leaves ``"`` as is (it is made for ``<script>``) and ``safe`` skips escaping."""
    templates = pathlib.Path(flask_llm_logs.web.__file__).parent / "templates"
    for path in templates.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"\btojson\b|\|\s*safe\b|\bMarkup\b", text), path


def test_delete_needs_a_csrf_token(client: FlaskClient, url: Url, store: Store, app: Flask) -> None:
    trace = store.trace()
    store.span(trace)
    response = client.post(url(f"/traces/{trace.id}/delete"))
    assert response.status_code == 400
    assert "reload the page" in response.get_data(as_text=True)
    response = client.post(url(f"/traces/{trace.id}/delete"), data={"csrf_token": "forged"})
    assert response.status_code == 400
    session = app.extensions["llm_logs"].session
    assert session.get(Trace, trace.id) is not None


def test_delete_unknown_trace_is_404(client: FlaskClient, url: Url, store: Store) -> None:
    token = csrf_token(client.get(url(f"/traces/{store.trace().id}")).get_data(as_text=True))
    response = client.post(url(f"/traces/{uuid.uuid4()}/delete"), data={"csrf_token": token})
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)


def _delete_with_token(app: Flask, client: FlaskClient, url: Url, store: Store) -> None:
    trace = store.trace("doomed")
    store.span(trace)
    token = csrf_token(client.get(url(f"/traces/{trace.id}")).get_data(as_text=True))
    response = client.post(url(f"/traces/{trace.id}/delete"), data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(url("/traces"))
    session = app.extensions["llm_logs"].session
    session.expire_all()
    assert session.get(Trace, trace.id) is None
    assert session.query(Span).filter_by(trace_id=trace.id).count() == 0
    assert "Deleted trace" in client.get(url("/traces")).get_data(as_text=True)


def test_delete_with_token(client: FlaskClient, url: Url, store: Store, app: Flask) -> None:
    _delete_with_token(app, client, url, store)


def test_csrf_with_the_hosts_csrf_protect(
    app: Flask, client: FlaskClient, url: Url, store: Store
) -> None:
    CSRFProtect(app)
    trace = store.trace()
    assert client.post(url(f"/traces/{trace.id}/delete")).status_code == 400
    _delete_with_token(app, client, url, store)


class TestCsrfWhenTheHostTurnsItOff:
    """``WTF_CSRF_ENABLED = False`` (an API app) leaves the UI's own forms checked."""

    @pytest.fixture
    def app(self, make_app: Callable[..., Flask]) -> Iterator[Flask]:
        app = make_app(WTF_CSRF_ENABLED=False)
        with app.app_context():
            yield app

    @pytest.fixture
    def handled(self, app: Flask) -> list[str]:
        """The custom ids a batch handler was called with."""
        handled: list[str] = []
        LlmLogs().register_batch_handler(
            "summaries", lambda request, message: handled.append(request.custom_id), app=app
        )
        return handled

    @pytest.fixture
    def targets(self, app: Flask, store: Store, handled: list[str]) -> dict[str, dict[str, str]]:
        """Rows every state-changing POST of the UI would touch."""
        trace = store.trace("kept")
        make_greeting(versions=2)
        batch = add_batch(app)
        request = failed_request(app, batch)
        return {
            f"/traces/{trace.id}/delete": {},
            "/prompts/new": {**NEW},
            "/prompts/greeting/edit": {
                "name": "Changed",
                "messages-0-role": "user",
                "messages-0-content": "Changed",
            },
            "/prompts/greeting/versions/1/restore": {},
            "/prompts/greeting/versions/1/label": {"label": "staging"},
            "/prompts/greeting/versions/2/delete": {},
            "/prompts/greeting/delete": {},
            f"/batches/{batch.id}/retry": {},
            f"/batches/{batch.id}/requests/{request.id}/retry": {},
        }

    def test_every_post_needs_the_token(
        self,
        app: Flask,
        client: FlaskClient,
        url: Url,
        targets: dict[str, dict[str, str]],
        handled: list[str],
    ) -> None:
        session = app.extensions["llm_logs"].session
        for path, data in targets.items():
            for token in ({}, {"csrf_token": "forged"}):
                response = client.post(url(path), data={**data, **token})
                assert response.status_code == 400, path
                assert "The form expired" in response.get_data(as_text=True), path
        session.expire_all()
        assert session.query(Trace).filter_by(name="kept").count() == 1
        greeting = Prompt.load("greeting", cache=False)
        assert greeting.name == "Greeting"
        assert [v.version_number for v in greeting.versions] == [1, 2]
        current = greeting.current_version
        assert current is not None and current.version_number == 2
        with pytest.raises(PromptNotFound):
            Prompt.load("welcome", cache=False)
        assert handled == []
        assert session.query(BatchRequest).one().status == "failed"

    def test_posts_with_the_token_work(
        self,
        app: Flask,
        client: FlaskClient,
        url: Url,
        targets: dict[str, dict[str, str]],
        handled: list[str],
    ) -> None:
        html = client.get(url("/prompts/greeting/edit")).get_data(as_text=True)
        token = {"csrf_token": csrf_token(html)}
        for path, data in targets.items():
            if path.endswith("/edit") or path.endswith("/versions/2/delete"):
                continue  # the prompt is deleted below; its editor has its own tests
            response = client.post(url(path), data={**data, **token})
            assert response.status_code == 302, (path, response.get_data(as_text=True)[:500])
        session = app.extensions["llm_logs"].session
        session.expire_all()
        assert session.query(Trace).filter_by(name="kept").count() == 0
        created = Prompt.load("welcome", cache=False).current_version
        assert created is not None and created.version_number == 1
        with pytest.raises(PromptNotFound):
            Prompt.load("greeting", cache=False)
        assert handled == ["r-failed"]
