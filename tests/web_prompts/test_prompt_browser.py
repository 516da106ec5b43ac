"""The prompt pages in a real browser: create, edit, preview, compare, restore, delete.

Uses the UI's browser and server fixtures (Debian's chromium, the app on a
loopback werkzeug server) and, with ``LLM_LOGS_SCREENSHOTS=1``, writes the
``prompt_*.png`` screenshots that docs/ui.rst shows (see tests/web/test_browser.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from flask_llm_logs import Prompt
from tests.helpers.browser import flash
from tests.helpers.browser import shoot
from tests.helpers.prompts import HOSTILE

pytestmark = pytest.mark.browser

CUSTOMER_MESSAGE = (
    "Customer {{customer.name}} wrote:\n{{message}}\n\n"
    "{{#urgent}}Answer within the hour.{{/urgent}}"
)
SYSTEM_MESSAGE_V2 = "You answer for {{company}}, briefly. Be {{tone}}."


def message_box(page: Any, index: int) -> Any:
    return page.locator(f"#message-{index}")


def test_create_edit_preview_compare_restore_delete(app: Flask, server: str, page: Any) -> None:
    Prompt.create(slug="ticket-triage", name="Ticket triage", tags=["support"]).update_content(
        messages=[{"role": "user", "content": "Classify: {{ticket}}"}], model="gpt-4.1-nano"
    )

    # Create a prompt with two messages; the second is added with the editor's button.
    page.goto(server + "/prompts")
    page.click("a:has-text('New prompt')")
    page.fill("input[name=slug]", "support-reply")
    page.fill("input[name=name]", "Support reply")
    page.fill("input[name=tags]", "support, email")
    page.fill("textarea[name=description]", "Drafts the first answer to a customer.")
    message_box(page, 0).locator("select").select_option("system")
    page.fill("textarea[name=messages-0-content]", "You answer for {{company}}. Be {{tone}}.")
    page.click("button:has-text('+ Add message')")
    assert page.locator(".message-editor").count() == 2
    assert page.input_value("textarea[name=messages-0-content]").startswith("You answer for")
    page.fill("textarea[name=messages-1-content]", CUSTOMER_MESSAGE)
    page.fill("input[name=model]", "gpt-4.1-mini")
    page.fill("input[name=temperature]", "0.3")
    page.fill("input[name=max_tokens]", "400")
    page.fill("textarea[name=default_variables]", '{"company": "Acme", "tone": "warm"}')
    page.fill("input[name=changelog]", "First draft")
    # A template that does not parse is refused next to its message; nothing typed is lost.
    page.fill("textarea[name=messages-1-content]", "Customer {{#urgent}} wrote")
    page.click("button:has-text('Create prompt')")
    errors = message_box(page, 1).locator(".field-errors")
    assert errors.inner_text().startswith("Line 1: section {{#urgent}} is never closed")
    assert page.input_value("input[name=name]") == "Support reply"
    shoot(page, "prompt_edit_error")
    page.fill("textarea[name=messages-1-content]", CUSTOMER_MESSAGE)
    page.click("button:has-text('Create prompt')")
    page.wait_for_url("**/prompts/support-reply")
    assert flash(page) == "Created prompt 'support-reply' with version 1."
    assert page.locator(".prompt-messages .message").count() == 2
    assert page.locator("pre.template .tag").first.inner_text() == "{{company}}"

    # Edit: reorder the messages (and back), reword the system message.
    page.click("a:has-text('Edit')")
    message_box(page, 1).locator("button[title='Move up']").click()
    assert page.input_value("textarea[name=messages-0-content]").startswith("Customer")
    message_box(page, 0).locator("button[title='Move down']").click()
    assert page.input_value("textarea[name=messages-0-content]").startswith("You answer")
    page.fill("textarea[name=messages-0-content]", SYSTEM_MESSAGE_V2)
    page.fill("input[name=temperature]", "0.2")
    page.fill("input[name=changelog]", "Shorter answers")
    shoot(page, "prompt_edit")
    page.click(".save-bar button:has-text('Save')")
    page.wait_for_url("**/prompts/support-reply")
    assert flash(page) == "Saved version 2."

    # A metadata-only save makes no version.
    page.click("a:has-text('Edit')")
    page.fill("input[name=tags]", "support, email, customers")
    page.press("input[name=tags]", "Enter")  # Enter saves, it does not press an editor button
    page.wait_for_url("**/prompts/support-reply")
    assert flash(page) == "Saved name, description and tags."

    # Preview with variables.
    page.fill("textarea[name='var-customer.name']", "Ada")
    page.fill("textarea[name=var-message]", "My <b>invoice</b> is wrong.")
    page.fill("textarea[name=var-urgent]", "yes")
    page.click("button:has-text('Render')")
    rendered = page.locator(".rendered-preview")
    rendered.wait_for()
    text = rendered.inner_text()
    assert "Customer Ada wrote:\nMy <b>invoice</b> is wrong." in text
    assert "Answer within the hour." in text
    assert "You answer for Acme, briefly. Be warm." in text  # default variables
    assert page.locator(".rendered-preview b").count() == 0
    shoot(page, "prompt_show")

    # Compare the two versions from the history.
    page.click("a:has-text('History')")
    page.check("input[name=from][value='1']")
    page.check("input[name=to][value='2']")
    shoot(page, "prompt_versions")
    page.click("button:has-text('Compare selected versions')")
    page.wait_for_url("**/compare?*")
    assert page.locator("select[name=from]").input_value() == "1"
    assert page.locator("select[name=to]").input_value() == "2"
    statuses = page.locator(".message-diff summary .badge").all_inner_texts()
    assert statuses == ["changed", "unchanged"]
    assert page.locator("table.diff .diff-text.added ins").all_inner_texts() == [", briefly"]
    assert "0.2" in page.locator("table.field-changes").inner_text()
    shoot(page, "prompt_compare")

    # Restore version 1: it becomes version 3.
    page.click("a:has-text('History')")
    page.locator("tr:has(a:text-is('v1')) button:has-text('Restore')").click()
    page.wait_for_url("**/prompts/support-reply")
    assert flash(page) == "Restored version 1 as version 3."
    assert page.locator("h1 .badge").inner_text() == "v3"

    # Delete old version 2 (after the confirmation dialog).
    page.click("a:has-text('History')")
    page.locator("tr:has(a:text-is('v2')) button:has-text('Delete')").click()
    page.wait_for_url("**/versions")
    assert flash(page) == "Deleted version 2."
    assert page.locator("td.name a").all_inner_texts() == ["v3", "v1"]
    assert page.dialogs == ["Delete version 2 of support-reply? This cannot be undone."]

    # The list, filtered by tag.
    page.goto(server + "/prompts?tag=support")
    assert page.locator("td.name a").all_inner_texts() == ["Support reply", "Ticket triage"]
    shoot(page, "prompt_list")

    # Delete a prompt, after its confirmation page.
    page.goto(server + "/prompts/ticket-triage")
    page.click("a.button:has-text('Delete')")
    assert page.locator("h1").inner_text() == "Delete this prompt?"
    page.click("button:has-text('Delete prompt and its versions')")
    page.wait_for_url("**/prompts")
    assert flash(page) == "Deleted prompt 'ticket-triage' and all its versions."
    assert page.errors == []


def test_hostile_prompt_content_stays_text(app: Flask, server: str, page: Any) -> None:
    prompt = Prompt.create(slug="xss", name="<script>window.pwned = 1</script>")
    prompt.update_content(messages=[{"role": "user", "content": "v1 " + HOSTILE}])
    prompt.update_content(
        messages=[{"role": "user", "content": "v2 " + HOSTILE + " {{{more}}}"}],
        changelog='<img src=x onerror="window.pwned = 2">',
    )
    for path in (
        "/prompts",
        "/prompts/xss?preview=1&var-triple=%3Cimg%20src%3Dx%20onerror%3Dalert(3)%3E",
        "/prompts/xss/edit",
        "/prompts/xss/versions",
        "/prompts/xss/versions/1",
        "/prompts/xss/compare?from=1&to=2",
    ):
        page.goto(server + path)
        assert page.evaluate("window.pwned") is None, path
        assert page.locator("main img, main script").count() == 0, path
    body = page.locator("main").inner_text()
    assert "<script>window.pwned = 1</script> {{{triple}}}" in body
    assert page.dialogs == [] and page.errors == []


def test_dark_and_phone(app: Flask, server: str, browser: Any) -> None:
    prompt = Prompt.create(slug="support-reply", name="Support reply", tags=["support"])
    prompt.update_content(
        messages=[
            {"role": "system", "content": "You answer for {{company}}. Be {{tone}}."},
            {"role": "user", "content": CUSTOMER_MESSAGE},
        ],
        model="gpt-4.1-mini",
        model_params={"temperature": 0.3},
    )
    prompt.update_content(
        messages=[
            {"role": "system", "content": SYSTEM_MESSAGE_V2},
            {"role": "user", "content": CUSTOMER_MESSAGE},
        ],
        model_params={"temperature": 0.2},
        changelog="Shorter answers",
    )
    dark = browser.new_context(color_scheme="dark", viewport={"width": 1360, "height": 900})
    page = dark.new_page()
    page.goto(f"{server}/prompts/support-reply/compare")
    added = page.locator("table.diff ins").first
    assert added.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(47, 107, 63)"
    shoot(page, "prompt_compare_dark")
    dark.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    for path in ("", "/edit", "/versions", "/compare", "?preview=1&var-company=Acme"):
        page.goto(f"{server}/prompts/support-reply{path}")
        # Wide tables scroll in their box; the page itself never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    page.goto(f"{server}/prompts/support-reply/edit")
    shoot(page, "prompt_edit_phone")
    phone.close()
