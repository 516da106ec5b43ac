"""The operator's view of batches: waiting requests, cost and saving, cancel, requeue, retry."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_llm_logs import Batch
from flask_llm_logs.batches import flush
from flask_llm_logs.models import BatchRecord
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.batch_rows import SUBMITTED
from tests.helpers.batch_rows import add_batch
from tests.helpers.batch_rows import add_request
from tests.helpers.batch_rows import failed_request
from tests.helpers.web import Store
from tests.helpers.web import Url
from tests.helpers.web import csrf_token
from tests.helpers.web import flashes
from tests.helpers.web import html_of


def section(html: str, title: str) -> str:
    start = html.index(f"<h2>{title}</h2>")
    return html[start : html.index("</section>", start)]


class TestWaitingRequests:
    def test_pending_requests_are_listed_by_purpose_and_model(
        self, client: FlaskClient, url: Url, app: Flask, store: Store
    ) -> None:
        oldest = SUBMITTED - dt.timedelta(hours=3)
        store.add_all(
            [
                BatchRequest(
                    custom_id=f"s{n}",
                    purpose="summaries",
                    model="gpt-4.1-mini",
                    status="pending",
                    created_at=oldest + dt.timedelta(minutes=n),
                )
                for n in range(3)
            ]
            + [
                BatchRequest(custom_id="x", purpose="scores", model="gpt-4.1", status="pending"),
                BatchRequest(custom_id="y", purpose="scores", model="gpt-4.1", status="failed"),
            ]
        )
        html = html_of(client.get(url("/batches")))
        waiting = section(html, "Waiting to be submitted")
        rows = re.findall(r"<tr>(.*?)</tr>", waiting, re.S)[1:]
        assert len(rows) == 2
        assert "summaries" in rows[0] and "gpt-4.1-mini" in rows[0] and ">3<" in rows[0]
        assert "2026-11-28 06:00:00" in rows[0]  # the oldest of the three
        assert "scores" in rows[1] and ">1<" in rows[1]

        filtered = html_of(client.get(url("/batches"), query_string={"purpose": "scores"}))
        assert "summaries" not in section(filtered, "Waiting to be submitted")

    def test_no_section_when_nothing_waits(self, client: FlaskClient, url: Url, app: Flask) -> None:
        batch = add_batch(app, requests=2)
        add_request(app, batch, "r-submitted", status="submitted")
        assert "Waiting to be submitted" not in html_of(client.get(url("/batches")))


class TestBatchPage:
    def test_total_cost_and_saving_against_the_synchronous_price(
        self, client: FlaskClient, url: Url, app: Flask
    ) -> None:
        batch = add_batch(app, requests=3)  # 3 x $0.0001
        add_request(app, batch, "r-big", status="succeeded", cost=0.00042)
        add_request(app, batch, "r-unpriced", status="failed")
        html = html_of(client.get(url(f"/batches/{batch.id}")))
        card = html[html.index(">Cost<") :]
        card = card[: card.index('<div class="card">')]
        # $0.00072 at the batch price: the same calls one by one cost twice as much.
        assert "$0.00072" in card
        assert "saved $0.00072 against the synchronous price" in card

    def test_no_cost_when_nothing_is_priced(
        self, client: FlaskClient, url: Url, app: Flask
    ) -> None:
        batch = add_batch(app)
        add_request(app, batch, "r", status="submitted")
        html = html_of(client.get(url(f"/batches/{batch.id}")))
        assert "against the synchronous price" not in html

    def test_retry_all_counts_only_requests_that_can_be_retried(
        self, client: FlaskClient, url: Url, app: Flask
    ) -> None:
        batch = add_batch(app)
        failed_request(app, batch, "r-handler")  # has a stored result
        for n in range(2):
            add_request(app, batch, f"r-expired-{n}", status="failed", error="batch_expired")
        html = html_of(client.get(url(f"/batches/{batch.id}")))
        retry = html[html.index('action="' + url(f"/batches/{batch.id}/retry")) :]
        retry = retry[: retry.index("</form>")]
        assert "1 failed requests that have one?" in retry and "1 can be retried" in retry
        requeue = html[html.index('action="' + url(f"/batches/{batch.id}/requeue")) :]
        assert "3 failed" in requeue[: requeue.index("</form>")]

    def test_only_provider_failures_offer_requeue_not_retry(
        self, client: FlaskClient, url: Url, app: Flask
    ) -> None:
        batch = add_batch(app)
        add_request(app, batch, "r-expired", status="failed", error="batch_expired")
        html = html_of(client.get(url(f"/batches/{batch.id}")))
        assert "Retry all failed" not in html and url(f"/batches/{batch.id}/retry") not in html
        assert url(f"/batches/{batch.id}/requeue") in html

    def test_cancel_only_while_the_provider_runs_it(
        self, client: FlaskClient, url: Url, app: Flask
    ) -> None:
        running = add_batch(app, status="in_progress", provider_batch_id="batch_run")
        ended = add_batch(app, status="completed", provider_batch_id="batch_end")
        claimed = add_batch(app, status="claimed")
        assert url(f"/batches/{running.id}/cancel") in html_of(
            client.get(url(f"/batches/{running.id}"))
        )
        for batch in (ended, claimed):
            assert "/cancel" not in html_of(client.get(url(f"/batches/{batch.id}")))


@pytest.fixture
def fake_app(make_app: Callable[..., Flask], fake_openai: FakeOpenAI) -> Iterator[Flask]:
    """An app whose batches go to the fake OpenAI server."""
    app = make_app(LLM_LOGS_OPENAI_CLIENT=fake_openai.client)
    with app.app_context():
        yield app


def post(client: FlaskClient, path: str) -> TestResponse:
    """A POST with the CSRF token a page of the UI gives."""
    token = csrf_token(html_of(client.get("/llm_logs/prompts/new")))
    return client.post(path, data={"csrf_token": token})


def submitted_batch(count: int) -> BatchRecord:
    for n in range(count):
        Batch.enqueue(purpose="summaries", model="gpt-4.1-mini", input=f"text {n}")
    [batch_id] = flush("summaries").batches
    return BatchRecord(id=batch_id)


class TestControls:
    def test_cancel_button(self, fake_app: Flask, fake_openai: FakeOpenAI) -> None:
        client = fake_app.test_client()
        batch = submitted_batch(2)
        path = f"/llm_logs/batches/{batch.id}"
        record = fake_app.extensions["llm_logs"].session.get(BatchRecord, batch.id)
        provider_id = record.provider_batch_id

        response = post(client, f"{path}/cancel")
        assert response.status_code == 302 and response.headers["Location"].endswith(path)
        assert fake_openai.batches.get(provider_id)["status"] == "cancelling"
        html = html_of(client.get(path))
        assert flashes(html)[0].startswith(f"Batch {batch.id} cancelled")
        assert "/cancel" not in html  # cancelled: nothing left to cancel

        post(client, f"{path}/cancel")
        assert flashes(html_of(client.get(path))) == [
            f"Not cancelled: batch {batch.id} cannot be cancelled: it has ended (cancelled)."
        ]

    def test_requeue_button(self, fake_app: Flask, fake_openai: FakeOpenAI) -> None:
        client = fake_app.test_client()
        batch = submitted_batch(3)
        session = fake_app.extensions["llm_logs"].session
        session.execute(
            sa.update(BatchRequest)
            .where(BatchRequest.batch_id == batch.id, BatchRequest.custom_id != "")
            .values(status="failed", error="batch_expired: expired")
        )
        first = session.scalars(
            sa.select(BatchRequest).where(BatchRequest.batch_id == batch.id).limit(1)
        ).one()
        first.status = "succeeded"
        session.commit()
        path = f"/llm_logs/batches/{batch.id}"

        assert post(client, f"{path}/requeue").status_code == 302
        html = html_of(client.get(path))
        assert flashes(html) == ["Requeued 2 failed requests: the next flush submits them again."]
        statuses = sorted(session.scalars(sa.select(BatchRequest.status)))
        session.rollback()
        assert statuses == ["pending", "pending", "succeeded"]
        waiting = section(html_of(client.get("/llm_logs/batches")), "Waiting to be submitted")
        assert ">2<" in waiting

        post(client, f"{path}/requeue")
        assert flashes(html_of(client.get(path))) == ["No failed request of this batch to requeue."]

    @pytest.mark.parametrize("data", [{"csrf_token": ""}, {"csrf_token": "forged"}])
    def test_csrf_is_required(
        self, fake_app: Flask, fake_openai: FakeOpenAI, data: dict[str, str]
    ) -> None:
        client = fake_app.test_client()
        batch = submitted_batch(1)
        session = fake_app.extensions["llm_logs"].session
        provider_id = session.get(BatchRecord, batch.id).provider_batch_id
        session.rollback()
        for action in ("cancel", "requeue"):
            response = client.post(f"/llm_logs/batches/{batch.id}/{action}", data=data)
            assert "The form expired" in html_of(response, 400)
        assert fake_openai.batches.get(provider_id)["status"] == "validating"

    def test_unknown_batch(self, fake_app: Flask) -> None:
        client = fake_app.test_client()
        for action in ("cancel", "requeue"):
            html_of(post(client, f"/llm_logs/batches/999/{action}"), 404)
        html_of(client.get("/llm_logs/batches/999/cancel"), 405)
