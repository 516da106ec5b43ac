"""The fake's token rule, and text extraction from request messages.

Real tokenizers are big, slow and model-specific; tests need numbers that are
cheap, deterministic and easy to predict by hand. So every piece of text
counts ``max(1, len(text) // 4)`` tokens, about the English average.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Model names that report reasoning tokens (o1, o3, o4-mini, gpt-5, ...).
REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")


def count_tokens(text: str) -> int:
    """Tokens of ``text`` for the fake: a quarter of its length, at least 1."""
    return max(1, len(text) // 4)


def reasoning_tokens(model: str, visible_tokens: int) -> int:
    """Reasoning models "think" as many tokens as they answer; others none.

    Reasoning tokens are part of the output tokens, as with OpenAI: a
    reasoning model reports ``output_tokens = 2 * visible tokens``.
    """
    return visible_tokens if REASONING_MODEL.match(model or "") else 0


def content_text(content: Any) -> str:
    """The text of a message ``content``: a string, or a list of typed parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                text = part.get("text", part.get("refusal"))
                if isinstance(text, str):
                    texts.append(text)
        return "".join(texts)
    return str(content)


def chat_message_text(message: Any) -> str:
    """What a chat message contributes to the prompt: content and tool-call arguments."""
    if not isinstance(message, dict):
        return str(message)
    text = content_text(message.get("content"))
    for call in message.get("tool_calls") or ():
        function = (call.get("function") if isinstance(call, dict) else None) or {}
        text += str(function.get("name", "")) + str(function.get("arguments", ""))
    return text


def input_item_text(item: Any) -> str:
    """What a Responses API input item contributes to the prompt."""
    if isinstance(item, str):
        return item
    if not isinstance(item, dict):
        return ""
    kind = item.get("type")
    if kind == "function_call":
        return str(item.get("name", "")) + str(item.get("arguments", ""))
    if kind == "function_call_output":
        output = item.get("output")
        return output if isinstance(output, str) else content_text(output)
    if "content" in item:
        return content_text(item.get("content"))
    return json.dumps(item)
