"""Each prompt page runs the same number of queries however many prompts, versions or traces."""

from __future__ import annotations

from flask.testing import FlaskClient

from flask_llm_logs import Prompt
from flask_llm_logs.models import Trace
from tests.helpers.prompts import make_greeting
from tests.helpers.web import CountQueries
from tests.helpers.web import Store
from tests.helpers.web import Url


def queries_for(client: FlaskClient, count_queries: CountQueries, path: str) -> int:
    client.get(path)  # warm up: first-request work is not the page's
    with count_queries() as counter:
        response = client.get(path)
    assert response.status_code == 200, path
    return counter.count


PAGES = [
    "/prompts",
    "/prompts?sort=name&tag=t",
    "/prompts/greeting",
    "/prompts/greeting?preview=1&var-name=Ada",
    "/prompts/greeting/edit",
    "/prompts/greeting/versions",
    "/prompts/greeting/versions/1",
    "/prompts/greeting/compare?from=1&to=2",
    "/prompts/greeting/delete",
    "/prompts/greeting/versions/1/playground",
]


def test_pages_are_constant(
    client: FlaskClient, url: Url, count_queries: CountQueries, store: Store
) -> None:
    prompt = make_greeting(versions=2, tags=["t"])
    few = [queries_for(client, count_queries, url(path)) for path in PAGES]

    for number in range(3, 21):
        prompt.update_content(messages=[{"role": "user", "content": f"v{number} {{{{name}}}}"}])
    for n in range(25):
        Prompt.create(slug=f"p{n}", name=f"P {n}", tags=["t"]).update_content(
            messages=[{"role": "user", "content": "x"}]
        )
    store.add_all(
        [Trace(name=f"run {n}", prompt_version_id=v.id) for n, v in enumerate(prompt.versions)]
    )
    many = [queries_for(client, count_queries, url(path)) for path in PAGES]

    assert few == many
    assert max(many) <= 4, dict(zip(PAGES, many, strict=True))
