"""Each page runs the same number of queries however many spans or rows it shows."""

from __future__ import annotations

import datetime as dt
import uuid

from flask import Flask
from flask.testing import FlaskClient

from flask_llm_logs.models import BatchRecord
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.models import Score
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
    assert small == medium <= 6
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
    context = queries_for(
        client,
        count_queries,
        url("/traces?user=u&session=s&tag=t&environment=e&score=a&score_min=0&no_score=b"),
    )
    assert few == many <= 3
    # The new filters run inside the list's query (fewer when nothing matches: no batches).
    assert context <= many
    # The search's plan estimate on PostgreSQL, the prompt's version ids.
    assert filtered <= many + 2
    # Keyset pagination: no page of the list counts the table. The cursor lies after
    # every trace, so the page has rows (a random id at START matched none half the time).
    cursor = encode_cursor(START + dt.timedelta(minutes=1), uuid.uuid4())
    with count_queries() as counter:
        client.get(url("/traces?status=completed&after=" + cursor))
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


def test_scores_cost_the_trace_page_one_query(
    client: FlaskClient, url: Url, store: Store, count_queries: CountQueries
) -> None:
    trace = store.trace("scored")
    store.span(trace, "root")
    none = queries_for(client, count_queries, url(f"/traces/{trace.id}"))
    store.add_all([Score(trace_id=trace.id, name=f"s{n}", value=n) for n in range(30)])
    assert queries_for(client, count_queries, url(f"/traces/{trace.id}")) == none


def _conversation(store: Store, session_id: str, turns: int, minutes: float) -> None:
    for n in range(turns):
        trace = store.trace("chat", minutes=minutes + n, user_id="ana", session_id=session_id)
        store.add_all(
            [
                Span(
                    trace_id=trace.id,
                    name="chat",
                    kind="llm",
                    input=[{"role": "user", "content": f"question {n}.{k}"}],
                    output={"role": "assistant", "content": f"answer {n}.{k}"},
                    started_at=trace.started_at,
                )
                for k in range(3)
            ]
        )


def test_sessions_and_users_pages_constant(
    client: FlaskClient, url: Url, store: Store, count_queries: CountQueries
) -> None:
    _conversation(store, "one", 1, 0)
    paths = [url("/sessions"), url("/sessions?user=ana"), url("/sessions/one"), url("/users/ana")]
    few = [queries_for(client, count_queries, path) for path in paths]
    for n in range(12):
        _conversation(store, f"s{n}", 4, 10 * n + 10)
    _conversation(store, "one", 12, 500)
    many = [queries_for(client, count_queries, path) for path in paths]
    assert few == many
    # On PostgreSQL a list its last day does not fill (these traces are days old)
    # reads the older days in one more query (trace_queries.newest_first).
    wider = int(store.session.get_bind().dialect.name == "postgresql")
    assert many[0] <= 2 + wider and many[2] <= 3 and many[3] <= 5 + 2 * wider
    with count_queries() as counter:
        client.get(url("/sessions?after=" + encode_cursor(START, uuid.uuid4())))
    assert counter.count <= many[0]
