"""The batch pages run the same number of queries however many batches or requests."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from flask_llm_logs.models import BatchRequest
from tests.helpers.batch_rows import add_batch
from tests.helpers.batch_rows import failed_request
from tests.helpers.web import CountQueries
from tests.helpers.web import Store
from tests.helpers.web import Url


def queries_for(client: FlaskClient, count_queries: CountQueries, path: str) -> int:
    client.get(path)
    with count_queries() as counter:
        response = client.get(path)
    assert response.status_code == 200, path
    return counter.count


def test_pages_are_constant(
    client: FlaskClient, url: Url, count_queries: CountQueries, app: Flask, store: Store
) -> None:
    batch = add_batch(app, requests=1, provider_batch_id="first")
    pages = ["/batches", "/batches?purpose=summaries&status=completed", f"/batches/{batch.id}"]
    few = [queries_for(client, count_queries, url(path)) for path in pages]

    for n in range(30):
        add_batch(app, requests=2, provider_batch_id=f"b{n}")
    failed_request(app, batch)
    store.add_all(
        [
            BatchRequest(
                batch_id=batch.id,
                custom_id=f"more-{n}",
                purpose="summaries",
                model="m",
                status="failed" if n % 2 else "succeeded",
                routing={"n": n},
            )
            for n in range(40)
        ]
    )
    store.add_all(
        [
            BatchRequest(custom_id=f"waiting-{n}", purpose=f"p{n % 3}", model="m", status="pending")
            for n in range(20)
        ]
    )
    many = [queries_for(client, count_queries, url(path)) for path in pages]

    assert few == many
    # The list: batches, their counts, the filter choices, the waiting requests.
    assert max(many) <= 4, dict(zip(pages, many, strict=True))
