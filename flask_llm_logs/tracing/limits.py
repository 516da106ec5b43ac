"""Cutting a span's input or output to ``LLM_LOGS_MAX_CONTENT_BYTES``.

Encoding a 10 MB payload as JSON is one call into C that holds the
interpreter lock all along: host threads waited up to 190 ms for it while
the writer stored such a span. So the writer cuts content first, walking it
in Python (the interpreter can switch threads between any two steps), and
each step in C is bounded: a string is sliced to what is left of the budget
before it is measured, never encoded whole. The walk stops where the budget
does, so a 10 MB structure is never walked to its end either.

This runs on the writer's thread, never on the host's LLM call. Sizes are
those of the text of strings in UTF-8 plus the keys of mappings: what the
stored JSON mostly is; numbers and punctuation are not counted.
"""

from __future__ import annotations

from typing import Any

#: Ends a string that was cut, and stands for the items or keys left out.
MARKER = "… [cut: LLM_LOGS_MAX_CONTENT_BYTES]"
#: The key standing for the keys left out of a mapping that was cut.
CUT_KEY = "llm_logs.cut"
#: Deeper structures are left as they are (the encoder cuts them, see
#: ``serialize.MAX_DEPTH``); this also ends cycles.
MAX_DEPTH = 32


def _utf8_size(text: str) -> int:
    # ``isascii`` is O(1) in CPython (a flag of the string object).
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class _Budget:
    """What a field may still hold, and whether anything was left out."""

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.cut = False

    def fits(self, value: Any, depth: int = 0) -> bool:
        """Whether ``value`` fits, spending the budget; stops at the first excess."""
        if isinstance(value, str):
            # Longer than the budget in characters: too long in bytes too.
            self.left -= len(value) if len(value) > self.left else _utf8_size(value)
        elif depth < MAX_DEPTH and isinstance(value, dict):
            for key, item in value.items():
                self.left -= len(key) if isinstance(key, str) else 8
                if self.left < 0 or not self.fits(item, depth + 1):
                    return False
        elif depth < MAX_DEPTH and isinstance(value, (list, tuple)):
            for item in value:
                if not self.fits(item, depth + 1):
                    return False
        return self.left >= 0

    def keep(self, value: Any, depth: int = 0) -> Any:
        """``value`` cut to the budget: copies of what was cut, the rest as it is."""
        if isinstance(value, str):
            return self._text(value)
        if depth < MAX_DEPTH and isinstance(value, dict):
            kept: dict[Any, Any] = {}
            for key, item in value.items():
                if self.left <= 0:
                    self.cut = True
                    kept[CUT_KEY] = f"{len(value) - len(kept)} more keys {MARKER}"
                    break
                self.left -= len(key) if isinstance(key, str) else 8
                kept[key] = self.keep(item, depth + 1)
            return kept
        if depth < MAX_DEPTH and isinstance(value, (list, tuple)):
            items: list[Any] = []
            for item in value:
                if self.left <= 0:
                    self.cut = True
                    items.append(f"{len(value) - len(items)} more items {MARKER}")
                    break
                items.append(self.keep(item, depth + 1))
            return items
        return value

    def _text(self, text: str) -> str:
        left = max(self.left, 0)
        # Sliced before it is measured: at most ``left`` characters are encoded.
        kept = text[:left]
        size = _utf8_size(kept)
        while size > left:  # multi-byte characters: shorten in proportion
            kept = kept[: len(kept) * left // size]
            size = _utf8_size(kept)
        self.left -= size
        if len(kept) == len(text):
            return text
        self.cut = True
        return kept + MARKER


def cut_content(value: Any, limit: int) -> tuple[Any, bool]:
    """``value`` within ``limit`` bytes (see the module docstring); whether it was cut.

    Content that fits is returned as it is: one walk, no copy.
    """
    if value is None or _Budget(limit).fits(value):
        return value, False
    budget = _Budget(limit)
    kept = budget.keep(value)
    return kept, budget.cut
