"""Row claiming that is safe with concurrent flushes and pollers.

PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent jobs take
disjoint rows without waiting. SQLite has no row locks: each claiming
transaction starts with a write (a no-op ``UPDATE``), which takes the
database write lock at once, so claiming transactions run one at a time and
their reads cannot go stale (SQLite's busy timeout makes the others wait).
"""

from __future__ import annotations

from typing import Any
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm import scoped_session

from ..models import BatchRecord

SelectT = TypeVar("SelectT", bound=sa.Select[Any])
#: ``db.session`` (scoped) or a plain session.
AnySession = Session | scoped_session[Any]


def dialect_name(session: AnySession) -> str:
    return session.get_bind(mapper=sa.inspect(BatchRecord)).dialect.name


def begin_claiming(session: AnySession) -> None:
    """Start a claiming transaction; on SQLite, take the write lock now."""
    if dialect_name(session) == "sqlite":
        session.execute(
            sa.update(BatchRecord).where(sa.false()).values(id=BatchRecord.id),
            execution_options={"synchronize_session": False},
        )


def skip_locked(statement: SelectT) -> SelectT:
    """Lock the selected rows, skipping rows another transaction holds.

    Rendered only on PostgreSQL; SQLite ignores it (see :func:`begin_claiming`).
    """
    return statement.with_for_update(skip_locked=True)
