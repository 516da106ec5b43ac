"""Turn what a span stored into something a person can read, safely.

Span inputs and outputs are whatever the SDK sent and received: chat
messages, Responses API items, completions, tool calls, plain strings or
arbitrary JSON. Everything here returns plain data or :class:`Markup` that
was produced by a sanitizer; templates escape everything else. Markdown is
parsed with raw HTML disabled and the result still goes through ``nh3``, so a
model that answers with ``<script>`` or a ``javascript:`` link shows text.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

#: Payloads larger than this (in characters of JSON) are cut in the span
#: tree; the span page shows them whole.
TREE_CONTENT_LIMIT = 20_000

#: Characters of text a payload renders as Markdown; longer text is shown
#: as plain escaped text. Parsing and sanitizing cost about 3 µs a character:
#: a 9 MB reply took 27 s and 1.2 GB for one page. Counted over the whole
#: payload, so a thousand long messages cost no more than one.
RICH_TEXT_LIMIT = 200_000

#: Images in model output become links: loading them would tell a third
#: party who reads the logs and when (the CSP would block them anyway).
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")
_URL_SCHEMES = {"http", "https", "mailto"}
_TAGS = nh3.ALLOWED_TAGS - {"img"}
#: Characters and line starts that can change how Markdown renders; text
#: without any of them is shown as is, skipping the (slow) parser.
_MARKDOWN_SYNTAX = re.compile(r"[*_`#\[\]<>|~\\!]|^\s*(?:[-+]|\d+[.)])\s|^ {4}|^=+$", re.M)


def markdown(text: str) -> Markup:
    """``text`` rendered as CommonMark and sanitized."""
    html = nh3.clean(
        _markdown.render(text),
        tags=_TAGS,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(html)


def json_text(value: Any) -> str:
    """One-line JSON of a value shown in a page, as plain text the template escapes.

    Templates use this, never Jinja's ``tojson``: that filter is made for
    ``<script>`` blocks and returns markup that keeps ``"`` as it is, so in a
    quoted attribute a stored key such as ``" onfocus=...`` would add
    attributes.
    """
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def pretty_json(value: Any) -> str:
    """Indented JSON for a ``<pre>``; never raises on odd values."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@dataclasses.dataclass(frozen=True, slots=True)
class Part:
    """One piece of a message's content; ``kind`` is markdown, text or json.

    ``unformatted``: text that looked like Markdown but was past the
    payload's :data:`RICH_TEXT_LIMIT`, so it is shown as plain text.
    """

    kind: str
    text: str = ""
    html: Markup | None = None
    unformatted: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    id: str | None
    arguments: str


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    role: str
    parts: list[Part]
    tool_calls: list[ToolCall]
    name: str | None = None
    tool_call_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Rendered:
    """A payload ready for a template: messages, or JSON, or a cut preview."""

    messages: list[Message] | None = None
    #: Request parameters that came with the messages (model, temperature...).
    extra: str | None = None
    json: str | None = None
    truncated: bool = False
    size: int = 0

    @property
    def empty(self) -> bool:
        return self.messages is None and self.json is None


class _Renderer:
    def __init__(self) -> None:
        #: Characters this payload may still render as Markdown.
        self.rich_budget = RICH_TEXT_LIMIT

    def text_part(self, text: str) -> Part:
        if len(text) > self.rich_budget:
            return Part("text", text=text, unformatted=True)
        if _MARKDOWN_SYNTAX.search(text):
            self.rich_budget -= len(text)
            return Part("markdown", html=markdown(text))
        return Part("text", text=text)

    def parts(self, content: Any) -> list[Part]:
        if content is None:
            return []
        if isinstance(content, str):
            return [self.text_part(content)]
        if isinstance(content, list):
            parts = []
            for item in content:
                if isinstance(item, str):
                    parts.append(self.text_part(item))
                elif isinstance(item, dict) and isinstance(item.get("text"), str):
                    parts.append(self.text_part(item["text"]))
                elif isinstance(item, dict) and isinstance(item.get("refusal"), str):
                    parts.append(Part("text", text=f"Refusal: {item['refusal']}"))
                else:
                    parts.append(Part("json", text=pretty_json(item)))
            return parts
        return [Part("json", text=pretty_json(content))]

    def tool_calls(self, calls: Any) -> list[ToolCall]:
        if not isinstance(calls, list):
            return []
        result = []
        for call in calls:
            if not isinstance(call, dict):
                continue
            function = call["function"] if isinstance(call.get("function"), dict) else call
            result.append(
                ToolCall(
                    name=str(function.get("name") or "?"),
                    id=call.get("id") or call.get("call_id"),
                    arguments=_arguments(function.get("arguments")),
                )
            )
        return result

    def message(self, item: dict[str, Any]) -> Message:
        kind = item.get("type")
        if kind == "function_call":  # Responses API
            return Message("assistant", [], self.tool_calls([item]))
        if kind == "function_call_output":
            return Message(
                "tool", self.parts(item.get("output")), [], tool_call_id=item.get("call_id")
            )
        return Message(
            role=str(item.get("role") or kind or "?"),
            parts=self.parts(item.get("content")),
            tool_calls=self.tool_calls(item.get("tool_calls")),
            name=item.get("name"),
            tool_call_id=item.get("tool_call_id"),
        )

    def messages(self, value: Any) -> tuple[list[dict[str, Any]] | None, dict[str, Any]]:
        """The message-like items in ``value`` and what else came with them."""
        if isinstance(value, list) and value and all(_is_message(v) for v in value):
            return value, {}
        if isinstance(value, dict):
            if _is_message(value):
                return [value], {}
            for key in ("messages", "input", "output"):
                items = value.get(key)
                if isinstance(items, list) and items and all(_is_message(v) for v in items):
                    return items, {k: v for k, v in value.items() if k != key}
            choices = value.get("choices")
            if isinstance(choices, list) and choices:
                found = [c["message"] for c in choices if isinstance(c, dict) and "message" in c]
                if found and all(_is_message(m) for m in found):
                    return found, {k: v for k, v in value.items() if k != "choices"}
        return None, {}


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and (
        "role" in value or value.get("type") in {"message", "function_call", "function_call_output"}
    )


def _arguments(arguments: Any) -> str:
    """Tool-call arguments arrive as a JSON string; show them indented."""
    if isinstance(arguments, str):
        try:
            return pretty_json(json.loads(arguments))
        except ValueError:
            return arguments
    return pretty_json(arguments)


def render_payload(value: Any, *, limit: int | None = None) -> Rendered:
    """Prepare a span's input or output for display.

    :param limit: cut payloads whose JSON is longer than this many characters
        (the preview is the start of the JSON text).
    """
    if value is None:
        return Rendered()
    compact = json.dumps(value, ensure_ascii=False, default=str)
    if limit is not None and len(compact) > limit:
        return Rendered(json=compact[:limit], truncated=True, size=len(compact))
    renderer = _Renderer()
    if isinstance(value, str):
        return Rendered(messages=[Message("text", renderer.parts(value), [])], size=len(compact))
    items, extra = renderer.messages(value)
    if items is None:
        return Rendered(json=pretty_json(value), size=len(compact))
    return Rendered(
        messages=[renderer.message(item) for item in items],
        extra=pretty_json(extra) if extra else None,
        size=len(compact),
    )


def _escape(value: str) -> str:
    # The stdlib's escape returns plain str; markupsafe's makes a Markup
    # object per call, which is most of a 1,000-span page's rendering time.
    return html.escape(value, quote=True)


def _message_html(message: Message, raw_url: str | None) -> str:
    role = _escape(message.role)
    head = [f'<li class="message role-{role.lower()}"><div class="role">{role}']
    if message.name:
        head.append(f" · {_escape(message.name)}")
    if message.tool_call_id:
        head.append(f" · <code>{_escape(message.tool_call_id)}</code>")
    head.append("</div>")
    for part in message.parts:
        if part.kind == "markdown":
            head.append(f'<div class="markdown">{part.html}</div>')
        elif part.kind == "text":
            if part.unformatted:
                head.append(_unformatted_note(len(part.text), raw_url))
            head.append(f'<div class="text">{_escape(part.text)}</div>')
        else:
            head.append(f'<pre class="json">{_escape(part.text)}</pre>')
    for call in message.tool_calls:
        call_id = f" <code>{_escape(call.id)}</code>" if call.id else ""
        head.append(
            f'<div class="tool-call"><div class="tool-name">calls <strong>{_escape(call.name)}'
            f"</strong>{call_id}</div>"
            f'<pre class="json">{_escape(call.arguments)}</pre></div>'
        )
    head.append("</li>")
    return "".join(head)


def _unformatted_note(size: int, raw_url: str | None) -> str:
    link = f' <a href="{_escape(raw_url)}" download>Download the raw JSON</a>.' if raw_url else ""
    return (
        f'<p class="muted unformatted">Shown as plain text: {size:,} characters are more'
        f" than the page formats ({RICH_TEXT_LIMIT:,}).{link}</p>"
    )


def payload_html(
    rendered: Rendered, full_url: str | None = None, *, raw_url: str | None = None
) -> Markup:
    """The HTML of a rendered payload: messages per role, tool calls, JSON or a preview.

    Built in Python rather than a template macro because a trace page calls
    it twice per span, and every value goes through ``escape`` here (or
    came out of the sanitizer). Restyle it with CSS; the classes are stable.
    ``full_url`` shows a cut payload whole; ``raw_url`` downloads the span.
    """
    if rendered.truncated:
        link = f' <a href="{_escape(full_url)}">Show everything</a>' if full_url else ""
        return Markup(
            f'<p class="truncated">Cut: {rendered.size:,} characters in all.{link}</p>'
            f'<pre class="json">{_escape(rendered.json or "")}\u2026</pre>'
        )
    if rendered.messages is not None:
        items = "".join(_message_html(message, raw_url) for message in rendered.messages)
        result = f'<ol class="messages">{items}</ol>'
        if rendered.extra:
            result += (
                '<details class="params"><summary>Parameters</summary>'
                f'<pre class="json">{_escape(rendered.extra)}</pre></details>'
            )
        return Markup(result)
    if rendered.json is not None:
        return Markup(f'<pre class="json">{_escape(rendered.json or "")}</pre>')
    return Markup('<p class="muted">Nothing recorded.</p>')


def last_user_message(value: Any) -> Rendered:
    """The last message a user wrote in an LLM call's input, ready for :func:`payload_html`.

    A session page shows the conversation, not every call's whole history:
    each call's input repeats the messages before it. A plain string input
    (the Responses API's ``input="..."``) is the user's message itself.
    """
    renderer = _Renderer()
    if isinstance(value, str):
        return Rendered(messages=[Message("user", renderer.parts(value), [])], size=len(value))
    items, _ = renderer.messages(value)
    for item in reversed(items or []):
        if item.get("role") == "user":
            return Rendered(messages=[renderer.message(item)])
    return Rendered()
