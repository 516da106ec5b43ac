"""Comparing two prompt versions: message alignment, line and character diffs, fields."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask_llm_logs.web.diff import Cell
from flask_llm_logs.web.diff import FieldChange
from flask_llm_logs.web.diff import Segment
from flask_llm_logs.web.diff import compare
from flask_llm_logs.web.diff import text_rows


@dataclasses.dataclass
class Content:
    messages: list[dict[str, Any]]
    model: str | None = "gpt-4.1-mini"
    model_params: dict[str, Any] = dataclasses.field(default_factory=dict)
    default_variables: dict[str, Any] = dataclasses.field(default_factory=dict)


def system(text: str) -> dict[str, str]:
    return {"role": "system", "content": text}


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def plain(cell: Cell) -> str:
    return "".join(segment.text for segment in cell.segments)


def test_identical_versions_have_no_changes() -> None:
    content = Content([system("Be brief."), user("Hi {{name}}")], model_params={"seed": 1})
    diff = compare(content, content)
    assert not diff.changed
    assert [m.status for m in diff.messages] == ["unchanged", "unchanged"]
    assert diff.fields == ()


def test_inserted_message_does_not_shift_the_others() -> None:
    old = Content([system("Be brief."), user("Hi")])
    new = Content([system("Be brief."), user("Context"), user("Hi")])
    diff = compare(old, new)
    assert [(m.status, m.old_number, m.new_number) for m in diff.messages] == [
        ("unchanged", 1, 1),
        ("added", None, 2),
        ("unchanged", 2, 3),
    ]
    added = diff.messages[1]
    assert added.old_role is None and added.new_role == "user"
    assert [(row.left.kind, row.right.kind, plain(row.right)) for row in added.rows] == [
        ("empty", "added", "Context")
    ]


def test_removed_and_changed_messages() -> None:
    old = Content([system("One"), user("Two\nlines"), user("Gone")])
    new = Content([system("One"), {"role": "assistant", "content": "Two\nLines", "name": "bot"}])
    diff = compare(old, new)
    assert [m.status for m in diff.messages] == ["unchanged", "changed", "removed"]
    changed = diff.messages[1]
    assert (changed.old_role, changed.new_role) == ("user", "assistant (bot)")
    first, second = changed.rows
    assert (first.left.kind, first.right.kind) == ("equal", "equal")
    assert second.left.segments == (Segment("l", True), Segment("ines"))
    assert second.right.segments == (Segment("L", True), Segment("ines"))
    assert diff.messages[2].rows[0].right.kind == "empty"


def test_line_diff_numbers_both_sides() -> None:
    rows = list(text_rows("a\nb\nc", "a\nc\nd"))
    assert [(r.left.number, r.left.kind, r.right.number, r.right.kind) for r in rows] == [
        (1, "equal", 1, "equal"),
        (2, "removed", None, "empty"),
        (3, "equal", 2, "equal"),
        (None, "empty", 3, "added"),
    ]


def test_very_long_changed_lines_are_not_diffed_by_character() -> None:
    old, new = "x" * 3000, "y" * 3000
    (row,) = text_rows(old, new)
    assert row.left.segments == (Segment(old, True),)
    assert row.right.segments == (Segment(new, True),)


def test_model_parameter_and_default_variable_changes() -> None:
    old = Content(
        [user("Hi")],
        model="gpt-4.1-mini",
        model_params={"temperature": 0.2, "seed": 7},
        default_variables={"tone": "dry"},
    )
    new = Content(
        [user("Hi")],
        model="gpt-4.1",
        model_params={"temperature": 0.5, "max_tokens": 100},
        default_variables={},
    )
    diff = compare(old, new)
    assert diff.changed
    assert diff.fields == (
        FieldChange("model", "changed", '"gpt-4.1-mini"', '"gpt-4.1"'),
        FieldChange("temperature", "changed", "0.2", "0.5"),
        FieldChange("seed", "removed", "7", None),
        FieldChange("max_tokens", "added", None, "100"),
        FieldChange("default variable tone", "removed", '"dry"', None),
    )


def test_model_added() -> None:
    diff = compare(Content([user("Hi")], model=None), Content([user("Hi")], model="m"))
    assert diff.fields == (FieldChange("model", "added", None, '"m"'),)


def test_markup_stays_plain_text() -> None:
    """The diff holds text only: escaping is the template's job, nothing is pre-rendered."""
    old = Content([user("<script>alert(1)</script> {{{triple}}}")])
    new = Content([user("<script>alert(2)</script> {{{triple}}}")])
    (message,) = compare(old, new).messages
    (row,) = message.rows
    assert plain(row.left) == "<script>alert(1)</script> {{{triple}}}"
    assert all(type(segment.text) is str for segment in row.right.segments)
