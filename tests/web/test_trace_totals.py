"""The traces list's totals: the whole filter's traces, tokens and cost, in one query."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from flask_llm_logs.web import trace_queries
from flask_llm_logs.web.trace_queries import TraceFilters
from tests.helpers.web import CountQueries
from tests.helpers.web import Store
from tests.helpers.web import Url
from tests.helpers.web import html_of


def totals_text(html: str) -> str:
    found = re.search(r'<section class="totals"[^>]*>(.*?)</section>', html, re.S)
    assert found, "no totals on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def sample(store: Store) -> None:
    store.trace(
        "chat", minutes=1, input_tokens=1000, output_tokens=200, cached_tokens=500, cost=0.25
    )
    store.trace("chat", minutes=2, input_tokens=2500, output_tokens=300, cost=1.5)
    store.trace("chat", minutes=3, status="running")  # nothing counted yet: no cost
    store.trace("embed", minutes=4, input_tokens=7, cost=0.0001)


def test_totals_of_the_filter(client: FlaskClient, url: Url, store: Store) -> None:
    sample(store)
    text = totals_text(html_of(client.get(url("/traces"), query_string={"name": "chat"})))
    assert text == ("Traces 3 Input tokens 3,500 Output tokens 500 Cached tokens 500 Cost $1.7500")
    everything = totals_text(html_of(client.get(url("/traces"))))
    assert everything.startswith("Traces 4 Input tokens 3,507")


def test_totals_of_nothing(client: FlaskClient, url: Url, store: Store) -> None:
    sample(store)
    html = html_of(client.get(url("/traces"), query_string={"name": "none"}))
    assert (
        totals_text(html) == "Traces 0 Input tokens 0 Output tokens 0 Cached tokens 0 Cost $0.0000"
    )


def test_totals_are_the_filters_not_the_pages(
    make_app: Callable[..., Flask], make_store: type[Store], url: Url
) -> None:
    app = make_app(LLM_LOGS_PAGE_SIZE=1)
    with app.app_context():
        store = make_store(app)
        sample(store)
        session = app.extensions["llm_logs"].session
        page = trace_queries.list_traces(session, TraceFilters(), 1)
        assert page.next_after
        later = app.test_client().get(url("/traces"), query_string={"after": page.next_after})
        assert totals_text(html_of(later)).startswith("Traces 4 ")


def test_totals_cost_one_query(
    client: FlaskClient, url: Url, store: Store, count_queries: CountQueries
) -> None:
    sample(store)
    client.get(url("/traces"))
    with count_queries() as counter:
        client.get(url("/traces?name=chat&tag=x&q=word"))
    totals = [sql for sql in counter.statements if "sum(" in sql.lower()]
    assert len(totals) == 1
