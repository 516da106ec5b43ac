"""The anthropic SDK's requests and replies as the tests write and read them.

The SDK types its parameters as TypedDicts and a reply's content as a union of
a dozen block types, so the shared request and the narrowing of a reply to its
text live here once instead of in every test.
"""

from __future__ import annotations

from anthropic.types import Message
from anthropic.types import MessageParam
from anthropic.types import TextBlock
from anthropic.types.beta import BetaMessage
from anthropic.types.beta import BetaMessageParam
from anthropic.types.beta import BetaTextBlock

QUESTION = "What is the price of AAPL?"
MESSAGES: list[MessageParam] = [{"role": "user", "content": QUESTION}]
# The beta resource declares its own, structurally different, parameter types.
BETA_MESSAGES: list[BetaMessageParam] = [{"role": "user", "content": QUESTION}]


def text_of(message: Message | BetaMessage) -> str:
    """The text of a reply whose first block the test expects to be text."""
    block = message.content[0]
    assert isinstance(block, (TextBlock, BetaTextBlock)), f"not a text block: {block!r}"
    return block.text
