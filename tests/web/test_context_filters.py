"""The traces list by user, session, tag, environment and score, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_llm_logs.models import Trace
from tests.helpers.web import Store
from tests.helpers.web import Url
from tests.helpers.web import html_of


def names(html: str) -> list[str]:
    """The trace names listed on a traces page, newest first."""
    return re.findall(r'<td class="name"><a href="[^"]+">([^<]*)</a>', html)


@pytest.fixture
def people(store: Store) -> dict[str, Trace]:
    """Traces of two users in two sessions, tagged, in two environments, some scored."""
    ana_1 = store.trace(
        "ana_1",
        minutes=0,
        user_id="ana",
        session_id="chat-1",
        tags=["beta", "support"],
        environment="production",
    )
    ana_2 = store.trace(
        "ana_2",
        minutes=1,
        user_id="ana",
        session_id="chat-1",
        tags=["support"],
        environment="production",
    )
    bob_1 = store.trace(
        "bob_1", minutes=2, user_id="bob", session_id="chat-2", environment="staging"
    )
    anonymous = store.trace("anonymous", minutes=3)
    store.score(ana_1, "helpful", value=1.0, source="user")
    store.score(ana_2, "helpful", value=0.0, source="user")
    store.score(bob_1, "accuracy", value=0.8)
    store.score(bob_1, "tone", label="too formal", source="review")
    return {t.name: t for t in (ana_1, ana_2, bob_1, anonymous)}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["anonymous", "bob_1", "ana_2", "ana_1"]),
        ("user=ana", ["ana_2", "ana_1"]),
        ("session=chat-2", ["bob_1"]),
        ("tag=support", ["ana_2", "ana_1"]),
        ("tag=beta", ["ana_1"]),
        ("tag=bet", []),
        ("environment=staging", ["bob_1"]),
        ("score=helpful", ["ana_2", "ana_1"]),
        ("score=helpful&score_min=0.5", ["ana_1"]),
        ("score=helpful&score_max=0.5", ["ana_2"]),
        ("score=helpful&score_min=0&score_max=1", ["ana_2", "ana_1"]),
        ("score=accuracy&score_min=0.9", []),
        # A label alone has no value: it is no match for a range.
        ("score=tone", ["bob_1"]),
        ("score=tone&score_min=0", []),
        ("no_score=helpful", ["anonymous", "bob_1"]),
        ("no_score=tone&user=bob", []),
        ("user=ana&environment=production&tag=beta&score=helpful", ["ana_1"]),
    ],
)
def test_filters(
    client: FlaskClient, url: Url, people: dict[str, Trace], query: str, expected: list[str]
) -> None:
    assert names(html_of(client.get(url(f"/traces?{query}")))) == expected


def next_pages(client: FlaskClient, path: str) -> list[str]:
    """The names on every page, following the "Older" links from ``path``."""
    seen: list[str] = []
    while path:
        html = html_of(client.get(path))
        seen += names(html)
        match = re.search(r'<a href="([^"]+)" rel="next">', html)
        path = match.group(1).replace("&amp;", "&") if match else ""
    return seen


def test_filters_page_by_keyset(make_app: Callable[..., Flask], make_store: type[Store]) -> None:
    app = make_app(LLM_LOGS_PAGE_SIZE=2)
    with app.app_context():
        store = make_store(app)
        for n in range(5):
            trace = store.trace(f"t{n}", minutes=n, user_id="ana", tags=["x"])
            store.score(trace, "helpful", value=n)
        store.trace("other", minutes=10, user_id="bob")
    path = "/llm_logs/traces?user=ana&tag=x&score=helpful&score_min=1"
    assert next_pages(app.test_client(), path) == ["t4", "t3", "t2", "t1"]


def test_list_shows_who_where_and_tags_as_links(
    client: FlaskClient, url: Url, people: dict[str, Trace]
) -> None:
    html = html_of(client.get(url("/traces")))
    assert f'href="{url("/users/ana")}"' in html
    assert f'href="{url("/sessions/chat-1")}"' in html
    assert f'href="{url("/traces?tag=beta")}"' in html
    assert f'href="{url("/traces?environment=staging")}"' in html
    # The filter form keeps what was asked.
    html = html_of(client.get(url("/traces?score=helpful&score_min=0.5&no_score=tone")))
    assert 'name="score_min" inputmode="decimal" value="0.5"' in html
    assert 'name="no_score" value="tone"' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("score_min=1", "score_min and score_max: give the score&#39;s name in score too."),
        ("score=a&score_max=x", "score_max: &#39;x&#39; is not a number."),
        ("score=a&score_min=nan", "score_min: &#39;nan&#39; is not a number."),
        ("score=a&score_min=inf", "score_min: &#39;inf&#39; is not a number."),
        ("score=a&score_min=2&score_max=1", "score_min: greater than score_max."),
        ("user=" + "u" * 501, "user: longer than 500 characters."),
        ("tag=a%00b", "tag: contains a NUL character."),
    ],
)
def test_bad_filters_are_400_pages_naming_the_argument(
    client: FlaskClient, url: Url, query: str, message: str
) -> None:
    assert message in html_of(client.get(url(f"/traces?{query}")), 400)


def test_hostile_context_is_escaped(client: FlaskClient, url: Url, store: Store) -> None:
    store.trace(
        "t",
        user_id="<script>u</script>",
        session_id='"><img src=x>',
        tags=["<b>tag</b>"],
        environment="<i>env</i>",
    )
    html = html_of(client.get(url("/traces")))
    for raw in ("<script>u", "<img src=x>", "<b>tag", "<i>env"):
        assert raw not in html
    assert "&lt;script&gt;u&lt;/script&gt;" in html
    assert "&lt;b&gt;tag&lt;/b&gt;" in html
