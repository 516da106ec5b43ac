"""Fixtures of the prompt page tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers.prompts import NEW


@pytest.fixture
def post_new(
    client: FlaskClient, url: Callable[[str], str], token: Callable[[str], str]
) -> Callable[..., Any]:
    """``post_new(**changes)``: submit the new-prompt form, ``NEW`` with ``changes``."""
    csrf = token(url("/prompts/new"))

    def post(**changes: Any) -> Any:
        data = {**NEW, "csrf_token": csrf, **changes}
        return client.post(
            url("/prompts/new"), data={k: v for k, v in data.items() if v is not None}
        )

    return post
