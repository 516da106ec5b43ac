"""Compare two prompt versions side by side: messages line by line, then model and parameters.

The result is plain data (text segments flagged as changed or not), never
HTML: the templates escape every piece, so a prompt holding ``<script>`` or
``{{{triple}}}`` Mustache shows exactly as written on both sides.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Protocol

#: Lines longer than this are compared as a whole, not character by character:
#: difflib is quadratic and a changed line that long is best read in full.
INLINE_DIFF_LIMIT = 2_000


class Content(Protocol):
    """What a version has that can change: :class:`flask_llm_logs.prompts.Version` has it."""

    @property
    def messages(self) -> Sequence[Mapping[str, Any]]: ...

    @property
    def model(self) -> str | None: ...

    @property
    def model_params(self) -> Mapping[str, Any]: ...

    @property
    def default_variables(self) -> Mapping[str, Any]: ...


@dataclasses.dataclass(frozen=True)
class Segment:
    text: str
    changed: bool = False


@dataclasses.dataclass(frozen=True)
class Cell:
    """One side of a row: a line (with its number) or nothing, when the other side added one.

    ``kind`` is ``equal``, ``removed`` (left), ``added`` (right) or ``empty``.
    """

    kind: str
    number: int | None = None
    segments: tuple[Segment, ...] = ()


EMPTY = Cell("empty")


@dataclasses.dataclass(frozen=True)
class Row:
    left: Cell
    right: Cell


@dataclasses.dataclass(frozen=True)
class MessageDiff:
    """One message in both versions; ``status`` is unchanged, changed, added or removed."""

    status: str
    old_role: str | None
    new_role: str | None
    rows: tuple[Row, ...]
    #: The message's position in the old and the new version (1-based).
    old_number: int | None = None
    new_number: int | None = None


@dataclasses.dataclass(frozen=True)
class FieldChange:
    """A model, parameter or default variable that differs; values are shown as JSON."""

    name: str
    status: str  # added, removed, changed
    old: str | None
    new: str | None


@dataclasses.dataclass(frozen=True)
class VersionDiff:
    messages: tuple[MessageDiff, ...]
    fields: tuple[FieldChange, ...]

    @property
    def changed(self) -> bool:
        return bool(self.fields) or any(m.status != "unchanged" for m in self.messages)


def compare(old: Content, new: Content) -> VersionDiff:
    """What changed from ``old`` to ``new``."""
    return VersionDiff(
        messages=tuple(_messages(old.messages, new.messages)),
        fields=tuple(_fields(old, new)),
    )


def _key(message: Mapping[str, Any]) -> tuple[str, str, str]:
    return (message.get("role", ""), message.get("name") or "", message.get("content", ""))


def _messages(
    old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> Iterator[MessageDiff]:
    """Align whole messages first, so inserting one does not make every later one "changed"."""
    matcher = difflib.SequenceMatcher(None, [_key(m) for m in old], [_key(m) for m in new], False)
    for _, i, j in _aligned(matcher):
        yield _message(
            old[i] if i is not None else None,
            new[j] if j is not None else None,
            i + 1 if i is not None else None,
            j + 1 if j is not None else None,
        )


def _aligned(matcher: difflib.SequenceMatcher[Any]) -> Iterator[tuple[str, int | None, int | None]]:
    """``(tag, old index, new index)`` in order: equal and replaced items pair up, others not."""
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        paired = min(i2 - i1, j2 - j1) if tag in ("equal", "replace") else 0
        for k in range(paired):
            yield tag, i1 + k, j1 + k
        for i in range(i1 + paired, i2):
            yield "delete", i, None
        for j in range(j1 + paired, j2):
            yield "insert", None, j


def _message(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    old_number: int | None,
    new_number: int | None,
) -> MessageDiff:
    if new is None:
        assert old is not None
        status = "removed"
    elif old is None:
        status = "added"
    else:
        status = "unchanged" if _key(old) == _key(new) else "changed"
    return MessageDiff(
        status=status,
        old_role=_role(old),
        new_role=_role(new),
        rows=tuple(
            text_rows(
                old.get("content", "") if old is not None else None,
                new.get("content", "") if new is not None else None,
            )
        ),
        old_number=old_number,
        new_number=new_number,
    )


def _role(message: Mapping[str, Any] | None) -> str | None:
    if message is None:
        return None
    role = str(message.get("role", ""))
    name = message.get("name")
    return f"{role} ({name})" if name else role


def text_rows(old: str | None, new: str | None) -> Iterator[Row]:
    """Side-by-side rows of a line diff; ``None`` is a text that does not exist on that side."""
    old_lines = old.splitlines() if old is not None else []
    new_lines = new.splitlines() if new is not None else []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, False)
    for tag, i, j in _aligned(matcher):
        if i is None:
            assert j is not None
            yield Row(EMPTY, Cell("added", j + 1, (Segment(new_lines[j], True),)))
        elif j is None:
            yield Row(Cell("removed", i + 1, (Segment(old_lines[i], True),)), EMPTY)
        elif tag == "equal":
            yield Row(
                Cell("equal", i + 1, (Segment(old_lines[i]),)),
                Cell("equal", j + 1, (Segment(new_lines[j]),)),
            )
        else:
            left, right = _inline(old_lines[i], new_lines[j])
            yield Row(Cell("removed", i + 1, left), Cell("added", j + 1, right))


def _inline(old: str, new: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    """The two versions of a changed line, with the changed characters marked."""
    if len(old) + len(new) > INLINE_DIFF_LIMIT:
        return (Segment(old, True),), (Segment(new, True),)
    left: list[Segment] = []
    right: list[Segment] = []
    matcher = difflib.SequenceMatcher(None, old, new, False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        changed = tag != "equal"
        if i2 > i1:
            left.append(Segment(old[i1:i2], changed))
        if j2 > j1:
            right.append(Segment(new[j1:j2], changed))
    return tuple(left), tuple(right)


def _fields(old: Content, new: Content) -> Iterator[FieldChange]:
    yield from _changes({"model": old.model}, {"model": new.model}, "")
    yield from _changes(old.model_params, new.model_params, "")
    yield from _changes(old.default_variables, new.default_variables, "default variable ")


def _changes(old: Mapping[str, Any], new: Mapping[str, Any], label: str) -> Iterator[FieldChange]:
    for key in dict.fromkeys([*old, *new]):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key not in new or after is None:
            status = "removed"
        elif key not in old or before is None:
            status = "added"
        else:
            status = "changed"
        yield FieldChange(f"{label}{key}", status, _json(before), _json(after))


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
