"""The batch pages: list and filters, a batch with its requests, retrying failed handlers."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_llm_logs.models import BatchRecord
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.models import Trace
from flask_llm_logs.state import get_state
from tests.helpers.batch_rows import LONG_ROUTING
from tests.helpers.batch_rows import SUBMITTED
from tests.helpers.batch_rows import Handler
from tests.helpers.batch_rows import add_batch
from tests.helpers.batch_rows import add_request
from tests.helpers.batch_rows import failed_request
from tests.helpers.web import Store
from tests.helpers.web import Url
from tests.helpers.web import flashes
from tests.helpers.web import html_of


def reload(app: Flask, request: BatchRequest) -> BatchRequest:
    session = get_state(app).session
    session.expire_all()
    reloaded = session.get(BatchRequest, request.id)
    assert reloaded is not None
    return reloaded


class TestList:
    def test_empty(self, client: FlaskClient, url: Url) -> None:
        assert "No batches yet." in html_of(client.get(url("/batches")))

    def test_columns(self, client: FlaskClient, url: Url, app: Flask) -> None:
        batch = add_batch(app, requests=3, provider_batch_id="batch_abc123")
        failed_request(app, batch)
        html = html_of(client.get(url("/batches")))
        row = html[html.index(f"#{batch.id}</a>") :]
        row = row[: row.index("</tr>")]
        for text in ("summaries", "openai_responses", "gpt-4.1-mini", "batch_abc123", "completed"):
            assert text in row
        assert "succeeded 3" in row and "failed 1" in row
        assert "2026-11-28 09:00:00" in row

    def test_filters(self, client: FlaskClient, url: Url, app: Flask) -> None:
        add_batch(app, purpose="summaries", status="completed", provider_batch_id="b1")
        add_batch(app, purpose="scores", status="in_progress", provider_batch_id="b2")
        add_batch(app, purpose="scores", status="completed", provider_batch_id="b3")

        def shown(**query: str) -> list[str]:
            html = html_of(client.get(url("/batches"), query_string=query))
            return re.findall(r'title="(b\d)"', html)

        assert shown() == ["b3", "b2", "b1"]
        assert shown(purpose="scores") == ["b3", "b2"]
        assert shown(status="completed") == ["b3", "b1"]
        assert shown(purpose="scores", status="completed") == ["b3"]
        assert shown(purpose="nothing") == []
        html = html_of(client.get(url("/batches"), query_string={"purpose": "scores"}))
        assert '<option value="scores" selected>' in html
        assert '<option value="in_progress">' in html

    def test_keyset_pages_keep_filters(self, make_app: Callable[..., Flask]) -> None:
        app = make_app(LLM_LOGS_PAGE_SIZE=2)
        with app.app_context():
            ids = [add_batch(app, purpose="p", provider_batch_id=f"b{n}").id for n in range(3)]
            add_batch(app, purpose="other", provider_batch_id="o")
            client = app.test_client()
            html = html_of(client.get("/llm_logs/batches?purpose=p"))
            assert re.findall(r'title="(b\d)"', html) == ["b2", "b1"]
            assert f"after={ids[1]}" in html and "purpose=p" in html
            html = html_of(client.get(f"/llm_logs/batches?purpose=p&after={ids[1]}"))
            assert re.findall(r'title="(b\d)"', html) == ["b0"]

    @pytest.mark.parametrize(
        "query",
        ["after=x", "after=-1", "status=" + "s" * 21, "purpose=" + "p" * 501, "purpose=%00"],
    )
    def test_bad_arguments(self, client: FlaskClient, url: Url, query: str) -> None:
        html_of(client.get(url("/batches?" + query)), 400)


class TestBatchPage:
    def test_details(self, client: FlaskClient, url: Url, app: Flask, store: Store) -> None:
        batch = add_batch(
            app,
            requests=1,
            provider_batch_id="batch_abc",
            input_file_id="file-in",
            output_file_id="file-out",
            error_file_id="file-err",
            completed_at=SUBMITTED + dt.timedelta(hours=2),
        )
        trace = store.trace("summaries")
        add_request(
            app,
            batch,
            "r-routed",
            status="succeeded",
            routing={"ticket": LONG_ROUTING, "priority": 2},
            input_tokens=1234,
            output_tokens=56,
            cached_tokens=1000,
            cost=0.00042,
            trace_id=trace.id,
        )
        failed_request(app, batch)
        html = html_of(client.get(url(f"/batches/{batch.id}")))
        for text in ("batch_abc", "file-in", "file-out", "file-err", "2026-11-28 11:00:00"):
            assert text in html
        assert "1,234" in html and "$0.0004" in html
        assert f'title="{LONG_ROUTING}"' in html  # the full value on hover
        assert f">{LONG_ROUTING}<" not in html  # cut in the cell
        assert "RuntimeError: handler refused" in html
        assert url(f"/traces/{trace.id}") in html
        assert url(f"/batches/{batch.id}/retry") in html
        assert html.count("/retry") == 2  # the failed request and "retry all"

    def test_no_retry_without_a_stored_result(
        self, client: FlaskClient, url: Url, app: Flask
    ) -> None:
        batch = add_batch(app)
        add_request(app, batch, "r-expired", status="failed", error="batch_expired")
        html = html_of(client.get(url(f"/batches/{batch.id}")))
        assert "/requests/" not in html

    def test_no_retry_when_nothing_failed(self, client: FlaskClient, url: Url, app: Flask) -> None:
        batch = add_batch(app, requests=2)
        assert "/retry" not in html_of(client.get(url(f"/batches/{batch.id}")))

    def test_requests_are_paginated(self, make_app: Callable[..., Flask]) -> None:
        app = make_app(LLM_LOGS_PAGE_SIZE=2)
        with app.app_context():
            batch = add_batch(app, requests=3)
            client = app.test_client()
            html = html_of(client.get(f"/llm_logs/batches/{batch.id}"))
            assert html.count(f"{batch.id}-ok-") == 2 and "after=" in html

    @pytest.mark.parametrize("path", ["/batches/999", "/batches/abc", "/batches/1.5"])
    def test_unknown(self, client: FlaskClient, url: Url, path: str) -> None:
        html_of(client.get(url(path)), 404)

    def test_hostile_values_show_as_text(self, client: FlaskClient, url: Url, app: Flask) -> None:
        batch = add_batch(app, purpose="<script>p()</script>", error="<img src=x onerror=e()>")
        add_request(
            app,
            batch,
            "r-x",
            status="failed",
            routing={"<b>k</b>": "<script>v()</script>" * 5},
            error="<script>err()</script>",
        )
        for path in (f"/batches/{batch.id}", "/batches"):
            html = html_of(client.get(url(path)))
            assert "<script>" not in html.split("</head>")[1]
            assert "<img" not in html and "<b>k</b>" not in html
            assert "&lt;script&gt;" in html


class Retries:
    """The retry buttons as a user presses them: a POST with the CSRF token a
    page gives, then the batch's page with its flash messages."""

    def __init__(self, client: FlaskClient, url: Url, token: Callable[[str], str]) -> None:
        self.client = client
        self.url = url
        self.csrf = token(url("/prompts/new"))

    def post(self, path: str) -> TestResponse:
        return self.client.post(self.url(path), data={"csrf_token": self.csrf})

    def retry(self, batch: BatchRecord, request: BatchRequest | int | str) -> TestResponse:
        """The retry button of one request (its id, or any text as the id)."""
        request_id = request.id if isinstance(request, BatchRequest) else request
        return self.post(f"/batches/{batch.id}/requests/{request_id}/retry")

    def retry_all(self, batch: BatchRecord | int) -> TestResponse:
        batch_id = batch.id if isinstance(batch, BatchRecord) else batch
        return self.post(f"/batches/{batch_id}/retry")

    def flashes(self, batch: BatchRecord) -> list[str]:
        return flashes(html_of(self.client.get(self.url(f"/batches/{batch.id}"))))


@pytest.fixture
def retries(client: FlaskClient, url: Url, token: Callable[[str], str]) -> Retries:
    return Retries(client, url, token)


class TestRetry:
    def test_retry_one(self, url: Url, app: Flask, handler: Handler, retries: Retries) -> None:
        batch = add_batch(app)
        request = failed_request(app, batch)
        response = retries.retry(batch, request)
        assert response.status_code == 302
        assert response.headers["Location"].endswith(url(f"/batches/{batch.id}"))
        ((custom_id, content),) = handler.calls
        assert custom_id == "r-failed" and content.endswith("A summary.")  # the stored result
        retried = reload(app, request)
        assert retried.status == "succeeded" and retried.error is None
        assert retries.flashes(batch) == ["Request r-failed succeeded on retry."]

    def test_retry_fails_again(self, app: Flask, handler: Handler, retries: Retries) -> None:
        handler.failing = True
        batch = add_batch(app)
        request = failed_request(app, batch)
        retries.retry(batch, request)
        retried = reload(app, request)
        assert retried.status == "failed" and "still refusing" in (retried.error or "")
        assert retries.flashes(batch) == [
            "Request r-failed failed again: RuntimeError: still refusing"
        ]

    def test_request_that_cannot_be_retried(
        self, app: Flask, handler: Handler, retries: Retries
    ) -> None:
        batch = add_batch(app, requests=1)
        done = reload(app, add_request(app, batch, "r-done", status="succeeded"))
        retries.retry(batch, done)
        (message,) = retries.flashes(batch)
        assert message.startswith("Not retried: batch request") and "succeeded" in message
        assert handler.calls == []

    def test_request_of_another_batch(self, app: Flask, handler: Handler, retries: Retries) -> None:
        batch, other = add_batch(app, provider_batch_id="a"), add_batch(app, provider_batch_id="b")
        request = failed_request(app, other)
        for response in (
            retries.retry(batch, request),
            retries.retry(batch, 99999),
            retries.retry(batch, 99999999999),
            retries.post(f"/batches/x/requests/{request.id}/retry"),
        ):
            html_of(response, 404)
        assert handler.calls == []

    def test_retry_all_failed(self, app: Flask, handler: Handler, retries: Retries) -> None:
        batch = add_batch(app, requests=2)
        first = failed_request(app, batch, "r-1")
        second = failed_request(app, batch, "r-2")
        add_request(app, batch, "r-provider", status="failed", error="batch_expired")
        other = failed_request(app, add_batch(app, provider_batch_id="other"), "r-other")
        response = retries.retry_all(batch)
        assert response.status_code == 302
        assert sorted(custom_id for custom_id, _ in handler.calls) == ["r-1", "r-2"]
        assert reload(app, first).status == reload(app, second).status == "succeeded"
        assert reload(app, other).status == "failed"
        assert retries.flashes(batch) == ["Retried 2 requests: all succeeded."]

    @pytest.mark.parametrize(
        ("failing", "failed", "message"),
        [
            (True, 1, "Retried 1 request: 0 succeeded, 1 failed again."),
            (False, 0, "No failed request of this batch has a stored result to retry."),
        ],
        ids=["with_failures_again", "with_nothing_to_retry"],
    )
    def test_retry_all_says_what_happened(
        self,
        app: Flask,
        handler: Handler,
        retries: Retries,
        failing: bool,
        failed: int,
        message: str,
    ) -> None:
        handler.failing = failing
        batch = add_batch(app, requests=1 - failed)
        for _ in range(failed):
            failed_request(app, batch)
        retries.retry_all(batch)
        assert retries.flashes(batch) == [message]

    def test_retry_all_of_unknown_batch(self, retries: Retries) -> None:
        html_of(retries.retry_all(12345), 404)

    @pytest.mark.parametrize("data", [{}, {"csrf_token": "forged"}])
    def test_csrf_is_required(
        self, client: FlaskClient, url: Url, app: Flask, handler: Handler, data: dict[str, str]
    ) -> None:
        batch = add_batch(app)
        request = failed_request(app, batch)
        for path in (
            f"/batches/{batch.id}/retry",
            f"/batches/{batch.id}/requests/{request.id}/retry",
        ):
            assert "The form expired" in html_of(client.post(url(path), data=data), 400)
        assert handler.calls == []
        assert reload(app, request).status == "failed"

    def test_with_the_hosts_csrf_protect(
        self,
        client: FlaskClient,
        url: Url,
        app: Flask,
        handler: Handler,
        token: Callable[[str], str],
    ) -> None:
        """Flask-WTF's CSRFProtect on the host: the token is still all a retry needs."""
        from flask_wtf.csrf import CSRFProtect

        CSRFProtect(app)
        batch = add_batch(app)
        request = failed_request(app, batch)
        retry = url(f"/batches/{batch.id}/requests/{request.id}/retry")
        assert client.post(retry).status_code == 400
        assert handler.calls == []
        csrf = token(url(f"/batches/{batch.id}"))
        assert client.post(retry, data={"csrf_token": csrf}).status_code == 302
        assert reload(app, request).status == "succeeded"

    def test_retry_is_post_only(self, client: FlaskClient, url: Url, app: Flask) -> None:
        batch = add_batch(app)
        html_of(client.get(url(f"/batches/{batch.id}/retry")), 405)


def test_trace_made_by_the_retry_links_back_to_the_batch(
    client: FlaskClient, url: Url, app: Flask, handler: Handler, retries: Retries
) -> None:
    """A retried request without a trace gets one, and the trace links to its batch."""
    batch = add_batch(app)
    request = failed_request(app, batch)
    retries.retry(batch, request)
    trace_id = reload(app, request).trace_id
    assert trace_id is not None
    session = app.extensions["llm_logs"].session
    assert session.get(Trace, trace_id) is not None
    html = html_of(client.get(url(f"/traces/{trace_id}")))
    assert url(f"/batches/{batch.id}") in html
