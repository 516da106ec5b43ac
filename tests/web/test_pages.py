"""Every page and filter of the UI, through the test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_llm_logs.models import BatchRecord
from flask_llm_logs.models import BatchRequest
from flask_llm_logs.models import PromptRecord
from flask_llm_logs.models import PromptVersion
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.web.params import encode_cursor
from flask_llm_logs.web.rendering import TREE_CONTENT_LIMIT
from flask_llm_logs.web.trace_queries import INLINE_PAYLOAD_SPANS
from tests.helpers.web import CountQueries
from tests.helpers.web import Store
from tests.helpers.web import Url


def trace_ids(html: str) -> list[str]:
    """The trace ids listed on a traces page, in order."""
    import re

    return list(dict.fromkeys(re.findall(r"/traces/([0-9a-f-]{36})\"", html)))


@pytest.fixture
def sample(store: Store) -> dict[str, Trace]:
    """Three traces of different shape, oldest first."""
    old = store.trace(
        "summarise_report",
        minutes=0,
        status="error",
        error="RateLimitError: slow down",
        models=["gpt-4.1"],
        metadata_={"user": "bob", "strategy_id": 7},
    )
    store.span(
        old,
        "chat gpt-4.1",
        model="gpt-4.1",
        input=[{"role": "user", "content": "quarterly figures from Zürich"}],
    )
    middle = store.trace(
        "strategy_analysis",
        minutes=10,
        models=["gpt-4.1-mini"],
        metadata_={"user": "ana", "strategy_id": 42},
        input_tokens=1200,
        output_tokens=300,
        cached_tokens=600,
        cost=0.0123,
        duration_ms=2500,
        spans_count=2,
    )
    root = store.span(middle, "pipeline", kind="custom", input={"query": "momentum alpha"})
    store.span(
        middle,
        "chat gpt-4.1-mini",
        ms=100,
        kind="llm",
        parent_id=root.id,
        model="gpt-4.1-mini",
        input=[
            {"role": "system", "content": "You analyse trading strategies."},
            {"role": "user", "content": "Analyse the breakout strategy."},
        ],
        output={"role": "assistant", "content": "**Momentum** looks *fine*."},
        input_tokens=1200,
        output_tokens=300,
        duration_ms=800,
    )
    new = store.trace("rag_answer", minutes=20, status="running", models=["gpt-4.1-mini"])
    return {"old": old, "middle": middle, "new": new}


def test_index_and_traces_list_newest_first(
    client: FlaskClient, url: Url, sample: dict[str, Trace]
) -> None:
    for path in ("/", "/traces"):
        response = client.get(url(path))
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        ids = trace_ids(html)
        assert ids == [str(sample[k].id) for k in ("new", "middle", "old")]
    assert "strategy_analysis" in html and "$0.0123" in html and "1,200" in html
    assert "gpt-4.1-mini" in html


def test_empty_list_says_so(client: FlaskClient, url: Url) -> None:
    response = client.get(url("/traces"))
    assert response.status_code == 200
    assert "No traces recorded yet." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "error"}, ["old"]),
        ({"status": "running"}, ["new"]),
        ({"name": "strategy_analysis"}, ["middle"]),
        ({"model": "gpt-4.1-mini"}, ["new", "middle"]),
        ({"model": "gpt-4.1"}, ["old"]),
        ({"meta_key": "user", "meta_value": "ana"}, ["middle"]),
        ({"meta_key": "strategy_id", "meta_value": "7"}, ["old"]),
        ({"meta_key": "strategy_id", "meta_value": "8"}, []),
        ({"q": "breakout"}, ["middle"]),
        ({"q": "quarterly"}, ["old"]),
        ({"q": "momentum"}, ["middle"]),
        ({"q": "nowhere-to-be-found"}, []),
        ({"q": "?!"}, []),  # no word to look for: no match, not every trace
        ({"q": "BREAKOUT strategy"}, ["middle"]),
        ({"q": "strategy breakout"}, ["middle"]),  # words, not a phrase
        ({"q": "momentum analyse"}, ["middle"]),  # in the output and the input
        ({"q": "momentum quarterly"}, []),  # one span must hold every word
        ({"q": "ZÜRICH"}, ["old"]),
        ({"since": "2026-11-28T12:05:00"}, ["new", "middle"]),
        ({"until": "2026-11-28T12:15"}, ["middle", "old"]),
        ({"since": "2026-11-28T12:05", "until": "2026-11-28T12:15"}, ["middle"]),
        ({"since": "2026-11-28T13:05:00+01:00"}, ["new", "middle"]),
        ({"status": "completed", "model": "gpt-4.1-mini", "q": "breakout"}, ["middle"]),
    ],
)
def test_filters(
    client: FlaskClient,
    url: Url,
    sample: dict[str, Trace],
    query: dict[str, str],
    expected: list[str],
) -> None:
    response = client.get(url("/traces"), query_string=query)
    assert response.status_code == 200
    assert trace_ids(response.get_data(as_text=True)) == [str(sample[k].id) for k in expected]


def test_prompt_version_filter(client: FlaskClient, url: Url, store: Store, app: Flask) -> None:
    session = app.extensions["llm_logs"].session
    prompt = PromptRecord(slug="analysis", name="Analysis")
    version = PromptVersion(prompt=prompt, version_number=3, messages=[])
    older = PromptVersion(prompt=prompt, version_number=2, messages=[])
    other_prompt = PromptRecord(slug="other", name="Other")
    other = PromptVersion(prompt=other_prompt, version_number=1, messages=[])
    session.add_all([prompt, version, older, other])
    session.commit()
    used = store.trace("with_prompt", prompt_version_id=version.id)
    store.trace("without_prompt", minutes=1)
    used_older = store.trace("older_version", minutes=-1, prompt_version_id=older.id)
    store.trace("other_prompt", minutes=2, prompt_version_id=other.id)
    response = client.get(url("/traces"), query_string={"prompt_version": version.id})
    assert trace_ids(response.get_data(as_text=True)) == [str(used.id)]
    # By prompt: every version of it, no other prompt's.
    for query, expected in [("analysis", [used, used_older]), ("nothing", [])]:
        response = client.get(url("/traces"), query_string={"prompt": query})
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert trace_ids(html) == [str(t.id) for t in expected]
        assert f'name="prompt" value="{query}"' in html
    page = client.get(url(f"/traces/{used.id}")).get_data(as_text=True)
    assert "analysis v3" in page
    assert url("/prompts/analysis/versions/3") in page
    assert f"prompt_version={version.id}" in page


def test_keyset_pagination(
    make_app: Callable[..., Flask], make_store: type[Store], url: Url
) -> None:
    app = make_app(LLM_LOGS_PAGE_SIZE=2)
    with app.app_context():
        store = make_store(app)
        traces = [store.trace(f"t{n}", minutes=n) for n in range(5)]
        # Two traces starting at the same instant: the id breaks the tie.
        twin = store.trace("twin", minutes=2)
        client = app.test_client()
        expected = sorted([*traces, twin], key=lambda t: (t.started_at, str(t.id)), reverse=True)
        seen = []
        path = url("/traces")
        query = {"status": "completed"}
        for _ in range(10):
            html = client.get(path, query_string=query).get_data(as_text=True)
            seen.extend(trace_ids(html))
            if 'rel="next"' not in html:
                break
            assert "« Newest" in html or not seen[2:]
            query = {"status": "completed", "after": _next_after(html)}
        assert seen == [str(t.id) for t in expected]


def _next_after(html: str) -> str:
    import html as html_module
    import re
    from urllib.parse import parse_qs
    from urllib.parse import urlparse

    found = re.search(r'href="([^"]+)" rel="next"', html)
    assert found, "no next page link"
    href = found.group(1)
    return parse_qs(urlparse(html_module.unescape(href)).query)["after"][0]


def test_trace_page(client: FlaskClient, url: Url, sample: dict[str, Trace], app: Flask) -> None:
    trace = sample["middle"]
    response = client.get(url(f"/traces/{trace.id}"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "strategy_analysis" in html
    # Summary cards: models, spans, tokens with the cached share, cost, duration.
    assert "gpt-4.1-mini" in html and "1,200 / 300" in html and "600 cached (50%)" in html
    assert "$0.0123" in html and "2.50 s" in html
    # Metadata, each a link to the traces with the same value.
    assert "meta_key=strategy_id&amp;meta_value=42" in html
    # The tree: the child is indented under the root, messages per role.
    assert html.index("pipeline") < html.index("chat gpt-4.1-mini")
    assert '<li class="d1">' in html
    assert 'class="message role-system"' in html and 'class="message role-user"' in html
    assert "<strong>Momentum</strong> looks <em>fine</em>." in html
    # JSON input pretty-printed.
    assert "&quot;query&quot;: &quot;momentum alpha&quot;" in html
    # The timeline has a bar per span.
    assert html.count('<rect class="bar') == 2


def test_trace_page_links_to_its_batch(
    client: FlaskClient, url: Url, store: Store, app: Flask
) -> None:
    trace = store.trace("from_batch")
    session = app.extensions["llm_logs"].session
    batch = BatchRecord(purpose="scoring", provider="openai_responses", model="m", claim_token="c")
    session.add(batch)
    session.flush()
    session.add(
        BatchRequest(
            batch_id=batch.id, custom_id="r1", purpose="scoring", model="m", trace_id=trace.id
        )
    )
    session.commit()
    batch_url = url(f"/batches/{batch.id}")
    assert batch_url in client.get(url(f"/traces/{trace.id}")).get_data(as_text=True)
    assert batch_url in client.get(url("/traces")).get_data(as_text=True)
    batch_page = client.get(batch_url).get_data(as_text=True)
    assert "scoring" in batch_page and url(f"/traces/{trace.id}") in batch_page


def test_tool_calls_readable(client: FlaskClient, url: Url, store: Store) -> None:
    trace = store.trace()
    store.span(
        trace,
        input={
            "model": "gpt-4.1-mini",
            "messages": [{"role": "user", "content": "Price of AAPL?"}],
            "temperature": 0.2,
        },
        output={
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {
                                    "name": "lookup_price",
                                    "arguments": '{"symbol":"AAPL"}',
                                },
                            }
                        ],
                    }
                }
            ]
        },
    )
    html = client.get(url(f"/traces/{trace.id}")).get_data(as_text=True)
    assert "calls <strong>lookup_price</strong> <code>call_1</code>" in html
    assert "&quot;symbol&quot;: &quot;AAPL&quot;" in html
    assert "Parameters" in html and "&quot;temperature&quot;: 0.2" in html


def test_huge_content_is_cut_in_the_tree(client: FlaskClient, url: Url, store: Store) -> None:
    trace = store.trace()
    huge = "x" * 5_000_000
    span = store.span(trace, input=[{"role": "user", "content": huge}], output="short answer")
    response = client.get(url(f"/traces/{trace.id}"))
    html = response.get_data(as_text=True)
    assert len(html) < TREE_CONTENT_LIMIT + 20_000
    assert "Cut: 5,000,033 characters in all." in html
    assert url(f"/traces/{trace.id}/spans/{span.id}") in html
    full = client.get(url(f"/traces/{trace.id}/spans/{span.id}")).get_data(as_text=True)
    assert huge in full


def test_span_page_and_raw_json(
    client: FlaskClient, url: Url, sample: dict[str, Trace], app: Flask
) -> None:
    session = app.extensions["llm_logs"].session
    span = session.query(Span).filter_by(name="chat gpt-4.1-mini").one()
    path = url(f"/traces/{span.trace_id}/spans/{span.id}")
    html = client.get(path).get_data(as_text=True)
    for text in (str(span.id), str(span.parent_id), "gpt-4.1-mini", "800 ms", "raw.json"):
        assert text in html
    raw = client.get(path + "/raw.json")
    assert raw.status_code == 200
    assert raw.mimetype == "application/json"
    assert raw.headers["Content-Disposition"] == f'attachment; filename="span-{span.id}.json"'
    data = json.loads(raw.data)
    assert data["id"] == str(span.id)
    assert data["output"] == {"role": "assistant", "content": "**Momentum** looks *fine*."}
    assert data["input_tokens"] == 1200 and "metadata" in data
    assert "search" not in data  # derived from input and output, not a field of the span


@pytest.mark.parametrize(
    "path",
    [
        "/traces/not-a-uuid",
        f"/traces/{uuid.uuid4()}",
        f"/traces/{uuid.uuid4()}/spans/{uuid.uuid4()}",
        "/traces/x/spans/y",
        f"/traces/{uuid.uuid4()}/spans/{uuid.uuid4()}/raw.json",
        "/batches/12345",
        "/batches/abc",
        "/batches/%C2%B2",
        "/batches/2147483648",
    ],
)
def test_unknown_ids_are_404_pages(client: FlaskClient, url: Url, path: str) -> None:
    response = client.get(url(path))
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)
    assert "Content-Security-Policy" in response.headers


def test_span_of_another_trace_is_404(
    client: FlaskClient, url: Url, sample: dict[str, Trace], app: Flask
) -> None:
    span = app.extensions["llm_logs"].session.query(Span).filter_by(name="pipeline").one()
    response = client.get(url(f"/traces/{sample['old'].id}/spans/{span.id}"))
    assert response.status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "since=yesterday",
        "until=2026-13-45",
        "since=2026-11-29&until=2026-11-28",
        "after=not-a-cursor",
        "after=%FF%FE",
        "prompt_version=abc",
        "prompt_version=-1",
        "prompt_version=2147483648",
        "prompt_version=99999999999999999999",
        "since=9999-12-31T23:59:59-05:00",
        "until=0001-01-01T00:00:00%2B05:00",
        "meta_key=user",
        "q=" + "x" * 600,
        "name=a%00b",
    ],
)
def test_malformed_query_strings_are_400_pages(
    client: FlaskClient, url: Url, sample: dict[str, Trace], query: str
) -> None:
    response = client.get(url("/traces") + "?" + query)
    assert response.status_code == 400, query
    assert "Bad request" in response.get_data(as_text=True)


def test_malformed_query_strings_elsewhere(client: FlaskClient, url: Url) -> None:
    assert client.get(url("/batches?after=x")).status_code == 400
    assert client.get(url("/batches?after=12")).status_code == 200
    assert client.get(url("/traces?prompt_version=2147483647")).status_code == 200


def test_cursor_round_trip() -> None:
    started = dt.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=dt.timezone.utc)
    from flask_llm_logs.web.params import decode_cursor

    row_id = uuid.uuid4()
    assert decode_cursor(encode_cursor(started, row_id)) == (started.replace(tzinfo=None), row_id)


def test_batches_list_and_page(client: FlaskClient, url: Url, app: Flask, store: Store) -> None:
    session = app.extensions["llm_logs"].session
    batch = BatchRecord(
        purpose="nightly",
        provider="openai_responses",
        model="gpt-4.1-mini",
        claim_token="t",
        status="completed",
        request_count=3,
    )
    session.add(batch)
    session.flush()
    trace = store.trace("scored")
    for n, status in enumerate(["completed", "completed", "failed"]):
        session.add(
            BatchRequest(
                batch_id=batch.id,
                custom_id=f"req-{n}",
                purpose="nightly",
                model="gpt-4.1-mini",
                status=status,
                error="boom" if status == "failed" else None,
                trace_id=trace.id if n == 0 else None,
            )
        )
    session.commit()
    html = client.get(url("/batches")).get_data(as_text=True)
    assert f"#{batch.id}" in html and "nightly" in html
    page = client.get(url(f"/batches/{batch.id}")).get_data(as_text=True)
    assert "req-0" in page and "req-2" in page and "boom" in page
    assert url(f"/traces/{trace.id}") in page


def test_navigation_on_every_page(client: FlaskClient, url: Url, sample: dict[str, Trace]) -> None:
    for path in ("/traces", f"/traces/{sample['old'].id}", "/prompts", "/batches"):
        html = client.get(url(path)).get_data(as_text=True)
        for section in ("/traces", "/prompts", "/batches"):
            assert f'href="{url(section)}"' in html
        assert 'aria-current="page"' in html


def test_span_pages_highlight_the_traces_section(
    client: FlaskClient, url: Url, store: Store
) -> None:
    """A span belongs to a trace: its page marks "Traces" as the current section."""
    import re

    trace = store.trace("pipeline")
    span = store.span(trace, "chat")
    html = client.get(url(f"/traces/{trace.id}/spans/{span.id}")).get_data(as_text=True)
    current = re.findall(r'<a href="([^"]*)"\s+aria-current="page">', html)
    assert current == [url("/traces")]


def test_the_prefix_itself_is_the_traces_list(
    client: FlaskClient, sample: dict[str, Trace]
) -> None:
    """``/llm_logs`` shows the list, as ``/llm_logs/`` does: no redirect."""
    for path in ("/llm_logs", "/llm_logs/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert trace_ids(response.get_data(as_text=True)) == [
            str(sample[k].id) for k in ("new", "middle", "old")
        ]


def test_url_prefix_is_configurable(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_URL_PREFIX="/admin/llm")
    client = app.test_client()
    assert client.get("/admin/llm").status_code == 200
    assert client.get("/admin/llm/").status_code == 200
    assert client.get("/admin/llm/traces").status_code == 200
    assert client.get("/llm_logs/").status_code == 404


def test_host_templates_override_the_extensions(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = make_app()
    folder = tmp_path / "host_templates" / "llm_logs"
    folder.mkdir(parents=True)
    (folder / "error.html").write_text("host error page: {{ code }}")
    app.template_folder = str(tmp_path / "host_templates")
    response = app.test_client().get("/llm_logs/traces/nope")
    assert response.status_code == 404
    assert response.get_data(as_text=True) == "host error page: 404"


def test_big_traces_load_span_bodies_on_demand(
    client: FlaskClient, url: Url, store: Store, app: Flask, count_queries: CountQueries
) -> None:
    trace = store.trace("big")
    store.add_all(
        [
            Span(
                trace_id=trace.id,
                name=f"chat {n}",
                input=[{"role": "user", "content": f"question number {n}"}],
                output={"role": "assistant", "content": f"**answer** {n}"},
                started_at=trace.started_at,
            )
            for n in range(INLINE_PAYLOAD_SPANS + 1)
        ]
    )
    html = client.get(url(f"/traces/{trace.id}")).get_data(as_text=True)
    assert html.count("data-body-url=") == INLINE_PAYLOAD_SPANS + 1
    assert "question number" not in html
    assert "Expand all" not in html
    session = app.extensions["llm_logs"].session
    span = session.query(Span).filter_by(name="chat 7").one()
    session.expunge_all()
    with count_queries() as counter:
        body = client.get(url(f"/traces/{trace.id}/spans/{span.id}/body"))
    assert body.status_code == 200 and counter.count == 2
    fragment = body.get_data(as_text=True)
    assert "<html" not in fragment
    assert "question number 7" in fragment and "<strong>answer</strong> 7" in fragment
    assert client.get(url(f"/traces/{trace.id}/spans/{uuid.uuid4()}/body")).status_code == 404


ODD_VALUES = ["", " ", "%", "_", "'", '"', "\\", "é", "😀", "0", "-0", "1e5", "null", "true"]
ODD_VALUES += ["[]", '{"a": 1}', "a" * 500, "\u202e", "2026-02-30", "T", "--", "<b>"]
# Numbers no JSON column stores (PostgreSQL refused them with a 500).
ODD_VALUES += ["NaN", "1e309", "-1e309", "Infinity"]


def test_no_query_string_is_a_500(client: FlaskClient, url: Url, sample: dict[str, Trace]) -> None:
    fields = ["q", "status", "name", "model", "prompt", "prompt_version", "since", "until"]
    fields.append("after")
    for field in fields:
        for value in ODD_VALUES:
            response = client.get(url("/traces"), query_string={field: value})
            assert response.status_code in (200, 400), (field, value)
        response = client.get(url("/traces"), query_string={"meta_key": field, "meta_value": value})
        assert response.status_code in (200, 400), (field, value)
    for value in ODD_VALUES:
        response = client.get(url("/traces"), query_string={"meta_key": value, "meta_value": value})
        assert response.status_code in (200, 400), value


def big_trace(store: Store, count: int, *, rollup: bool = True) -> Trace:
    """A root span and ``count - 1`` children, in start order; the rollup counts them."""
    trace = store.trace("big", spans_count=count if rollup else 0)
    root = Span(id=uuid.uuid4(), trace_id=trace.id, name="root", started_at=trace.started_at)
    children = [
        Span(
            trace_id=trace.id,
            parent_id=root.id,
            name=f"step {n:05d}",
            started_at=trace.started_at + dt.timedelta(milliseconds=n + 1),
            duration_ms=1.0,
        )
        for n in range(count - 1)
    ]
    store.add_all([root, *children])
    return trace


def span_names(html: str) -> list[str]:
    import re

    return re.findall(r'<span class="span-name">([^<]*)</span>', html)


@pytest.mark.parametrize("rollup", [True, False], ids=["rollup", "stale-rollup"])
def test_a_big_trace_shows_its_first_spans_then_more(
    client: FlaskClient, url: Url, store: Store, rollup: bool
) -> None:
    from flask_llm_logs.web.trace_queries import TRACE_PAGE_SPANS

    count = TRACE_PAGE_SPANS * 2 + 10
    trace = big_trace(store, count, rollup=rollup)
    html = client.get(url(f"/traces/{trace.id}")).get_data(as_text=True)
    names = span_names(html)
    assert names == ["root"] + [f"step {n:05d}" for n in range(TRACE_PAGE_SPANS - 1)]
    assert html.count('class="tl-label') == TRACE_PAGE_SPANS
    assert f"Showing the first {TRACE_PAGE_SPANS} of {count:,} spans" in html
    assert f">{count:,}<" in html  # the Spans card counts them all

    import re

    [more] = set(re.findall(r'<a href="([^"]*spans=[^"]*)">Show 500 more</a>', html))
    assert f"spans={TRACE_PAGE_SPANS * 2}#span-" in more
    html = client.get(more.replace("&amp;", "&")).get_data(as_text=True)
    assert len(span_names(html)) == TRACE_PAGE_SPANS * 2
    assert "Show 10 more" in html
    html = client.get(url(f"/traces/{trace.id}?spans={count}")).get_data(as_text=True)
    assert len(span_names(html)) == count
    assert "show-more" not in html
    assert client.get(url(f"/traces/{trace.id}?spans=lots")).status_code == 400


def test_long_text_is_shown_plain_not_formatted(
    client: FlaskClient, url: Url, store: Store
) -> None:
    """Markdown over the bound is escaped text (fast); the download link stays."""
    from flask_llm_logs.web.rendering import RICH_TEXT_LIMIT

    trace = store.trace("long")
    long_reply = "**bold** <b>x</b> " * (RICH_TEXT_LIMIT // 10)
    span = store.span(
        trace,
        input=[{"role": "user", "content": "**short** question"}],
        output={"role": "assistant", "content": long_reply},
    )
    html = client.get(url(f"/traces/{trace.id}/spans/{span.id}")).get_data(as_text=True)
    assert "<strong>short</strong>" in html  # within the bound: formatted
    assert "<strong>bold</strong>" not in html
    assert "**bold** &lt;b&gt;x&lt;/b&gt;" in html
    assert f"Shown as plain text: {len(long_reply):,} characters" in html
    raw = url(f"/traces/{trace.id}/spans/{span.id}/raw.json")
    assert f'<a href="{raw}" download>Download the raw JSON</a>' in html


def test_incomplete_traces_are_shown_and_filtered(
    client: FlaskClient, url: Url, store: Store
) -> None:
    store.trace("lost_end", status="incomplete")
    store.trace("fine", minutes=1)
    html = client.get(url("/traces?status=incomplete")).get_data(as_text=True)
    assert "lost_end" in html and "fine" not in html
    assert 'class="badge status-incomplete"' in html
    assert '<option value="incomplete" selected>' in html
