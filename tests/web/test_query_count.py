"""Each page runs the same number of queries however many spans or rows it shows."""

from __future__ import annotations

import datetime as dt
import uuid

from flask import Flask
from flask.testing import FlaskClient

from flask_llm_logs.models import BatchRecord
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.web.params import encode_cursor
from tests.helpers.web import CountQueries
from tests.helpers.web import Store
from tests.helpers.web import Url

START = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)


def queries_for(client: FlaskClient, count_queries: CountQueries, path: str) -> int:
    client.get(path)  # warm up: first-request work is not the page's
    with count_queries() as counter:
        response = client.get(path)
    assert response.status_code == 200
    return counter.count


def test_trace_page_constant(
    client: FlaskClient, url: Url, store: Store, count_queries: CountQueries, app: Flask
) -> None:
    traces = [store.trace(f"spans_{count}", minutes=n) for n, count in enumerate((2, 150, 260))]
    for trace in traces:
        root = store.span(trace, "root")
        count = int(trace.name.split("_")[1])
        store.add_all(
            [
                Span(
                    trace_id=trace.id,
                    parent_id=root.id,
                    name=f"chat {n}",
                    input=[{"role": "user", "content": f"question {n}"}],
                    output={"role": "assistant", "content": f"**answer** {n}"},
                    started_at=START + dt.timedelta(milliseconds=n + 1),
                )
                for n in range(count - 1)
            ]
        )
    small, medium, large = (
        queries_for(client, count_queries, url(f"/traces/{t.id}")) for t in traces
    )
    assert small == medium <= 5
    # Over INLINE_PAYLOAD_SPANS the payloads are not loaded at all: one query less.
    assert large == medium - 1


def test_traces_list_constant(
    client: FlaskClient, url: Url, store: Store, count_queries: CountQueries, app: Flask
) -> None:
    store.trace("one")
    few = queries_for(client, count_queries, url("/traces"))
    store.add_all([Trace(name=f"t{n}", started_at=START, models=["m"]) for n in range(60)])
    many = queries_for(client, count_queries, url("/traces"))
    filtered = queries_for(
        client, count_queries, url("/traces?q=x&model=m&meta_key=a&meta_value=b&prompt=p")
    )
    assert few == many <= 3
    # The search's plan estimate on PostgreSQL, the prompt's version ids.
    assert filtered <= many + 2
    # Keyset pagination: no page of the list counts the table.
    with count_queries() as counter:
        client.get(url("/traces?status=completed&after=" + encode_cursor(START, uuid.uuid4())))
    assert counter.count == many
    assert not [sql for sql in counter.statements if "count(" in sql.lower()]


def test_batch_pages_constant(
    client: FlaskClient, url: Url, store: Store, count_queries: CountQueries, app: Flask
) -> None:
    session = app.extensions["llm_logs"].session
    batch = BatchRecord(purpose="p", provider="openai_responses", model="m", claim_token="a")
    session.add(batch)
    session.commit()
    before = (
        queries_for(client, count_queries, url("/batches")),
        queries_for(client, count_queries, url(f"/batches/{batch.id}")),
    )
    session.add_all(
        [
            BatchRequest(batch_id=batch.id, custom_id=f"r{n}", purpose="p", model="m")
            for n in range(40)
        ]
        + [
            BatchRecord(purpose="p", provider="openai_responses", model="m", claim_token=f"c{n}")
            for n in range(20)
        ]
    )
    session.commit()
    after = (
        queries_for(client, count_queries, url("/batches")),
        queries_for(client, count_queries, url(f"/batches/{batch.id}")),
    )
    assert before == after
