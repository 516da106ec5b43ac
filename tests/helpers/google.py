"""Reading google-genai responses, whose fields the SDK types as optional."""

from __future__ import annotations

from google.genai import types


def usage_of(
    response: types.GenerateContentResponse,
) -> types.GenerateContentResponseUsageMetadata:
    """The response's token counts: the fake Gemini API always sends them, so a
    missing one fails the test here instead of as an ``AttributeError`` later."""
    assert response.usage_metadata is not None, "the response has no usage_metadata"
    return response.usage_metadata


def text_of(response: types.GenerateContentResponse) -> str:
    """The response's text, which a reply without text parts leaves ``None``."""
    assert response.text is not None, "the response has no text"
    return response.text
