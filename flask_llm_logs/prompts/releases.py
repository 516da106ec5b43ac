"""The statements behind labels and splits, run inside :class:`~.prompt.Prompt`'s writes.

Each runs in a transaction whose first statement took the prompt's write
lock (:func:`.store.touch`), so two label moves of one prompt are queued one
after the other: each reads where the label was and records that in its
move, and no move is lost or recorded from a stale place.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import PromptLabel
from ..models import PromptLabelMove
from ..models import PromptVersion
from ..models.base import as_utc
from ..models.base import utcnow
from .errors import InvalidPrompt
from .errors import LabelNotSet
from .errors import VersionNotFound
from .labels import STANDARD_LABELS
from .labels import LabelMove
from .labels import Weights

#: The size of the ``moved_by`` column.
MAX_BY_LENGTH = 255


def check_by(by: Any) -> str | None:
    if by is not None and (not isinstance(by, str) or len(by) > MAX_BY_LENGTH or "\x00" in by):
        raise InvalidPrompt(f"by: must be text of at most {MAX_BY_LENGTH} characters, got {by!r}")
    return by


def version_row(session: Session, prompt_id: int, slug: str, number: int) -> PromptVersion:
    row = session.scalars(
        select(PromptVersion).where(
            PromptVersion.prompt_id == prompt_id, PromptVersion.version_number == number
        )
    ).first()
    if row is None:
        raise VersionNotFound(slug, number)
    return row


def move_label(
    session: Session, prompt_id: int, label: str, version: PromptVersion, by: str | None
) -> None:
    """Point ``label`` at ``version`` and record the move; a label already there stays put."""
    row = session.scalars(
        select(PromptLabel).where(PromptLabel.prompt_id == prompt_id, PromptLabel.name == label)
    ).first()
    from_version = None
    if row is None:
        session.add(PromptLabel(prompt_id=prompt_id, name=label, version_id=version.id))
    elif row.version_id == version.id:
        return
    else:
        from_version = session.scalar(
            select(PromptVersion.version_number).where(PromptVersion.id == row.version_id)
        )
        row.version_id = version.id
        row.updated_at = utcnow()
    session.add(
        PromptLabelMove(
            prompt_id=prompt_id,
            label=label,
            from_version=from_version,
            to_version=version.version_number,
            moved_by=by,
        )
    )


def labels_of(session: Session, prompt_id: int) -> dict[str, int | None]:
    """Every label of the prompt and the version number it names: the standard ones first."""
    rows = session.execute(
        select(PromptLabel.name, PromptVersion.version_number)
        .join(PromptVersion, PromptVersion.id == PromptLabel.version_id)
        .where(PromptLabel.prompt_id == prompt_id)
        .order_by(PromptLabel.name)
    )
    labels: dict[str, int | None] = dict.fromkeys(STANDARD_LABELS)
    labels.update({name: number for name, number in rows})
    return labels


def moves_of(session: Session, prompt_id: int, limit: int | None = None) -> list[LabelMove]:
    """The prompt's label moves, newest first."""
    rows = session.scalars(
        select(PromptLabelMove)
        .where(PromptLabelMove.prompt_id == prompt_id)
        .order_by(PromptLabelMove.id.desc())
        .limit(limit)
    )
    return [
        LabelMove(row.label, row.from_version, row.to_version, row.moved_by, as_utc(row.moved_at))
        for row in rows
    ]


def check_split_labels(session: Session, prompt_id: int, slug: str, weights: Weights) -> None:
    """A split may only send traffic to labels that name a version."""
    labels = labels_of(session, prompt_id)
    for label, _ in weights:
        if labels.get(label) is None:
            raise LabelNotSet(slug, label)
