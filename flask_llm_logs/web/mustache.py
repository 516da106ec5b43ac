"""Show a Mustache template with its tags set apart from the text around them.

Returns plain ``(text, is_tag)`` pieces: the template escapes both, so a
``{{{triple}}}`` tag or a ``<script>`` in the text shows exactly as stored.
"""

from __future__ import annotations

import dataclasses
import re

#: ``{{{name}}}`` first, so its closing brace is not left behind as text.
_TAG = re.compile(r"\{\{\{.*?\}\}\}|\{\{.*?\}\}", re.DOTALL)


@dataclasses.dataclass(frozen=True)
class Piece:
    text: str
    tag: bool = False


def pieces(template: str) -> list[Piece]:
    """``template`` cut into text and Mustache tags, in order."""
    found: list[Piece] = []
    position = 0
    for match in _TAG.finditer(template):
        if match.start() > position:
            found.append(Piece(template[position : match.start()]))
        found.append(Piece(match.group(), tag=True))
        position = match.end()
    if position < len(template):
        found.append(Piece(template[position:]))
    return found
