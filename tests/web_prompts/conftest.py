"""Fixtures of the prompt page tests: the UI's own fixtures, a CSRF helper, sample prompts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

# The UI's fixtures (test client, URL under the prefix, query counter, rows).
from web.conftest import client  # noqa: F401
from web.conftest import count_queries  # noqa: F401
from web.conftest import store  # noqa: F401
from web.conftest import url  # noqa: F401

from flask_llm_logs import Prompt

#: Stored content that must show as text everywhere: markup and triple Mustache.
HOSTILE = "<script>window.pwned = 1</script> {{{triple}}} <img src=x onerror=alert(1)>"


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def token(client: FlaskClient) -> Callable[[str], str]:  # noqa: F811
    """``token(page_url)``: the CSRF token of a page, as a browser would have it."""

    def get(page: str) -> str:
        response = client.get(page)
        assert response.status_code == 200, response.status_code
        return csrf_token(response.get_data(as_text=True))

    return get


def make_greeting(versions: int = 1, **create: Any) -> Prompt:
    """A prompt ``greeting`` with ``versions`` versions: v1 says "Hello", later ones "Hi vN"."""
    create.setdefault("slug", "greeting")
    create.setdefault("name", "Greeting")
    prompt = Prompt.create(**create)
    for number in range(1, versions + 1):
        words = "Hello" if number == 1 else f"Hi v{number}"
        prompt.update_content(
            messages=[
                {"role": "system", "content": "You are {{tone}}."},
                {"role": "user", "content": f"{words} {{{{name}}}}!"},
            ],
            model="gpt-4.1-mini" if number == 1 else "gpt-4.1",
            model_params={"temperature": 0.2 * number},
            default_variables={"tone": "kind"},
            changelog=f"change {number}",
        )
    return prompt
