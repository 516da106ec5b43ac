"""Fixtures of the prompt page tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.helpers.prompts import NEW
from tests.helpers.web import Url


@pytest.fixture
def post_new(
    client: FlaskClient, url: Url, token: Callable[[str], str]
) -> Callable[..., TestResponse]:
    """``post_new(**changes)``: submit the new-prompt form, ``NEW`` with ``changes``."""
    csrf = token(url("/prompts/new"))

    def post(**changes: Any) -> TestResponse:
        data = {**NEW, "csrf_token": csrf, **changes}
        return client.post(
            url("/prompts/new"), data={k: v for k, v in data.items() if v is not None}
        )

    return post
