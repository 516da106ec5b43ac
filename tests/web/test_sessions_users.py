"""The sessions list, a session as a conversation, and a user's page."""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from flask_llm_logs.models import SessionBounds
from flask_llm_logs.models import Trace
from flask_llm_logs.models import UserBounds
from tests.helpers.web import Store
from tests.helpers.web import Url
from tests.helpers.web import csrf_token
from tests.helpers.web import html_of


def session_ids(html: str) -> list[str]:
    """The sessions listed on a page, in order."""
    return [
        html_module.unescape(found)
        for found in re.findall(
            r'<td class="name"><a href="[^"]+/sessions/[^"]+">([^<]*)</a>', html
        )
    ]


def next_link(html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', html)
    return html_module.unescape(found.group(1)) if found else None


@pytest.fixture
def chats(store: Store) -> dict[str, Trace]:
    """Two conversations of ana and one of bob, interleaved in time."""
    traces = {}
    for minutes, name, user, session in [
        (0, "a1", "ana", "chat-1"),
        (1, "b1", "bob", "chat-2"),
        (2, "a2", "ana", "chat-1"),
        (3, "a3", "ana", "chat-3"),
        (4, "b2", "bob", "chat-2"),
        (5, "lone", None, None),
    ]:
        traces[name] = store.trace(
            name,
            minutes=minutes,
            user_id=user,
            session_id=session,
            input_tokens=100,
            output_tokens=10,
            cost=0.001,
        )
    return traces


def test_sessions_list_most_recently_active_first(
    client: FlaskClient, url: Url, chats: dict[str, Trace]
) -> None:
    html = html_of(client.get(url("/sessions")))
    assert session_ids(html) == ["chat-2", "chat-3", "chat-1"]
    row = html.split(f'href="{url("/sessions/chat-1")}"')[1].split("</tr>")[0]
    # User, traces, tokens in and out, cost, first and last time.
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert ">ana</a>" in cells[0]
    assert cells[1:5] == ["2", "200", "20", "$0.0020"]
    assert "2026-11-28 12:00:00" in cells[5] and "2026-11-28 12:02:00" in cells[6]


def test_sessions_of_one_user(client: FlaskClient, url: Url, chats: dict[str, Trace]) -> None:
    assert session_ids(html_of(client.get(url("/sessions?user=ana")))) == ["chat-3", "chat-1"]
    assert session_ids(html_of(client.get(url("/sessions?user=nobody")))) == []


def test_sessions_page_by_keyset(make_app: Callable[..., Flask], make_store: type[Store]) -> None:
    app = make_app(LLM_LOGS_PAGE_SIZE=2)
    with app.app_context():
        store = make_store(app)
        # Each session has traces on either side of a page boundary.
        for n in range(5):
            store.trace(f"s{n}-early", minutes=n, session_id=f"s{n}")
        for n in range(5):
            store.trace(f"s{n}-late", minutes=10 + n, session_id=f"s{n}")
    client = app.test_client()
    seen: list[str] = []
    path: str | None = "/llm_logs/sessions"
    while path:
        html = html_of(client.get(path))
        seen += session_ids(html)
        path = next_link(html)
    assert seen == ["s4", "s3", "s2", "s1", "s0"]


def test_empty_sessions_list_explains(client: FlaskClient, url: Url) -> None:
    assert "pass session_id to trace()" in html_of(client.get(url("/sessions")))


def test_a_session_is_its_conversation(client: FlaskClient, url: Url, store: Store) -> None:
    first = store.trace("chat", minutes=0, session_id="conv", user_id="ana")
    history = [{"role": "system", "content": "Be brief."}]
    store.span(
        first,
        "chat gpt-4.1-mini",
        kind="llm",
        input=[*history, {"role": "user", "content": "Hello there"}],
        output={"role": "assistant", "content": "Hi **Ana**"},
    )
    store.span(first, "lookup", kind="tool", input={"q": "tool input"}, output="tool output")
    second = store.trace("chat", minutes=1, session_id="conv", user_id="ana")
    store.span(
        second,
        "responses gpt-4.1",
        kind="llm",
        input=[
            *history,
            {"role": "user", "content": "Hello there"},
            {"role": "assistant", "content": "Hi Ana"},
            {"role": "user", "content": "What is 2 + 2?"},
        ],
        output=[
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Four."}],
            }
        ],
    )
    third = store.trace("no_llm", minutes=2, session_id="conv")
    store.span(third, "plain string", kind="llm", input="Just a string", error="Timeout")
    html = html_of(client.get(url("/sessions/conv")))
    text = re.sub(r"<[^>]+>", " ", html)
    # In time order: each call's last user message and its reply, nothing else.
    order = [
        text.index(s) for s in ("Hello there", "Ana", "What is 2 + 2?", "Four.", "Just a string")
    ]
    assert order == sorted(order)
    assert text.count("Hello there") == 1
    assert "Be brief." not in text and "tool input" not in text
    assert "No reply recorded: Timeout." in html
    assert "<strong>Ana</strong>" in html
    for trace in (first, second, third):
        assert f'href="{url(f"/traces/{trace.id}")}"' in html
    assert f'href="{url("/users/ana")}"' in html
    assert f'href="{url("/traces?session=conv")}"' in html


def test_a_session_pages_by_keyset_oldest_first(
    make_app: Callable[..., Flask], make_store: type[Store]
) -> None:
    app = make_app(LLM_LOGS_PAGE_SIZE=2)
    with app.app_context():
        store = make_store(app)
        for n in range(5):
            store.trace(f"turn{n}", minutes=n, session_id="long")
    client = app.test_client()
    seen: list[str] = []
    path: str | None = "/llm_logs/sessions/long"
    while path:
        html = html_of(client.get(path))
        seen += re.findall(r'class="span-name" href="[^"]+">([^<]*)</a>', html)
        path = next_link(html)
    assert seen == [f"turn{n}" for n in range(5)]


def test_ids_with_slashes_and_odd_characters(client: FlaskClient, url: Url, store: Store) -> None:
    store.trace("t", user_id="team/ana <x>", session_id="a/b?c#d")
    html = html_of(client.get(url("/traces")))
    links = re.findall(r'href="([^"]+/(?:users|sessions)/[^"]+)"', html)
    user_page, session_page = (html_of(client.get(html_module.unescape(u))) for u in links)
    assert "<h1>team/ana &lt;x&gt;</h1>" in user_page
    assert "<h1>a/b?c#d</h1>" in session_page


def test_a_users_page(client: FlaskClient, url: Url, chats: dict[str, Trace]) -> None:
    html = html_of(client.get(url("/users/ana")))
    cards = re.findall(r'<div class="card-value">([^<]*)</div>', html)
    # Traces, sessions, tokens in / out, cost.
    assert cards == ["3", "2", "300 / 30", "$0.0030"]
    assert session_ids(html) == ["chat-3", "chat-1"]
    names = re.findall(r'<td class="name"><a href="[^"]+/traces/[^"]+">([^<]*)</a>', html)
    assert names == ["a3", "a2", "a1"]
    assert f'href="{url("/sessions?user=ana")}"' in html


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/users/nobody", 404),
        ("/sessions/nothing", 404),
        ("/sessions?after=garbage", 400),
        ("/sessions/chat-1?after=garbage", 400),
        ("/users/ana?after=garbage", 400),
        ("/sessions?user=" + "u" * 501, 400),
    ],
)
def test_unknown_and_malformed(
    client: FlaskClient, url: Url, chats: dict[str, Trace], path: str, status: int
) -> None:
    html_of(client.get(url(path)), status)


def test_hostile_conversation_is_escaped(client: FlaskClient, url: Url, store: Store) -> None:
    trace = store.trace("<script>t</script>", session_id="<b>s</b>", user_id="<i>u</i>")
    store.span(
        trace,
        "<svg onload=x>",
        kind="llm",
        input=[{"role": "user", "content": "<img src=x onerror=alert(1)>"}],
        output={"role": "assistant", "content": "[x](javascript:alert(1)) <script>r</script>"},
    )
    for path in ("/sessions", "/sessions/<b>s</b>", "/users/<i>u</i>"):
        html = html_of(client.get(url(path)))
        for raw in ("<script>", "<img", "<svg", "<b>s", "<i>u", 'href="javascript:'):
            assert raw not in html, (path, raw)


def test_totals_without_bounds_take_every_trace(
    client: FlaskClient, url: Url, chats: dict[str, Trace], store: Store
) -> None:
    """A session or user without bounds stored (the purge deleted them, or its traces
    were stored another way than by the writer) is totalled without a range."""
    before = [html_of(client.get(url(path))) for path in ("/sessions", "/users/ana")]
    with store.session.get_bind(Trace).begin() as connection:
        for model in (SessionBounds, UserBounds):
            connection.execute(sa.delete(model))
    after = [html_of(client.get(url(path))) for path in ("/sessions", "/users/ana")]
    assert after == before
    assert "3" in re.findall(r'<div class="card-value">([^<]*)</div>', after[1])


def test_deleting_a_trace_leaves_its_sessions_bounds(
    client: FlaskClient, url: Url, chats: dict[str, Trace], store: Store
) -> None:
    """Still bounds of what is left: the session's page totals the traces left."""
    token = csrf_token(html_of(client.get(url(f"/traces/{chats['a1'].id}"))))
    response = client.post(url(f"/traces/{chats['a1'].id}/delete"), data={"csrf_token": token})
    assert response.status_code == 302
    with store.session.get_bind(Trace).connect() as connection:
        bounds = connection.execute(
            sa.select(SessionBounds).where(SessionBounds.session_id == "chat-1")
        ).one()
    assert bounds.first_at.replace(tzinfo=None) == chats["a1"].started_at.replace(tzinfo=None)
    html = html_of(client.get(url("/sessions")))
    row = html.split(f'href="{url("/sessions/chat-1")}"')[1].split("</tr>")[0]
    assert re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[1:5] == ["1", "100", "10", "$0.0010"]
