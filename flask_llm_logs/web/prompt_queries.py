"""The prompt pages' database reads, each a single query whatever the number of rows.

Writes go through :class:`flask_llm_logs.Prompt`; these are the reads it has
no use for: sorted and filtered lists, version summaries without their
messages, and the traces that used a prompt.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from ..models import PromptRecord
from ..models import PromptVersion
from ..models import Trace
from ..prompts import Version
from .trace_queries import DbSession
from .trace_queries import newest_first
from .trace_queries import traces_within

#: The prompts list's sort orders, by the value of ``?sort=``.
SORTS: dict[str, tuple[Any, ...]] = {
    "updated": (PromptRecord.updated_at.desc(), PromptRecord.id.desc()),
    "name": (sa.func.lower(PromptRecord.name), PromptRecord.id),
    "slug": (PromptRecord.slug,),
}


@dataclasses.dataclass(frozen=True)
class PromptRow:
    """A prompt in the list, with what its current version says."""

    record: PromptRecord
    version_number: int | None
    model: str | None


def _tag_condition(session: DbSession, tag: str) -> sa.ColumnElement[bool]:
    if session.get_bind(PromptRecord).dialect.name == "postgresql":
        return sa.type_coerce(PromptRecord.tags, JSONB).contains([tag])
    each = sa.func.json_each(PromptRecord.tags).table_valued("value")
    return sa.exists().where(each.c.value == tag)


def list_prompts(session: DbSession, sort: str, tag: str | None = None) -> list[PromptRow]:
    """Every prompt (with ``tag``), joined to its latest version: one query."""
    latest = (
        sa.select(
            PromptVersion.prompt_id, sa.func.max(PromptVersion.version_number).label("number")
        )
        .group_by(PromptVersion.prompt_id)
        .subquery()
    )
    query = (
        sa.select(PromptRecord, PromptVersion.version_number, PromptVersion.model)
        .outerjoin(latest, latest.c.prompt_id == PromptRecord.id)
        .outerjoin(
            PromptVersion,
            sa.and_(
                PromptVersion.prompt_id == PromptRecord.id,
                PromptVersion.version_number == latest.c.number,
            ),
        )
        .order_by(*SORTS[sort])
    )
    if tag is not None:
        query = query.where(_tag_condition(session, tag))
    return [PromptRow(*row) for row in session.execute(query)]


def all_tags(session: DbSession) -> list[str]:
    """Every tag in use, sorted, for the list's filter."""
    tags: set[str] = set()
    for row_tags in session.scalars(sa.select(PromptRecord.tags)):
        tags.update(tag for tag in row_tags or () if isinstance(tag, str))
    return sorted(tags, key=str.lower)


@dataclasses.dataclass(frozen=True)
class VersionRow:
    """A version without its messages: what the history shows."""

    id: int
    version_number: int
    changelog: str | None
    model: str | None
    created_at: dt.datetime


def version_rows(
    session: DbSession, prompt_id: int, limit: int, before: int | None = None
) -> list[VersionRow]:
    """The prompt's versions, newest first, below version ``before`` if given."""
    query = (
        sa.select(
            PromptVersion.id,
            PromptVersion.version_number,
            PromptVersion.changelog,
            PromptVersion.model,
            PromptVersion.created_at,
        )
        .where(PromptVersion.prompt_id == prompt_id)
        .order_by(PromptVersion.version_number.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(PromptVersion.version_number < before)
    return [VersionRow(*row) for row in session.execute(query)]


def version_numbers(session: DbSession, prompt_id: int) -> list[int]:
    """Every version number of the prompt, newest first (for the compare selector)."""
    return list(
        session.scalars(
            sa.select(PromptVersion.version_number)
            .where(PromptVersion.prompt_id == prompt_id)
            .order_by(PromptVersion.version_number.desc())
        )
    )


def versions(session: DbSession, prompt_id: int, numbers: set[int]) -> dict[int, Version]:
    """Several versions of the prompt by number, in one query (missing ones are left out)."""
    rows = session.scalars(
        sa.select(PromptVersion).where(
            PromptVersion.prompt_id == prompt_id, PromptVersion.version_number.in_(numbers)
        )
    )
    return {row.version_number: Version.from_row(row) for row in rows}


@dataclasses.dataclass(frozen=True)
class TraceRow:
    trace: Trace
    version_number: int


def recent_traces(session: DbSession, prompt_id: int, limit: int) -> list[TraceRow]:
    """The newest traces that used any version of the prompt: two queries, three when the
    last day's traces are fewer than ``limit`` (:func:`.trace_queries.newest_first`).

    The version ids are read first and passed as values, not joined: given
    the values, PostgreSQL's statistics tell a rarely used version (read
    through ``ix_llm_logs_traces_prompt_version_id_started_at``) from a common one (walk
    the newest traces). Joined, it guesses, and for a prompt without recent
    traces the guess walks every trace: a second instead of a millisecond
    with a million traces.
    """
    rows = session.execute(
        sa.select(PromptVersion.id, PromptVersion.version_number).where(
            PromptVersion.prompt_id == prompt_id
        )
    )
    numbers: dict[int | None, int] = {version_id: number for version_id, number in rows}
    if not numbers:
        return []
    query = (
        sa.select(Trace)
        .where(Trace.prompt_version_id.in_(numbers))
        .order_by(Trace.started_at.desc(), Trace.id.desc())
    )
    found = newest_first(session, traces_within(query, lambda w: w.of(Trace.started_at)), limit)
    return [TraceRow(trace, numbers[trace.prompt_version_id]) for (trace,) in found]
