"""The :class:`Prompt` API: create, load, build and save versioned prompts.

Every write runs in its own short transaction on a session of its own (never
the caller's ``db.session``), so it is committed when the method returns and
whatever the caller has pending in ``db.session`` is neither committed nor
rolled back by it.

Version numbers are made inside that transaction after its first statement,
an ``UPDATE`` of the prompt's row: on PostgreSQL that row lock queues
concurrent saves of the same prompt, on SQLite the statement takes the
database write lock (waiting for the busy timeout). The unique constraint on
``(prompt_id, version_number)`` backs this up, and a save that still loses a
race retries with the next number.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from ..models import PromptLabel
from ..models import PromptLabelMove
from ..models import PromptRecord
from ..models import PromptVersion
from ..state import get_state
from ..tracing.context import link_prompt_version
from .errors import InvalidPrompt
from .errors import LabelNotSet
from .errors import MissingVariables
from .errors import NoPromptVersion
from .errors import PromptAlreadyExists
from .errors import PromptNotFound
from .errors import VersionNotFound
from .frozen import FrozenList
from .frozen import thaw
from .labels import LabelMove
from .labels import Weights
from .labels import check_label
from .labels import check_weights
from .labels import pick_label
from .releases import check_by
from .releases import check_split_labels
from .releases import labels_of
from .releases import move_label
from .releases import moves_of
from .releases import version_row
from .rendering import collect_partials
from .rendering import render_messages
from .store import PromptData
from .store import PromptStore
from .store import Version
from .store import latest_row
from .store import next_version_number
from .store import touch
from .store import with_current_version
from .validation import check_changelog
from .validation import check_default_variables
from .validation import check_description
from .validation import check_messages
from .validation import check_model
from .validation import check_model_params
from .validation import check_name
from .validation import check_slug
from .validation import check_tags

#: How often a save retries after losing a race for a version number.
SAVE_ATTEMPTS = 5


def current_store() -> PromptStore:
    """The current app's store; :class:`Prompt` and ``sync-prompts`` share it."""
    return get_state().prompt_store


def clear_cache() -> None:
    """Forget every cached prompt of the current app (tests, after editing rows by hand)."""
    current_store().cache.clear()


_UNSET: Any = object()

#: ``load()``'s label when none is given: ``LLM_LOGS_PROMPT_LABEL``.
_DEFAULT_LABEL: Any = object()


def _checked_record(
    slug: str, name: str, description: str | None, tags: Sequence[str] | None
) -> PromptRecord:
    check_slug(slug)
    return PromptRecord(
        slug=slug,
        name=check_name(slug, name),
        description=check_description(slug, description),
        tags=check_tags(slug, tags),
    )


def _checked_content(
    slug: str,
    messages: Sequence[Mapping[str, Any]],
    model: str | None,
    model_params: Mapping[str, Any] | None,
    default_variables: Mapping[str, Any] | None,
    changelog: str | None,
    store: PromptStore,
) -> dict[str, Any]:
    """A version's content, checked; the dicts left ``None`` keep the previous version's."""
    return {
        "messages": check_messages(slug, messages, store.limits),
        "model": check_model(slug, model),
        "model_params": None if model_params is None else check_model_params(slug, model_params),
        "default_variables": (
            None if default_variables is None else check_default_variables(slug, default_variables)
        ),
        "changelog": check_changelog(slug, changelog),
    }


def _filled_in(given: Mapping[str, Any], latest: PromptVersion | None) -> dict[str, Any]:
    """The content to store: what was given, the rest from the latest version (or empty)."""
    content = dict(given)
    for key, empty in (("model", None), ("model_params", {}), ("default_variables", {})):
        if content[key] is None:
            content[key] = getattr(latest, key) if latest is not None else empty
    return content


class Prompt:
    """A named, versioned prompt. Get one with :meth:`create`, :meth:`load` or :meth:`all`.

    The object is a handle on an immutable snapshot: its attributes describe
    the prompt as it was loaded, and the methods that save replace that
    snapshot with the saved one. Other handles (and other processes) see a
    save on their next uncached :meth:`load`.
    """

    __slots__ = ("_cached", "_data", "_label", "_store", "_versions")

    def __init__(
        self,
        data: PromptData,
        store: PromptStore,
        *,
        cached: bool = True,
        label: str | None = None,
    ) -> None:
        self._data = data
        self._store = store
        self._cached = cached
        self._label = label
        self._versions: list[Version] | None = None

    def __repr__(self) -> str:
        current = self._data.current
        number = f"v{current.version_number}" if current is not None else "no version"
        return f"<Prompt {self.slug!r} {number}>"

    # Metadata ---------------------------------------------------------------

    @property
    def id(self) -> int:
        return self._data.id

    @property
    def slug(self) -> str:
        return self._data.slug

    @property
    def name(self) -> str:
        return self._data.name

    @property
    def description(self) -> str | None:
        return self._data.description

    @property
    def tags(self) -> FrozenList:
        return self._data.tags

    @property
    def created_at(self) -> dt.datetime:
        return self._data.created_at

    @property
    def updated_at(self) -> dt.datetime:
        return self._data.updated_at

    # Versions ---------------------------------------------------------------

    @property
    def current_version(self) -> Version | None:
        """The version :meth:`build` renders: the latest, or the one :attr:`label` names.

        ``None`` before the first :meth:`update_content`.
        """
        return self._data.current

    @property
    def versions(self) -> list[Version]:
        """Every version, oldest first (read from the database once per handle)."""
        if self._versions is None:
            with self._store.sessions() as session:
                rows = session.scalars(
                    select(PromptVersion)
                    .where(PromptVersion.prompt_id == self.id)
                    .order_by(PromptVersion.version_number)
                )
                self._versions = [Version.from_row(row) for row in rows]
        return list(self._versions)

    def version(self, number: int) -> Version:
        """The version with this number; :class:`VersionNotFound` if there is none."""
        current = self._data.current
        if current is not None and current.version_number == number:
            return current
        with self._store.sessions() as session:
            row = session.scalars(
                select(PromptVersion).where(
                    PromptVersion.prompt_id == self.id, PromptVersion.version_number == number
                )
            ).first()
        if row is None:
            raise VersionNotFound(self.slug, number)
        return Version.from_row(row)

    @property
    def variables(self) -> list[str]:
        """The variable names the current version uses, sorted (``[]`` without a version).

        Variables used only inside included partials are listed by the
        partial's own prompt.
        """
        current = self._data.current
        return current.variables if current is not None else []

    # Reading ----------------------------------------------------------------

    @classmethod
    def create(
        cls,
        slug: str,
        name: str,
        description: str | None = None,
        tags: Sequence[str] | None = None,
    ) -> Prompt:
        """Store a new prompt, without any version yet; committed on return.

        :raises PromptAlreadyExists: the slug is taken.
        :raises InvalidPrompt: a field is malformed (the message says which).
        """
        return cls._insert(_checked_record(slug, name, description, tags), None)

    @classmethod
    def create_with_content(
        cls,
        slug: str,
        name: str,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        *,
        messages: Sequence[Mapping[str, Any]],
        model: str | None = None,
        model_params: Mapping[str, Any] | None = None,
        default_variables: Mapping[str, Any] | None = None,
        changelog: str | None = None,
    ) -> Prompt:
        """Store a new prompt and its version 1 in one transaction; committed on return.

        Everything is checked first, so a refused content leaves no prompt
        behind (as :meth:`create` then :meth:`update_content` would).

        :raises PromptAlreadyExists: the slug is taken.
        :raises InvalidPrompt: a field is malformed (the message says which).
        """
        record = _checked_record(slug, name, description, tags)
        content = _checked_content(
            slug, messages, model, model_params, default_variables, changelog, current_store()
        )
        return cls._insert(record, PromptVersion(version_number=1, **_filled_in(content, None)))

    @classmethod
    def _insert(cls, record: PromptRecord, version: PromptVersion | None) -> Prompt:
        store = current_store()
        try:
            with store.sessions.begin() as session:
                if version is not None:
                    record.versions.append(version)
                session.add(record)
                session.flush()
                data = PromptData.from_rows(record, version)
        except IntegrityError:
            raise PromptAlreadyExists(record.slug) from None
        store.cache.invalidate(record.slug)
        return cls(data, store)

    @classmethod
    def load(
        cls,
        slug: str,
        cache: bool = True,
        *,
        label: str | None = _DEFAULT_LABEL,
        assign_by: object = None,
    ) -> Prompt:
        """The prompt with this slug, and the version it builds.

        Which version: the one ``label`` names (``"production"``...), the
        latest with ``label=None``; without ``label``, ``LLM_LOGS_PROMPT_LABEL``
        says (by default ``None``: the latest). ``assign_by`` (a user id, an
        account id...) picks the label by the prompt's split instead, the same
        label for the same key every time (see ``docs/prompts.rst``, Splits);
        a prompt without a split ignores it.

        With ``cache=True`` a snapshot up to ``LLM_LOGS_PROMPT_CACHE_TTL``
        seconds old may be returned; ``cache=False`` reads the database (and
        so do the partials its :meth:`build` includes, at their latest version).

        :raises PromptNotFound: no prompt has this slug.
        :raises LabelNotSet: the label names no version of this prompt.
        :raises InvalidPrompt: no prompt can have this slug or label (a NUL
            character, a space...), or both ``label`` and ``assign_by`` were given.
        """
        check_slug(slug)
        store = current_store()
        if assign_by is not None:
            if label is not _DEFAULT_LABEL:
                raise InvalidPrompt(
                    "label, assign_by: give one or the other (assign_by picks the label)"
                )
            label = cls._assigned_label(store, slug, str(assign_by), cache)
        if label is _DEFAULT_LABEL:
            label = store.labels.default
        elif label is not None:
            check_label(label)
        data = store.load(slug, cache=cache, label=label)
        if data is None:
            raise PromptNotFound(slug)
        if label is not None and data.current is None:
            raise LabelNotSet(slug, label)
        return cls(data, store, cached=cache, label=label)

    @staticmethod
    def _assigned_label(store: PromptStore, slug: str, key: str, cache: bool) -> Any:
        """The label ``key`` gets by the prompt's split; ``load()``'s default without a split."""
        weights = store.labels.splits.get(slug)
        if weights is None:
            data = store.load(slug, cache=cache)
            if data is None:
                raise PromptNotFound(slug)
            weights = data.split
        return _DEFAULT_LABEL if weights is None else pick_label(slug, key, weights)

    @classmethod
    def all(cls, *, tag: str | None = None) -> list[Prompt]:
        """Every prompt (or those with ``tag``), by slug, each with its current version."""
        store = current_store()
        with store.sessions() as session:
            rows = session.execute(with_current_version().order_by(PromptRecord.slug)).all()
        prompts = [cls(PromptData.from_rows(*row), store, cached=False) for row in rows]
        if tag is not None:
            prompts = [prompt for prompt in prompts if tag in prompt.tags]
        return prompts

    def build(
        self,
        variables: Mapping[str, Any] | None = None,
        /,
        *,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Render the current version into keyword arguments for ``chat.completions.create``.

        ``{"model": ..., "messages": [...], **model_params}``; the ``model`` key
        is left out when the version has no model. Variables come from the
        ``variables`` mapping and the keyword arguments (which win), then the
        version's ``default_variables`` for those not passed: a variable named
        like a parameter (``strict``) is passed in the mapping. Inside a trace,
        the trace (and its next LLM span) is linked to the version used.

        :param strict: raise :class:`MissingVariables` listing every variable
            that is neither passed nor defaulted, instead of rendering it
            empty. ``None`` uses ``LLM_LOGS_PROMPT_STRICT``.
        :raises NoPromptVersion: the prompt has no content yet.
        :raises PartialNotFound: an included ``{{> slug}}`` does not exist.
        :raises PartialCycle: partials include each other in a loop.
        :raises RenderLimitExceeded: the output, the partials or the sections
            go past a ``LLM_LOGS_PROMPT_MAX_*`` limit (the subclass says which).
        """
        version = self._data.current
        if version is None:
            raise NoPromptVersion(self.slug)
        store = self._store
        # Read before rendering, not only when a variable is missing: a bad
        # LLM_LOGS_PROMPT_STRICT set at runtime fails the first build().
        strict = store.strict() if strict is None else strict
        limits = store.limits
        partials = (
            collect_partials(
                self.slug,
                [m["content"] for m in version.messages],
                self._partial_loader(),
                limits.max_partial_depth,
            )
            if version.includes
            else {}
        )
        values = {**version.default_variables, **(variables or {}), **kwargs}
        messages, missing = render_messages(
            version.messages,
            values,
            partials,
            limits,
            f"prompt {self.slug!r} version {version.version_number}",
        )
        if missing and strict:
            raise MissingVariables(self.slug, version.version_number, missing)

        params: dict[str, Any] = {} if version.model is None else {"model": version.model}
        params["messages"] = messages
        params.update(thaw(version.model_params))
        link_prompt_version(version.id)
        return params

    def _partial_loader(self) -> Callable[[str], str | None]:
        def load(slug: str) -> str | None:
            data = self._store.load(slug, cache=self._cached)
            if data is None:
                return None
            if data.current is None:
                raise NoPromptVersion(slug)
            return data.current.text

        return load

    # Writing ----------------------------------------------------------------

    def update_content(
        self,
        messages: Sequence[Mapping[str, Any]],
        model: str | None = None,
        model_params: Mapping[str, Any] | None = None,
        default_variables: Mapping[str, Any] | None = None,
        changelog: str | None = None,
        *,
        label: str | None = None,
        by: str | None = None,
    ) -> Version:
        """Save a new version and make it current; committed on return.

        ``model``, ``model_params`` and ``default_variables`` left as ``None``
        keep the previous version's values (pass ``{}`` to clear the dicts).
        No label moves, unless ``label`` is given: it is pointed at the new
        version in the same transaction (the editor's "publish as
        production"), recorded as moved ``by``.

        :raises InvalidPrompt: malformed messages or parameters.
        :raises TemplateSyntaxError: a message does not parse as Mustache.
        :raises SectionsTooDeep: a message's sections nest deeper than
            ``LLM_LOGS_PROMPT_MAX_SECTION_DEPTH``.
        """
        given = _checked_content(
            self.slug, messages, model, model_params, default_variables, changelog, self._store
        )
        if label is not None:
            check_label(label)
        return self._save(lambda latest: _filled_in(given, latest), label, check_by(by))

    def rollback_to(self, number: int, changelog: str | None = None) -> Version:
        """Save a new version with the content of version ``number``; committed on return.

        :raises VersionNotFound: there is no such version.
        :raises InvalidPrompt: ``changelog`` is not text that can be stored.
        """
        changelog = check_changelog(self.slug, changelog)
        source = self.version(number)
        return self._save(
            lambda latest: {
                "messages": thaw(source.messages),
                "model": source.model,
                "model_params": thaw(source.model_params),
                "default_variables": thaw(source.default_variables),
                "changelog": changelog or f"Rolled back to version {number}",
            }
        )

    def _save(
        self,
        content: Callable[[PromptVersion | None], Mapping[str, Any]],
        label: str | None = None,
        by: str | None = None,
    ) -> Version:
        store = self._store
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            try:
                with store.sessions.begin() as session:
                    if not touch(session, self.id):
                        raise PromptNotFound(self.slug, " (it was deleted)")
                    latest = latest_row(session, self.id)
                    row = PromptVersion(
                        prompt_id=self.id,
                        version_number=next_version_number(latest),
                        **content(latest),
                    )
                    session.add(row)
                    session.flush()
                    if label is not None:
                        move_label(session, self.id, label, row, by)
                    record = session.get_one(PromptRecord, self.id)
                    data = PromptData.from_rows(record, row)
            except IntegrityError:
                if attempt == SAVE_ATTEMPTS:
                    raise
                continue
            break
        store.cache.invalidate(self.slug)
        self._data = data
        self._label = label
        self._versions = None
        assert data.current is not None
        return data.current

    def update(
        self,
        *,
        name: str = _UNSET,
        description: str | None = _UNSET,
        tags: Sequence[str] | None = _UNSET,
    ) -> Prompt:
        """Change the name, description or tags without making a version; committed on return.

        Only the arguments given change. The slug is permanent: code and
        partials refer to it.
        """
        slug = self.slug
        values: dict[str, Any] = {}
        if name is not _UNSET:
            values["name"] = check_name(slug, name)
        if description is not _UNSET:
            values["description"] = check_description(slug, description)
        if tags is not _UNSET:
            values["tags"] = check_tags(slug, tags)
        store = self._store
        with store.sessions.begin() as session:
            if not touch(session, self.id):
                raise PromptNotFound(slug, " (it was deleted)")
            if values:
                session.execute(
                    update(PromptRecord)
                    .where(PromptRecord.id == self.id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            record = session.get_one(PromptRecord, self.id)
            data = PromptData.from_rows(record, latest_row(session, self.id))
        store.cache.invalidate(slug)
        self._data = data
        return self

    def delete_version(self, number: int) -> None:
        """Delete an old version; committed on return.

        The current version cannot be deleted (save or roll back first), so
        version numbers are never reused. Traces keep the deleted version's id.

        :raises VersionNotFound: there is no such version.
        :raises InvalidPrompt: ``number`` is the current version.
        """
        store = self._store
        with store.sessions.begin() as session:
            if not touch(session, self.id):
                raise PromptNotFound(self.slug, " (it was deleted)")
            latest = latest_row(session, self.id)
            if latest is not None and latest.version_number == number:
                raise InvalidPrompt(
                    f"version {number} is the current version of prompt {self.slug!r}"
                    " and cannot be deleted; save a new version or roll back first"
                )
            named_by = [name for name, at in labels_of(session, self.id).items() if at == number]
            if named_by:
                raise InvalidPrompt(
                    f"version {number} of prompt {self.slug!r} is labelled"
                    f" {', '.join(map(repr, named_by))} and cannot be deleted; move the label first"
                )
            result = session.execute(
                delete(PromptVersion).where(
                    PromptVersion.prompt_id == self.id, PromptVersion.version_number == number
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise VersionNotFound(self.slug, number)
        store.cache.invalidate(self.slug)
        self._versions = None

    def delete(self) -> None:
        """Delete the prompt and all its versions; committed on return.

        Prompts that include it as a partial fail to build until it is back.
        """
        store = self._store
        with store.sessions.begin() as session:
            touch(session, self.id)
            for table in (PromptLabelMove, PromptLabel, PromptVersion):
                session.execute(delete(table).where(table.prompt_id == self.id))
            session.execute(delete(PromptRecord).where(PromptRecord.id == self.id))
        store.cache.invalidate(self.slug)

    # Labels and splits --------------------------------------------------------

    @property
    def label(self) -> str | None:
        """The label this handle was loaded by (``None``: the latest version)."""
        return self._label

    @property
    def labels(self) -> dict[str, int | None]:
        """Every label and the version number it names (``None``: none yet), read now.

        ``production`` and ``staging`` are always there, first.
        """
        with self._store.sessions() as session:
            return labels_of(session, self.id)

    def label_moves(self, limit: int | None = None) -> list[LabelMove]:
        """The history of the prompt's labels, newest move first."""
        with self._store.sessions() as session:
            return moves_of(session, self.id, limit)

    def set_label(self, label: str, version: int, *, by: str | None = None) -> None:
        """Point ``label`` at ``version`` (a number); committed on return.

        The move is recorded in :meth:`label_moves` with ``by`` (who moved
        it) and the version it named before; every process serves the new
        version after at most ``LLM_LOGS_PROMPT_CACHE_TTL`` seconds, this
        one at once. Setting a label where it already is records nothing.

        :raises VersionNotFound: there is no such version.
        :raises InvalidPrompt: ``label`` or ``by`` is malformed.
        """
        check_label(label)
        by = check_by(by)
        store = self._store
        with store.sessions.begin() as session:
            if not touch(session, self.id):
                raise PromptNotFound(self.slug, " (it was deleted)")
            move_label(
                session, self.id, label, version_row(session, self.id, self.slug, version), by
            )
        store.cache.invalidate(self.slug)

    @property
    def split_weights(self) -> dict[str, int] | None:
        """The split ``load(assign_by=...)`` follows: ``LLM_LOGS_PROMPT_SPLITS``, else
        :meth:`split`'s, as loaded; ``None`` without one."""
        weights = self._store.labels.splits.get(self.slug) or self._data.split
        return None if weights is None else dict(weights)

    def split(self, weights: Mapping[str, int] | None) -> None:
        """Share ``load(assign_by=...)`` between labels by weight, such as
        ``{"production": 90, "candidate": 10}``; ``None`` removes the split. Committed on return.

        :raises InvalidPrompt: a weight is not a positive integer, or the
            prompt's split is set by ``LLM_LOGS_PROMPT_SPLITS`` (which wins).
        :raises LabelNotSet: a label names no version of the prompt.
        """
        checked: Weights | None = None if weights is None else check_weights(weights)
        store = self._store
        if self.slug in store.labels.splits:
            raise InvalidPrompt(
                f"prompt {self.slug!r}: its split is set by LLM_LOGS_PROMPT_SPLITS; change it there"
            )
        with store.sessions.begin() as session:
            if not touch(session, self.id):
                raise PromptNotFound(self.slug, " (it was deleted)")
            if checked is not None:
                check_split_labels(session, self.id, self.slug, checked)
            session.execute(
                update(PromptRecord)
                .where(PromptRecord.id == self.id)
                .values(split=None if checked is None else dict(checked))
                .execution_options(synchronize_session=False)
            )
        store.cache.invalidate(self.slug)
        self._data = dataclasses.replace(self._data, split=checked)
