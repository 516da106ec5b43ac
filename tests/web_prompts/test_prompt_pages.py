"""The prompt pages: list, prompt with preview, versions, compare, restore and deletes."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_llm_logs import Prompt
from flask_llm_logs import PromptNotFound
from flask_llm_logs.models import PromptVersion
from tests.helpers.prompts import HOSTILE
from tests.helpers.prompts import current_version
from tests.helpers.prompts import make_greeting
from tests.helpers.web import Store
from tests.helpers.web import Url
from tests.helpers.web import csrf_token
from tests.helpers.web import flashes
from tests.helpers.web import html_of


class TestList:
    def test_empty(self, client: FlaskClient, url: Url) -> None:
        html = html_of(client.get(url("/prompts")))
        assert "No prompts yet" in html
        assert url("/prompts/new") in html

    def test_rows(self, client: FlaskClient, url: Url, app: Flask) -> None:
        make_greeting(versions=2, tags=["support", "onboarding"])
        Prompt.create(slug="draft", name="Draft without content")
        html = html_of(client.get(url("/prompts")))
        row = html[html.index(url("/prompts/greeting")) :]
        row = row[: row.index("</tr>")]
        assert ">Greeting</a>" in row
        assert "v2" in row
        assert "gpt-4.1" in row and "gpt-4.1-mini" not in row
        assert "support" in row and "onboarding" in row
        assert "<time" in row
        draft = html[html.index(url("/prompts/draft")) :]
        assert "none" in draft[: draft.index("</tr>")]

    @pytest.mark.parametrize(
        ("sort", "expected"),
        [("name", ["apple", "Banana", "cherry"]), ("slug", ["a", "b", "c"])],
    )
    def test_sort(self, client: FlaskClient, url: Url, sort: str, expected: list[str]) -> None:
        Prompt.create(slug="c", name="apple")
        Prompt.create(slug="a", name="cherry")
        Prompt.create(slug="b", name="Banana")
        html = html_of(client.get(url("/prompts"), query_string={"sort": sort}))
        column = (
            r'<td class="name"><a [^>]*>([^<]*)</a>' if sort == "name" else r"<code>(\w)</code>"
        )
        assert re.findall(column, html) == expected

    def test_sort_by_last_update(self, client: FlaskClient, url: Url) -> None:
        first = Prompt.create(slug="first", name="First")
        Prompt.create(slug="second", name="Second")
        first.update(description="touched last")
        html = html_of(client.get(url("/prompts")))
        assert html.index("/prompts/first") < html.index("/prompts/second")

    def test_filter_by_tag(self, client: FlaskClient, url: Url) -> None:
        Prompt.create(slug="tagged", name="Tagged", tags=["support", "x"])
        Prompt.create(slug="other", name="Other", tags=["sales"])
        Prompt.create(slug="none", name="No tags")
        html = html_of(client.get(url("/prompts"), query_string={"tag": "support"}))
        assert "/prompts/tagged" in html
        assert "/prompts/other" not in html and "/prompts/none" not in html
        assert '<option value="support" selected>' in html
        assert '<option value="sales">' in html
        html = html_of(client.get(url("/prompts"), query_string={"tag": "missing"}))
        assert "No prompt has this tag." in html

    @pytest.mark.parametrize("query", ["sort=size", "sort=", "tag=" + "x" * 501, "tag=a%00b"])
    def test_bad_arguments(self, client: FlaskClient, url: Url, query: str) -> None:
        html = html_of(client.get(url("/prompts?" + query)), 400)
        assert "Bad request" in html


class TestPromptPage:
    def test_current_version(self, client: FlaskClient, url: Url, store: Store) -> None:
        prompt = make_greeting(versions=2, tags=["support"], description="Says hello.")
        current = current_version(prompt)
        html = html_of(client.get(url("/prompts/greeting")))
        assert "<h1>Greeting" in html and "v2" in html
        assert "Says hello." in html
        assert '<span class="tag">{{tone}}</span>' in html
        assert 'Hi v2 <span class="tag">{{name}}</span>!' in html
        assert "gpt-4.1" in html
        assert "<code>temperature</code>" in html and "<code>0.4</code>" in html
        assert "default <code>tone</code>" in html
        assert "support" in html
        assert "change 1" in html and "change 2" in html
        assert f'href="{url("/traces")}?prompt_version={current.id}"' in html
        assert "No traces used this prompt yet." in html

    def test_traces_that_used_it(self, client: FlaskClient, url: Url, store: Store) -> None:
        prompt = make_greeting(versions=2)
        first, second = prompt.versions
        store.trace("old_run", prompt_version_id=first.id)
        store.trace("new_run", minutes=1, prompt_version_id=second.id)
        store.trace("unrelated", minutes=2)
        html = html_of(client.get(url("/prompts/greeting")))
        assert html.index("new_run") < html.index("old_run")
        assert "unrelated" not in html
        # The link to the traces list filtered on the prompt: every version's traces.
        listing = f'href="{url("/traces")}?prompt=greeting"'
        assert listing in html
        traces = html_of(client.get(url("/traces"), query_string={"prompt": "greeting"}))
        assert "new_run" in traces and "old_run" in traces and "unrelated" not in traces

    def test_prompt_without_content(self, client: FlaskClient, url: Url) -> None:
        Prompt.create(slug="empty", name="Empty")
        html = html_of(client.get(url("/prompts/empty")))
        assert "no content yet" in html
        assert url("/prompts/empty/edit") in html

    def test_unknown_prompt(self, client: FlaskClient, url: Url) -> None:
        for path in ("", "/edit", "/versions", "/versions/1", "/compare", "/delete"):
            html = html_of(client.get(url("/prompts/nothing" + path)), 404)
            assert "no prompt" in html.lower()


class TestPreview:
    def test_one_field_per_variable(self, client: FlaskClient, url: Url) -> None:
        make_greeting()
        html = html_of(client.get(url("/prompts/greeting")))
        assert 'name="var-name"' in html and 'name="var-tone"' in html
        assert 'placeholder="kind"' in html  # the default variable
        assert "Rendered messages" not in html

    def test_rendered(self, client: FlaskClient, url: Url) -> None:
        make_greeting()
        query = {"preview": "1", "var-name": "Ada <b>", "var-tone": ""}
        html = html_of(client.get(url("/prompts/greeting"), query_string=query))
        assert "You are kind." in html
        assert "Hello Ada &lt;b&gt;!" in html
        assert ">Ada &lt;b&gt;</textarea>" in html  # what was typed stays
        assert "Not given" not in html

    def test_missing_variables_render_empty_with_a_notice(
        self, client: FlaskClient, url: Url
    ) -> None:
        Prompt.create(slug="p", name="P").update_content(
            messages=[{"role": "user", "content": "A {{first}} B {{second}}"}]
        )
        html = html_of(
            client.get(url("/prompts/p"), query_string={"preview": "1", "var-first": "1"})
        )
        assert "A 1 B " in html
        assert "Not given, rendered empty: <code>second</code>" in html

    def test_dotted_names_and_sections(self, client: FlaskClient, url: Url) -> None:
        Prompt.create(slug="p", name="P").update_content(
            messages=[{"role": "user", "content": "{{user.name}}{{#vip}} (VIP){{/vip}}"}]
        )
        query = {"preview": "1", "var-user.name": "Ada", "var-vip": "yes"}
        html = html_of(client.get(url("/prompts/p"), query_string=query))
        assert "Ada (VIP)" in html

    def test_partial_that_does_not_exist(self, client: FlaskClient, url: Url) -> None:
        Prompt.create(slug="p", name="P").update_content(
            messages=[{"role": "user", "content": "{{> gone}}"}]
        )
        html = html_of(client.get(url("/prompts/p"), query_string={"preview": "1"}))
        assert '<pre class="error-box">' in html and "gone" in html

    def test_no_variables(self, client: FlaskClient, url: Url) -> None:
        Prompt.create(slug="p", name="P").update_content(
            messages=[{"role": "user", "content": "Plain"}]
        )
        html = html_of(client.get(url("/prompts/p"), query_string={"preview": "1"}))
        assert "no variables" in html
        assert '<pre class="template rendered">Plain</pre>' in html


class TestVersions:
    def test_history(self, client: FlaskClient, url: Url) -> None:
        prompt = make_greeting(versions=3)
        html = html_of(client.get(url("/prompts/greeting/versions")))
        assert [int(n) for n in re.findall(r">v(\d+)</a>", html)] == [3, 2, 1]
        assert "change 3" in html and "gpt-4.1-mini" in html
        assert 'name="from" value="2"' in html and 'name="to" value="3"' in html
        # Current version: no restore or delete; the others have both.
        assert html.count("/restore") == 2 and html.count("/delete") == 2
        assert url("/prompts/greeting/versions/3/delete") not in html
        for version in prompt.versions:
            assert f"prompt_version={version.id}" in html

    def test_history_pages(self, make_app: Callable[..., Flask]) -> None:
        app = make_app(LLM_LOGS_PAGE_SIZE=2)
        with app.app_context():
            make_greeting(versions=5)
            client = app.test_client()
            html = html_of(client.get("/llm_logs/prompts/greeting/versions"))
            assert re.findall(r">v(\d+)</a>", html) == ["5", "4"]
            assert "before=4" in html
            html = html_of(client.get("/llm_logs/prompts/greeting/versions?before=4"))
            assert re.findall(r">v(\d+)</a>", html) == ["3", "2"]
            html = html_of(client.get("/llm_logs/prompts/greeting/versions?before=2"))
            assert re.findall(r">v(\d+)</a>", html) == ["1"]
            assert "Older versions" not in html
            html_of(client.get("/llm_logs/prompts/greeting/versions?before=x"), 400)

    def test_version_page(self, client: FlaskClient, url: Url) -> None:
        make_greeting(versions=2)
        html = html_of(client.get(url("/prompts/greeting/versions/1")))
        assert "<h1>Version 1</h1>" in html
        assert 'Hello <span class="tag">{{name}}</span>!' in html
        assert "gpt-4.1-mini" in html
        assert "from=1" in html and "to=2" in html  # compare with current
        assert url("/prompts/greeting/versions/1/restore") in html
        current = html_of(client.get(url("/prompts/greeting/versions/2")))
        assert "/restore" not in current and "Compare with current" not in current

    def test_unknown_version(self, client: FlaskClient, url: Url) -> None:
        make_greeting()
        assert "has no version 9" in html_of(client.get(url("/prompts/greeting/versions/9")), 404)
        html_of(client.get(url("/prompts/greeting/versions/x")), 404)
        # Beyond the column's integer: a 404 on PostgreSQL too, not a database error.
        html_of(client.get(url("/prompts/greeting/versions/99999999999")), 404)
        html_of(client.get(url("/prompts/greeting/compare?from=99999999999")), 400)


class TestCompare:
    def test_default_is_previous_against_current(self, client: FlaskClient, url: Url) -> None:
        make_greeting(versions=3)
        html = html_of(client.get(url("/prompts/greeting/compare")))
        assert '<option value="2" selected>' in html and '<option value="3" selected>' in html
        assert "<del>2</del>" in html and "<ins>3</ins>" in html  # "Hi v2" -> "Hi v3"
        assert "<code>temperature</code>" in html

    def test_explicit_versions(self, client: FlaskClient, url: Url) -> None:
        make_greeting(versions=3)
        html = html_of(client.get(url("/prompts/greeting/compare?from=1&to=3")))
        assert "<del>&#34;gpt-4.1-mini&#34;</del>" in html
        assert "<ins>&#34;gpt-4.1&#34;</ins>" in html
        assert "unchanged" in html and "changed" in html

    def test_same_version(self, client: FlaskClient, url: Url) -> None:
        make_greeting(versions=2)
        html = html_of(client.get(url("/prompts/greeting/compare?from=2&to=2")))
        assert "same messages, model and parameters" in html

    def test_single_version_compares_with_itself(self, client: FlaskClient, url: Url) -> None:
        make_greeting(versions=1)
        assert "same messages" in html_of(client.get(url("/prompts/greeting/compare")))

    def test_errors(self, client: FlaskClient, url: Url) -> None:
        make_greeting(versions=2)
        html_of(client.get(url("/prompts/greeting/compare?from=1&to=7")), 404)
        html_of(client.get(url("/prompts/greeting/compare?from=one")), 400)
        Prompt.create(slug="empty", name="Empty")
        html_of(client.get(url("/prompts/empty/compare")), 404)


class TestRestoreAndDelete:
    def test_restore(self, client: FlaskClient, url: Url, token: Callable[[str], str]) -> None:
        prompt = make_greeting(versions=2)
        csrf = token(url("/prompts/greeting/edit"))
        response = client.post(
            url("/prompts/greeting/versions/1/restore"), data={"csrf_token": csrf}
        )
        assert response.status_code == 302
        assert response.headers["Location"].endswith(url("/prompts/greeting"))
        restored = current_version(Prompt.load("greeting", cache=False))
        assert restored.version_number == 3
        assert restored.messages == prompt.versions[0].messages
        assert restored.changelog == "Rolled back to version 1"
        html = html_of(client.get(url("/prompts/greeting")))
        assert "Restored version 1 as version 3." in flashes(html)

    def test_restore_unknown_version(
        self, client: FlaskClient, url: Url, token: Callable[[str], str]
    ) -> None:
        make_greeting()
        csrf = token(url("/prompts/greeting/edit"))
        response = client.post(
            url("/prompts/greeting/versions/5/restore"), data={"csrf_token": csrf}
        )
        html_of(response, 404)

    def test_delete_old_version(
        self, client: FlaskClient, url: Url, token: Callable[[str], str], app: Flask
    ) -> None:
        make_greeting(versions=3)
        csrf = token(url("/prompts/greeting/edit"))
        response = client.post(
            url("/prompts/greeting/versions/2/delete"), data={"csrf_token": csrf}
        )
        assert response.status_code == 302
        html = html_of(client.get(response.headers["Location"]))
        assert "Deleted version 2." in flashes(html)
        assert re.findall(r">v(\d+)</a>", html) == ["3", "1"]

    def test_current_version_is_not_deleted(
        self, client: FlaskClient, url: Url, token: Callable[[str], str]
    ) -> None:
        make_greeting(versions=2)
        csrf = token(url("/prompts/greeting/edit"))
        response = client.post(
            url("/prompts/greeting/versions/2/delete"), data={"csrf_token": csrf}
        )
        html = html_of(client.get(response.headers["Location"]))
        (message,) = flashes(html)
        assert message.startswith("Not deleted: version 2 is the current version")
        assert len(Prompt.load("greeting", cache=False).versions) == 2

    def test_delete_unknown_version(
        self, client: FlaskClient, url: Url, token: Callable[[str], str]
    ) -> None:
        make_greeting()
        csrf = token(url("/prompts/greeting/edit"))
        response = client.post(
            url("/prompts/greeting/versions/8/delete"), data={"csrf_token": csrf}
        )
        html_of(response, 404)

    def test_delete_prompt_after_confirmation(self, client: FlaskClient, url: Url) -> None:
        make_greeting(versions=2)
        html = html_of(client.get(url("/prompts/greeting")))
        assert f'href="{url("/prompts/greeting/delete")}"' in html
        html = html_of(client.get(url("/prompts/greeting/delete")))
        assert "Delete this prompt?" in html and "its\n      2 versions" in html
        Prompt.load("greeting", cache=False)  # the page alone deletes nothing
        response = client.post(
            url("/prompts/greeting/delete"), data={"csrf_token": csrf_token(html)}
        )
        assert response.status_code == 302
        assert response.headers["Location"].endswith(url("/prompts"))
        with pytest.raises(PromptNotFound):
            Prompt.load("greeting", cache=False)
        assert "Deleted prompt &#39;greeting&#39; and all its versions." in flashes(
            html_of(client.get(url("/prompts")))
        )
        html_of(
            client.post(url("/prompts/greeting/delete"), data={"csrf_token": csrf_token(html)}), 404
        )


class TestCsrf:
    """Every state-changing request is refused without the token; nothing changes."""

    @pytest.mark.parametrize(
        "path",
        [
            "/prompts/greeting/versions/1/restore",
            "/prompts/greeting/versions/1/delete",
        ],
    )
    def test_buttons(self, client: FlaskClient, url: Url, path: str) -> None:
        make_greeting(versions=2)
        for data in ({}, {"csrf_token": "forged"}):
            html = html_of(client.post(url(path), data=data), 400)
            assert "The form expired" in html
        assert len(Prompt.load("greeting", cache=False).versions) == 2

    def test_delete_prompt(self, client: FlaskClient, url: Url) -> None:
        make_greeting()
        response = client.post(url("/prompts/greeting/delete"))
        assert "The form expired" in html_of(response, 400)
        Prompt.load("greeting", cache=False)

    def test_get_is_not_allowed_for_buttons(self, client: FlaskClient, url: Url) -> None:
        make_greeting(versions=2)
        html_of(client.get(url("/prompts/greeting/versions/1/restore")), 405)


class TestEscaping:
    """Stored markup and triple Mustache show as text on every page and in the diff."""

    @pytest.fixture
    def hostile(self, app: Flask) -> Prompt:
        prompt = Prompt.create(
            slug="xss", name="<script>name()</script>", description=HOSTILE, tags=["<b>t</b>"]
        )
        prompt.update_content(messages=[{"role": "user", "content": "v1 " + HOSTILE}])
        prompt.update_content(
            messages=[{"role": "user", "content": "v2 " + HOSTILE}],
            model="<i>m</i>",
            model_params={"<k>": "<v>"},
            changelog="<script>log()</script>",
        )
        return prompt

    @pytest.mark.parametrize(
        "path",
        [
            "/prompts",
            "/prompts/xss",
            "/prompts/xss?preview=1&var-triple=%3Cscript%3Evar()%3C/script%3E",
            "/prompts/xss/edit",
            "/prompts/xss/versions",
            "/prompts/xss/versions/1",
            "/prompts/xss/versions/2",
            "/prompts/xss/compare?from=1&to=2",
            "/prompts/xss/delete",
        ],
    )
    def test_shows_as_text(self, client: FlaskClient, url: Url, hostile: Prompt, path: str) -> None:
        html = html_of(client.get(url(path)))
        for raw in ("<script>", "<img", "<b>t</b>", "<i>m</i>", "<k>", "<v>"):
            assert raw not in html
        assert "&lt;script&gt;" in html
        if path.startswith("/prompts/xss") and not path.endswith(("/delete", "/versions")):
            assert "{{{triple}}}" in html  # the stored content is on this page

    def test_preview_inserts_values_as_text(
        self, client: FlaskClient, url: Url, hostile: Prompt
    ) -> None:
        query = {"preview": "1", "var-triple": "<script>var()</script>"}
        html = html_of(client.get(url("/prompts/xss"), query_string=query))
        assert "v2 &lt;script&gt;window.pwned = 1&lt;/script&gt; &lt;script&gt;var()" in html


def test_rows_for_deleted_version_are_gone(
    app: Flask, client: FlaskClient, url: Url, token: Callable[[str], str]
) -> None:
    """Deleting a version through the page removes exactly that row."""
    make_greeting(versions=3)
    csrf = token(url("/prompts/greeting/edit"))
    client.post(url("/prompts/greeting/versions/1/delete"), data={"csrf_token": csrf})
    session = app.extensions["llm_logs"].session
    numbers = sorted(v.version_number for v in session.query(PromptVersion))
    assert numbers == [2, 3]
