"""The browser tests' fixtures: Debian's chromium driven by Playwright, the
test app on a real (loopback, threaded werkzeug) server, and a page that
records dialogs and console errors.

A plugin of the suite (``pytest_plugins`` in tests/conftest.py), shared by
tests/web, tests/web_prompts and tests/web_batches. The screenshots of
docs/ui.rst are written only with ``LLM_LOGS_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import pathlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = pathlib.Path(__file__).parents[2] / "docs" / "_static" / "screenshots"
#: Set to ``1`` to rewrite the screenshots of the docs.
SCREENSHOTS_VARIABLE = "LLM_LOGS_SCREENSHOTS"
#: Stored content that ends a quoted attribute and adds two (Jinja's
#: ``tojson`` keeps ``"`` as it is): for every page that shows stored JSON.
ATTRIBUTE_INJECTION = '" autofocus onfocus=alert(1) x'


@pytest.fixture
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is not installed"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; it is required in CI")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    """The test app on a real HTTP server; yields its base URL."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}{app.config['LLM_LOGS_URL_PREFIX']}"
    http.shutdown()
    thread.join(5)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that accepts confirmation dialogs, recording them and console errors."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.errors = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.accept()))
    page.on("console", lambda message: record_console(page, message))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def record_console(page: Any, message: Any) -> None:
    if message.type == "error":
        page.errors.append(message.text)


def flash(page: Any) -> str:
    return str(page.locator(".flash").inner_text())


def shoot(page: Any, name: str, element: Any = None) -> None:
    """Save the whole ``page`` (or one ``element`` of it) as ``name.png`` for the docs.

    Only with ``LLM_LOGS_SCREENSHOTS=1``: the images are committed, and
    rewriting them on every run would leave a changed tree behind.
    """
    if os.environ.get(SCREENSHOTS_VARIABLE) != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = str(SCREENSHOTS / f"{name}.png")
    if element is None:
        page.screenshot(path=path, full_page=True)
    else:
        element.screenshot(path=path)


def assert_no_injected_attributes(page: Any) -> None:
    """No element got an attribute from stored content (the CSP would only stop it running)."""
    assert page.locator("[onfocus], [autofocus]").count() == 0
