"""Where prompts are kept: immutable snapshots, the per-process cache, the statements.

:class:`PromptStore` is one app's database access (sessions of its own,
never the caller's ``db.session``) and cache; :class:`Version` and
:class:`PromptData` are the snapshots it hands out, safe to share between
threads. :mod:`.prompt` (the public API) and :mod:`.sync` both write
through the statements here, so a version number is made one way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from ..models import PromptLabel
from ..models import PromptRecord
from ..models import PromptVersion
from ..models.base import as_utc
from ..models.base import utcnow
from .cache import SnapshotCache
from .frozen import FrozenDict
from .frozen import FrozenList
from .frozen import freeze
from .labels import LabelSettings
from .labels import Weights
from .rendering import RenderLimits
from .rendering import parse
from .rendering import partial_text
from .rendering import variables_of


@dataclasses.dataclass(frozen=True, slots=True)
class Version:
    """One saved version of a prompt: an immutable snapshot, safe to share and cache.

    ``messages``, ``model_params`` and ``default_variables`` are read-only
    lists and dicts; ``copy.deepcopy`` gives mutable ones.
    """

    id: int
    prompt_id: int
    version_number: int
    messages: FrozenList
    model: str | None
    model_params: FrozenDict
    default_variables: FrozenDict
    changelog: str | None
    created_at: dt.datetime
    #: Slugs of the partials the messages include (``{{> slug}}``), worked out once.
    includes: tuple[str, ...] = dataclasses.field(default=(), repr=False, compare=False)

    @classmethod
    def from_row(cls, row: PromptVersion) -> Version:
        where = f"prompt {row.prompt_id} version {row.version_number}"
        includes = {
            slug: None
            for message in row.messages
            for slug in parse(message["content"], where).partials
        }
        return cls(
            id=row.id,
            prompt_id=row.prompt_id,
            version_number=row.version_number,
            messages=freeze(row.messages),
            model=row.model,
            model_params=freeze(row.model_params or {}),
            default_variables=freeze(row.default_variables or {}),
            changelog=row.changelog,
            created_at=as_utc(row.created_at),
            includes=tuple(includes),
        )

    @property
    def variables(self) -> list[str]:
        """The variable names this version's messages use, sorted (partials not included)."""
        return variables_of((m["content"] for m in self.messages), f"version {self.id}")

    @property
    def text(self) -> str:
        """What ``{{> slug}}`` includes: the messages' contents joined by blank lines."""
        return partial_text(message["content"] for message in self.messages)


@dataclasses.dataclass(frozen=True, slots=True)
class PromptData:
    """What the cache holds for one slug: the prompt's fields and its current version.

    ``current`` is the latest version, or the labelled one in a snapshot
    loaded by label (``None`` if the label names no version).
    """

    id: int
    slug: str
    name: str
    description: str | None
    tags: FrozenList
    created_at: dt.datetime
    updated_at: dt.datetime
    current: Version | None
    #: The split set by ``Prompt.split()``, sorted by label; ``None`` without one.
    split: Weights | None = None
    #: The file ``sync-prompts`` last read the prompt from, and its hash; ``None``: none.
    source_path: str | None = None
    source_hash: str | None = None

    @classmethod
    def from_rows(cls, record: PromptRecord, current: PromptVersion | None) -> PromptData:
        return cls(
            id=record.id,
            slug=record.slug,
            name=record.name,
            description=record.description,
            tags=freeze(record.tags or []),
            created_at=as_utc(record.created_at),
            updated_at=as_utc(record.updated_at),
            current=Version.from_row(current) if current is not None else None,
            split=tuple(sorted(record.split.items())) if record.split else None,
            source_path=record.source_path,
            source_hash=record.source_hash,
        )


class PromptStore:
    """The database access and the cache of one app (``State.prompt_store``).

    It is given what it needs, not the app: a getter for the engine of the
    logs tables (called on first use, when the app's engines exist), the
    cache TTL and strict mode as callables, read at each use like
    ``LLM_LOGS_ENABLED`` so tests and admin tools can change them on a
    running app, and the render limits, fixed at ``init_app``.
    """

    def __init__(
        self,
        engine: Callable[[], Engine],
        *,
        cache_ttl: Callable[[], float],
        strict: Callable[[], bool],
        limits: RenderLimits,
        labels: LabelSettings | None = None,
    ) -> None:
        self._engine = engine
        self.cache: SnapshotCache[PromptData] = SnapshotCache(cache_ttl)
        self.strict = strict
        self.limits = limits
        self.labels = labels or LabelSettings()

    @functools.cached_property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions of the store's own, never the caller's ``db.session``."""
        return sessionmaker(self._engine(), expire_on_commit=False)

    def load(self, slug: str, *, cache: bool, label: str | None = None) -> PromptData | None:
        """The prompt with its latest version, or with the version ``label`` names."""
        if cache:
            data = self.cache.get(slug, label)
            if data is not None:
                return data
        generation = self.cache.generation()
        with self.sessions() as session:
            if label is None:
                row = session.execute(_load_statement(), {"slug": slug}).first()
            else:
                row = session.execute(_labelled_statement(), {"slug": slug, "label": label}).first()
        if row is None:
            return None
        data = PromptData.from_rows(*row)
        self.cache.put(slug, data, generation, label)
        return data


@functools.cache
def _load_statement() -> Any:
    """One prompt by slug with its latest version: a backward scan of the version index."""
    return (
        select(PromptRecord, PromptVersion)
        .outerjoin(PromptVersion, PromptVersion.prompt_id == PromptRecord.id)
        .where(PromptRecord.slug == bindparam("slug"))
        .order_by(PromptVersion.version_number.desc())
        .limit(1)
    )


@functools.cache
def _labelled_statement() -> Any:
    """One prompt by slug with the version a label names (``None`` if it names none)."""
    return (
        select(PromptRecord, PromptVersion)
        .outerjoin(
            PromptLabel,
            and_(PromptLabel.prompt_id == PromptRecord.id, PromptLabel.name == bindparam("label")),
        )
        .outerjoin(PromptVersion, PromptVersion.id == PromptLabel.version_id)
        .where(PromptRecord.slug == bindparam("slug"))
    )


def with_current_version() -> Any:
    """Prompts joined to their highest-numbered version (or ``None``), in one query."""
    latest = (
        select(func.max(PromptVersion.version_number))
        .where(PromptVersion.prompt_id == PromptRecord.id)
        .correlate(PromptRecord)
        .scalar_subquery()
    )
    return select(PromptRecord, PromptVersion).outerjoin(
        PromptVersion,
        and_(PromptVersion.prompt_id == PromptRecord.id, PromptVersion.version_number == latest),
    )


def touch(session: Session, prompt_id: int) -> bool:
    """Mark the prompt updated, as the transaction's first statement, to take its write lock.

    Returns ``False`` if the prompt no longer exists.
    """
    result = session.execute(
        update(PromptRecord)
        .where(PromptRecord.id == prompt_id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def next_version_number(latest: PromptVersion | None) -> int:
    """The number a new version gets after ``latest`` (read under the prompt's lock)."""
    return latest.version_number + 1 if latest is not None else 1


def latest_row(session: Session, prompt_id: int) -> PromptVersion | None:
    return session.scalars(
        select(PromptVersion)
        .where(PromptVersion.prompt_id == prompt_id)
        .order_by(PromptVersion.version_number.desc())
        .limit(1)
    ).first()
