"""Fixtures of the batch page tests: the UI's fixtures and the CSRF helper."""

from __future__ import annotations

# The UI's fixtures (test client, URL under the prefix, query counter) and the
# CSRF helper of the prompt pages.
from web.conftest import client  # noqa: F401
from web.conftest import count_queries  # noqa: F401
from web.conftest import store  # noqa: F401
from web.conftest import url  # noqa: F401
from web_prompts.conftest import token  # noqa: F401
