"""Payload rendering and formatting: the shapes the SDKs produce, sanitized."""

from __future__ import annotations

import pytest

from flask_llm_logs.web.blueprint import Format
from flask_llm_logs.web.rendering import Message
from flask_llm_logs.web.rendering import markdown
from flask_llm_logs.web.rendering import payload_html
from flask_llm_logs.web.rendering import render_payload


def messages_of(value: object) -> list[Message]:
    """The messages ``value`` renders as, which the test expects it to have."""
    messages = render_payload(value).messages
    assert messages is not None, "rendered as JSON, not as messages"
    return messages


def roles(value: object) -> list[str]:
    return [m.role for m in messages_of(value)]


def test_chat_messages_list_and_single_message() -> None:
    assert roles([{"role": "system", "content": "a"}, {"role": "user", "content": "b"}]) == [
        "system",
        "user",
    ]
    assert roles({"role": "assistant", "content": "c"}) == ["assistant"]


def test_request_with_parameters() -> None:
    rendered = render_payload({"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert rendered.messages is not None and rendered.extra is not None
    assert [m.role for m in rendered.messages] == ["user"]
    assert '"model": "m"' in rendered.extra


def test_chat_completion_choices_with_tool_calls() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    [message] = messages_of(
        {"id": "x", "choices": [{"message": {"role": "assistant", "tool_calls": [call]}}]}
    )
    assert message.tool_calls[0].name == "f"
    assert message.tool_calls[0].arguments == '{\n  "a": 1\n}'


def test_responses_api_items() -> None:
    messages = messages_of(
        {
            "output": [
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "hi"}],
                },
                {"type": "function_call", "name": "g", "arguments": "not json", "call_id": "k"},
                {"type": "function_call_output", "call_id": "k", "output": "42"},
            ]
        }
    )
    assert [m.role for m in messages] == ["assistant", "assistant", "tool"]
    assert messages[0].parts[0].text == "hi"
    assert messages[1].tool_calls[0].arguments == "not json"
    assert messages[2].tool_call_id == "k"


def test_other_values_are_json_and_none_is_empty() -> None:
    assert render_payload({"a": [1, 2]}).json == '{\n  "a": [\n    1,\n    2\n  ]\n}'
    assert render_payload(None).empty
    assert messages_of("plain")[0].parts[0].text == "plain"


def test_truncation() -> None:
    rendered = render_payload("x" * 100, limit=50)
    assert rendered.json is not None
    assert rendered.truncated and rendered.size == 102 and len(rendered.json) == 50
    html = payload_html(rendered, "/full?a=1&b=2")
    assert 'href="/full?a=1&amp;b=2"' in html and "102 characters" in html


@pytest.mark.parametrize(
    ("text", "forbidden"),
    [
        ("<script>alert(1)</script>", "<script"),
        ('<img src=x onerror="alert(1)">', "<img"),
        ("[x](javascript:alert(1))", 'href="javascript'),
        ("[x](JaVaScRiPt:alert(1))", "href"),
        ("![i](https://tracker.example/p.png)", "<img"),
    ],
)
def test_markdown_is_sanitized(text: str, forbidden: str) -> None:
    assert forbidden not in markdown(text)


def test_markdown_keeps_formatting_and_safe_links() -> None:
    html = markdown("**bold** and [docs](https://example.com)")
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.com"' in html and 'rel="noopener noreferrer nofollow"' in html


def test_payload_html_escapes_everything() -> None:
    value = [{"role": "<r>", "name": "<n>", "tool_call_id": "<t>", "content": [{"x": "<j>"}]}]
    html = payload_html(render_payload(value))
    assert "<r>" not in html and "<n>" not in html and "<t>" not in html and "<j>" not in html
    assert "&lt;r&gt;" in html


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "\u2013"),
        (0.0004, "$0.0004"),
        (0.00168, "$0.00168"),
        (0.000012, "$0.000012"),
        (0.0123, "$0.0123"),
        (1234.5, "$1,234.50"),
    ],
)
def test_cost_format(value: float | None, text: str) -> None:
    assert Format.cost(value) == text


def test_duration_format() -> None:
    assert [Format.duration(v) for v in (None, 12.4, 1500, 90_000)] == [
        "\u2013",
        "12 ms",
        "1.50 s",
        "1.5 min",
    ]
