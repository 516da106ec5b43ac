"""Each prompt page runs the same number of queries however many prompts, versions or traces."""

from __future__ import annotations

from flask.testing import FlaskClient

from flask_llm_logs import Prompt
from flask_llm_logs.models import Trace
from tests.helpers.prompts import make_greeting
from tests.helpers.web import CountQueries
from tests.helpers.web import Store
from tests.helpers.web import Url

#: What the prompt's page reads beside the others' budget: its release history and
#: the comparison of its labelled versions (labels, figures, percentiles, scores).
LABEL_QUERIES = 5


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
    "/prompts/greeting/labels",
    "/prompts/greeting/versions/1/playground",
]


def test_pages_are_constant(
    client: FlaskClient, url: Url, count_queries: CountQueries, store: Store
) -> None:
    prompt = make_greeting(versions=2, tags=["t"])
    prompt.set_label("production", version=1)
    few = [queries_for(client, count_queries, url(path)) for path in PAGES]

    for number in range(3, 21):
        prompt.update_content(messages=[{"role": "user", "content": f"v{number} {{{{name}}}}"}])
    for n in range(25):
        Prompt.create(slug=f"p{n}", name=f"P {n}", tags=["t"]).update_content(
            messages=[{"role": "user", "content": "x"}]
        )
    for number in range(2, 21):
        prompt.set_label(f"l{number}", version=number)
    store.add_all(
        [
            Trace(name=f"run {n}", prompt_version_id=v.id, duration_ms=n, cost=0.1)
            for n, v in enumerate(prompt.versions)
        ]
    )
    many = dict(
        zip(PAGES, [queries_for(client, count_queries, url(path)) for path in PAGES], strict=True)
    )

    engine = client.application.extensions["llm_logs"].engine
    # On PostgreSQL the prompt's page, with no trace of the last day to show, looks
    # further back in one more query (trace_queries.newest_first); the 20 traces
    # made since are of the last day.
    postgres = engine.dialect.name == "postgresql"
    wider = [int(postgres and path.split("?")[0] == "/prompts/greeting") for path in PAGES]
    assert few == [count + more for count, more in zip(many.values(), wider, strict=True)]
    # On PostgreSQL metrics() sets its plan (no JIT, no parallel workers) in a statement.
    label_queries = LABEL_QUERIES + postgres
    for path, count in many.items():
        budget = 4 + (label_queries if path.split("?")[0] == "/prompts/greeting" else 0)
        assert count <= budget, many
