"""What the SDKs Stainless generates (``openai``, ``anthropic``) share: how a
``with_streaming_response`` call announces itself.

Both SDKs mark the request of ``with_raw_response`` and
``with_streaming_response`` with the same header; a streaming response's
body is the caller's to read, so such a call is left untraced.
"""

from __future__ import annotations

from typing import Any

from .calls import LlmCall
from .calls import Operation

#: The header ``with_raw_response`` and ``with_streaming_response`` send.
RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"


def start_call(
    resource: Any, operation: Operation, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> LlmCall | None:
    """The call's span, started; ``None`` for ``with_streaming_response``.

    A ``Hooks.start`` as it is (``openai``'s and ``anthropic``'s): the
    integrations bind it, rather than call it from a method of their own.
    """
    headers = kwargs.get("extra_headers")
    if headers and headers.get(RAW_RESPONSE_HEADER) == "stream":
        return None
    return LlmCall.start(resource, operation, kwargs)
