"""The traces list's totals: the whole filter's traces, tokens and cost, in one query,
loaded apart from the list (whose page never counts the table)."""

from __future__ import annotations

import html as html_module
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


def part_text(client: FlaskClient, url: Url, **query: str) -> str:
    """The totals section as ui.js loads it into the list."""
    html = html_of(client.get(url("/traces/totals"), query_string={**query, "part": "1"}))
    assert "<html" not in html
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def sample(store: Store) -> None:
    store.trace(
        "chat", minutes=1, input_tokens=1000, output_tokens=200, cached_tokens=500, cost=0.25
    )
    store.trace("chat", minutes=2, input_tokens=2500, output_tokens=300, cost=1.5)
    store.trace("chat", minutes=3, status="running")  # nothing counted yet: no cost
    store.trace("embed", minutes=4, input_tokens=7, cost=0.0001)


def test_totals_of_the_filter(client: FlaskClient, url: Url, store: Store) -> None:
    sample(store)
    assert part_text(client, url, name="chat") == (
        "Traces 3 Input tokens 3,500 Output tokens 500 Cached tokens 500 Cost $1.7500"
    )
    assert part_text(client, url).startswith("Traces 4 Input tokens 3,507")
    # Without script, the list links to them as a page of their own.
    page = html_of(client.get(url("/traces/totals"), query_string={"name": "chat"}))
    assert totals_text(page).startswith("Traces 3 ")


def test_the_list_loads_its_totals_for_its_filter(
    client: FlaskClient, url: Url, store: Store
) -> None:
    sample(store)
    html = html_of(client.get(url("/traces"), query_string={"name": "chat", "status": "error"}))
    found = re.search(r'data-totals-url="([^"]+)"', html)
    assert found
    totals_url = html_module.unescape(found.group(1))
    assert "name=chat" in totals_url and "status=error" in totals_url
    assert totals_url.endswith("&part=1")
    assert "Traces 0 " in " ".join(re.sub(r"<[^>]+>", " ", html_of(client.get(totals_url))).split())


def test_totals_of_nothing(client: FlaskClient, url: Url, store: Store) -> None:
    sample(store)
    assert part_text(client, url, name="none") == (
        "Traces 0 Input tokens 0 Output tokens 0 Cached tokens 0 Cost $0.0000"
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
        later = html_of(
            app.test_client().get(url("/traces"), query_string={"after": page.next_after})
        )
        found = re.search(r'data-totals-url="([^"]+)"', later)
        assert found and "after=" not in found.group(1)


def test_totals_cost_one_query(
    client: FlaskClient, url: Url, store: Store, count_queries: CountQueries
) -> None:
    sample(store)
    client.get(url("/traces/totals?part=1"))
    with count_queries() as counter:
        client.get(url("/traces/totals?name=chat&tag=x&part=1"))
    assert len(counter.statements) == 1
    assert "sum(" in counter.statements[0].lower()


def test_bad_filters_are_a_400(client: FlaskClient, url: Url) -> None:
    response = client.get(url("/traces/totals"), query_string={"status": "nope", "part": "1"})
    assert response.status_code == 400
