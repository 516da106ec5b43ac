"""Markdown files to prompts: what ``flask llm-logs sync-prompts`` does.

A sync has two phases. First every file is read and checked, partials
included; any problem in any file stops the sync with all problems (and
warnings) listed in one :class:`PromptSyncError` before anything is written.
Then the whole change is applied in one transaction, so a sync applies all
files or none.

Concurrent syncs queue behind a transaction-level advisory lock on PostgreSQL
(the SQLite write lock elsewhere), taken before the current state is read, so
the second sync sees what the first wrote and has nothing left to do. The
prompt rows are also locked, which queues syncs behind API saves of the same
prompts and vice versa.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from frontmatter.default_handlers import YAMLHandler
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session

from ..models import PromptRecord
from ..models import PromptVersion
from ..models.base import utcnow
from ..state import get_state
from .errors import FileProblem
from .errors import InvalidPrompt
from .errors import PromptError
from .errors import PromptSyncError
from .errors import TemplateSyntaxError
from .rendering import RenderLimits
from .rendering import collect_partials
from .rendering import partial_text
from .store import next_version_number
from .store import with_current_version
from .validation import ROLES
from .validation import check_default_variables
from .validation import check_description
from .validation import check_messages
from .validation import check_model
from .validation import check_model_params
from .validation import check_name
from .validation import check_slug
from .validation import check_tags
from .validation import check_template
from .validation import check_text

FRONT_MATTER_KEYS = (
    "slug",
    "name",
    "description",
    "tags",
    "model",
    "model_params",
    "default_variables",
    "messages",
)

#: Content fields: a change in any of them makes a new version.
CONTENT_FIELDS = ("messages", "model", "model_params", "default_variables")

#: libyaml's loader when PyYAML was built with it (it usually is): many times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: The PostgreSQL advisory lock that makes concurrent syncs take turns ("llm_logs").
SYNC_LOCK_KEY = 0x6C6C6D5F6C6F6773


@dataclasses.dataclass(frozen=True)
class PromptFile:
    """One prompt as a Markdown file describes it, checked and ready to store."""

    path: str  # relative to the prompts folder, with forward slashes
    slug: str
    name: str
    description: str | None
    tags: list[str]
    content: dict[str, Any]  # the CONTENT_FIELDS
    #: SHA-256 (hex) of the file's bytes, then of each of its body files' bytes.
    source_hash: str = ""

    @property
    def text(self) -> str:
        return partial_text(message["content"] for message in self.content["messages"])


@dataclasses.dataclass(frozen=True)
class SyncChange:
    """What a sync did (or, in a dry run, would do) to one prompt."""

    slug: str
    path: str
    action: str  # created, updated, unchanged
    #: Fields that changed: any of name, description, tags and "content".
    changed: tuple[str, ...] = ()
    #: The version the sync made, if it made one.
    version_number: int | None = None


@dataclasses.dataclass(frozen=True)
class Templates:
    """A file's slug and message templates, known even when its other fields have problems.

    Its partials are checked too, so one run reports every problem of a file.
    """

    path: str
    slug: str
    contents: list[str]


@dataclasses.dataclass(frozen=True)
class PromptFiles:
    """What reading a folder found: the prompts ready to store, problems and warnings."""

    prompts: list[PromptFile]
    #: The templates of every file whose slug and messages could be read.
    templates: list[Templates]
    problems: list[FileProblem]
    #: What was odd but not wrong: unknown keys, prompt files outside the subfolders.
    warnings: list[FileProblem]


@dataclasses.dataclass(frozen=True)
class SyncReport:
    changes: tuple[SyncChange, ...]
    dry_run: bool
    warnings: tuple[FileProblem, ...] = ()

    def count(self, action: str) -> int:
        return sum(change.action == action for change in self.changes)


class _FileReader:
    """Reads one prompt file, collecting every problem it has with its line."""

    def __init__(self, path: Path, root: Path, folder: str, limits: RenderLimits) -> None:
        self.path = path
        self.root = root
        self.folder = folder
        self.limits = limits
        self.relative = path.relative_to(root).as_posix()
        self.problems: list[FileProblem] = []
        self.warnings: list[FileProblem] = []
        self.templates: Templates | None = None
        self.hash = hashlib.sha256()

    def problem(self, message: str, line: int | None = None, path: str | None = None) -> None:
        self.problems.append(FileProblem(path or self.relative, message, line))

    def read(self) -> PromptFile | None:
        """The prompt, or ``None`` for a body file (no front matter) or a file with problems."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            self.problem(f"cannot be read: {error}")
            return None
        self.hash.update(raw.encode())
        stripped = raw.lstrip()
        if not frontmatter.checks(stripped):
            return None
        leading = raw[: len(raw) - len(stripped)].count("\n")
        handler = YAMLHandler()
        try:
            front, body = handler.split(stripped)
        except ValueError:
            self.problem("the front matter starts with '---' but has no closing '---'", 1 + leading)
            return None
        try:
            meta = handler.load(front)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = mark.line + 1 + leading if mark is not None else None
            self.problem(f"invalid YAML in the front matter: {_yaml_problem(error)}", line)
            return None
        lines = _Lines(front, leading)
        if not isinstance(meta, Mapping):
            self.problem("the front matter must be a mapping of keys to values", 1 + leading)
            return None
        for key in meta:
            if key not in FRONT_MATTER_KEYS:
                # Hosts may keep their own keys; a typo still shows up.
                self.warnings.append(
                    FileProblem(
                        self.relative,
                        f"unknown front matter key {key!r} is ignored;"
                        f" known keys: {', '.join(FRONT_MATTER_KEYS)}",
                        lines.key(key),
                    )
                )
        for key in ("slug", "name"):
            if not meta.get(key):
                self.problem(f"the front matter has no {key!r}", 1 + leading)
        if not meta.get("slug"):
            return None

        # The body starts after the closing "---" line and any blank lines.
        closing_line = 1 + leading + front.count("\n")
        text = body.strip()
        body_line = closing_line + body[: body.find(text)].count("\n") if text else closing_line
        messages = self._messages(meta, text, body_line, lines)
        return self._checked(meta, messages, lines)

    def _messages(
        self, meta: Mapping[str, Any], body: str, body_line: int, lines: _Lines
    ) -> list[tuple[dict[str, Any], str, int | None]]:
        """Messages with where their content came from (file and first line)."""
        if "messages" not in meta:
            if not body:
                self.problem(
                    "no body: write the system message below the front matter, or list messages:",
                    body_line,
                )
                return []
            return [({"role": "system", "content": body}, self.relative, body_line)]
        if body:
            self.problem(
                "has both messages: in the front matter and a body; put the text in the"
                " messages (content or body_file) or remove messages:",
                body_line,
            )
        listed = meta["messages"]
        if not isinstance(listed, list) or not listed:
            self.problem("messages: must be a non-empty list", lines.key("messages"))
            return []
        messages = []
        for number, message in enumerate(listed, 1):
            line = lines.item("messages", number - 1)
            where = f"messages item {number}"
            if not isinstance(message, Mapping):
                self.problem(f"{where} must be a mapping with role and content or body_file", line)
                continue
            unknown = sorted(set(message) - {"role", "content", "body_file"})
            if unknown:
                self.problem(f"{where} has unknown keys: {', '.join(unknown)}", line)
            role = message.get("role")
            if role not in ROLES:
                self.problem(f"{where}: role must be one of {', '.join(ROLES)}; got {role!r}", line)
            if ("content" in message) == ("body_file" in message):
                self.problem(f"{where} needs either content or body_file (exactly one)", line)
                continue
            if "content" in message:
                content = message["content"]
                if not isinstance(content, str):
                    self.problem(f"{where}: content must be text, got {content!r}", line)
                    continue
                messages.append(({"role": role, "content": content}, self.relative, line))
                continue
            body_file = self._body_file(message["body_file"], where, line)
            if body_file is not None:
                content, path = body_file
                messages.append(({"role": role, "content": content}, path, 1))
        return messages

    def _body_file(self, name: Any, where: str, line: int | None) -> tuple[str, str] | None:
        if not isinstance(name, str) or not name:
            self.problem(f"{where}: body_file must be a file name, got {name!r}", line)
            return None
        target = (self.path.parent / name).resolve()
        if not target.is_relative_to(self.root):
            self.problem(
                f"{where}: body_file {name!r} resolves outside the prompts folder {self.root}",
                line,
            )
            return None
        if not target.is_file():
            self.problem(f"{where}: body_file {name!r} not found (looked for {target})", line)
            return None
        try:
            raw = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            self.problem(f"{where}: body_file {name!r} cannot be read: {error}", line)
            return None
        self.hash.update(raw.encode())
        return raw.strip(), target.relative_to(self.root).as_posix()

    def _checked(
        self,
        meta: Mapping[str, Any],
        messages: list[tuple[dict[str, Any], str, int | None]],
        lines: _Lines,
    ) -> PromptFile | None:
        parsed = True
        for message, path, first_line in messages:
            try:
                check_text(str(meta["slug"]), f"{message['role']} message", message["content"])
                check_template(message["content"], f"{message['role']} message", self.limits)
            except TemplateSyntaxError as error:
                parsed = False
                line = first_line + error.line - 1 if first_line is not None else None
                detail = error.detail
                if path != self.relative:
                    detail += f" (body_file of {self.relative})"
                self.problem(f"{message['role']} message does not parse: {detail}", line, path)
            except InvalidPrompt as error:  # a NUL character, sections nested too deep
                parsed = False
                self.problem(str(error), first_line, path)
        slug = meta["slug"]
        try:
            check_slug(slug)
        except InvalidPrompt as error:
            self.problem(str(error), lines.key("slug"))
            return None
        if parsed and messages:
            self.templates = Templates(self.relative, slug, [m["content"] for m, _, _ in messages])
        fields: dict[str, Any] = {}
        checks = (
            ("name", check_name),
            ("description", check_description),
            ("tags", check_tags),
            ("model", check_model),
            ("model_params", check_model_params),
            ("default_variables", check_default_variables),
        )
        empty: dict[str, Any] = {"model_params": {}, "default_variables": {}}
        for key, check in checks:
            if key == "name" and not meta.get("name"):
                continue  # already reported: the front matter has no 'name'
            try:
                fields[key] = check(slug, meta.get(key, empty.get(key)))
            except InvalidPrompt as error:
                self.problem(str(error), lines.key(key))
        if not parsed or not messages:
            return None
        if self.problems:
            return None
        fields["messages"] = check_messages(
            slug, [message for message, _, _ in messages], self.limits
        )
        return PromptFile(
            path=self.relative,
            slug=slug,
            name=fields["name"],
            description=fields["description"],
            tags=list(dict.fromkeys([*fields["tags"], self.folder])),
            content={key: fields[key] for key in CONTENT_FIELDS},
            source_hash=self.hash.hexdigest(),
        )


class _Lines:
    """File line numbers (1-based) of front matter keys and list items, from the YAML nodes.

    The front matter is composed into nodes only when a line is asked for
    (mostly to report a problem), so a clean sync parses each file's YAML once.
    """

    def __init__(self, front: str, leading: int) -> None:
        self.front = front
        self.offset = leading + 1

    @functools.cached_property
    def nodes(self) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        tree = yaml.compose(self.front, Loader=_YAML_LOADER)
        if not isinstance(tree, yaml.MappingNode):
            return {}
        return {
            key.value: (key, value) for key, value in tree.value if isinstance(key, yaml.ScalarNode)
        }

    def key(self, key: str) -> int | None:
        node = self.nodes.get(key)
        return node[0].start_mark.line + self.offset if node is not None else None

    def item(self, key: str, index: int) -> int | None:
        node = self.nodes.get(key)
        if node is None or not isinstance(node[1], yaml.SequenceNode):
            return self.key(key)
        item: yaml.Node = node[1].value[index]
        return item.start_mark.line + self.offset


def _yaml_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        return " ".join(part for part in (error.context, error.problem) if part)
    return str(error)


def _outside(path: Path, root: Path) -> str | None:
    """Why ``path`` may not be read: a symlink (or ``..``) that leads out of ``root``."""
    target = path.resolve()
    if target.is_relative_to(root):
        return None
    return f"resolves to {target}, outside the prompts folder {root}: refused"


def read_prompt_files(
    root: str | os.PathLike[str], subfolders: Sequence[str], limits: RenderLimits
) -> PromptFiles:
    """Every prompt in the ``*.md`` files of ``subfolders`` of ``root``, each checked.

    Problems are collected, not raised, so the partials of the files can still
    be checked (:func:`sync_prompts` raises them all). Only the files directly
    in each subfolder are prompts; a file or subfolder that is a symlink
    leading out of ``root`` is refused, as a ``body_file`` that does.
    """
    base = Path(root).resolve()
    if not base.is_dir():
        return PromptFiles(
            [], [], [FileProblem(str(root), "the prompts folder does not exist")], []
        )
    problems: list[FileProblem] = []
    warnings: list[FileProblem] = []
    files: list[PromptFile] = []
    templates: list[Templates] = []
    read: set[Path] = set()
    for folder in subfolders:
        directory = base / folder
        if not directory.is_dir():
            continue
        refused = _outside(directory, base)
        if refused is not None:
            problems.append(FileProblem(folder, refused))
            continue
        for path in sorted(directory.glob("*.md")):
            read.add(path)
            refused = _outside(path, base)
            if refused is not None:
                problems.append(FileProblem(path.relative_to(base).as_posix(), refused))
                continue
            reader = _FileReader(path, base, folder, limits)
            prompt = reader.read()
            problems.extend(reader.problems)
            warnings.extend(reader.warnings)
            if reader.templates is not None:
                templates.append(reader.templates)
            if prompt is not None:
                files.append(prompt)
    warnings.extend(_skipped_prompt_files(base, subfolders, read))

    first_path: dict[str, str] = {}
    for prompt in files:
        if prompt.slug in first_path:
            problems.append(
                FileProblem(
                    prompt.path,
                    f"slug {prompt.slug!r} is already used by {first_path[prompt.slug]}",
                )
            )
        first_path.setdefault(prompt.slug, prompt.path)
    return PromptFiles(files, templates, problems, warnings)


def _skipped_prompt_files(
    base: Path, subfolders: Sequence[str], read: set[Path]
) -> list[FileProblem]:
    """``*.md`` files with front matter that the sync does not read: likely misplaced prompts.

    Body files and READMEs have no front matter, so they pass silently.
    """
    skipped = []
    for folder, directories, names in os.walk(base):
        directories.sort()
        for name in sorted(names):
            path = Path(folder, name)
            if not name.endswith(".md") or path in read or _outside(path, base) is not None:
                continue
            try:
                with path.open(encoding="utf-8") as file:
                    start = file.read(64).lstrip()
            except (OSError, UnicodeDecodeError):
                continue
            if frontmatter.checks(start):
                skipped.append(
                    FileProblem(
                        path.relative_to(base).as_posix(),
                        "has front matter but is skipped: prompt files must be directly in"
                        f" a folder of LLM_LOGS_PROMPT_SUBFOLDERS ({', '.join(subfolders)})",
                    )
                )
    return skipped


def _partial_problems(session: Session, found: PromptFiles, max_depth: int) -> list[FileProblem]:
    """Every ``{{> slug}}`` must resolve, in the files or the database, without a cycle.

    The templates of files with other problems are checked too, so one run
    reports everything.
    """
    by_slug: dict[str, str] = {}
    for templates in found.templates:
        by_slug.setdefault(templates.slug, partial_text(templates.contents))

    def load(slug: str) -> str | None:
        if slug in by_slug:
            return by_slug[slug]
        row = session.execute(with_current_version().where(PromptRecord.slug == slug)).first()
        if row is None or row[1] is None:
            return None
        return partial_text(message["content"] for message in row[1].messages)

    problems = []
    for templates in found.templates:
        try:
            collect_partials(templates.slug, templates.contents, load, max_depth)
        except PromptError as error:
            problems.append(FileProblem(templates.path, str(error)))
    return problems


def _lock(session: Session, slugs: Sequence[str]) -> None:
    """Queue behind any other sync, then lock the rows of the prompts this sync touches."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SYNC_LOCK_KEY})
        session.execute(
            select(PromptRecord.id).where(PromptRecord.slug.in_(slugs)).with_for_update()
        )
    else:
        # A write as the first statement takes SQLite's database write lock.
        session.execute(text("UPDATE llm_logs_prompts SET id = id WHERE 1 = 0"))


def _new_version(prompt: PromptFile, number: int) -> PromptVersion:
    return PromptVersion(
        version_number=number, changelog=f"Synced from {prompt.path}", **prompt.content
    )


def _apply(
    session: Session,
    prompt: PromptFile,
    row: tuple[PromptRecord, PromptVersion | None] | None,
    dry_run: bool,
) -> SyncChange:
    """Stage one prompt's changes in ``session``; they are all flushed together at commit.

    Version numbers come from the state read under the sync's locks.
    """
    if row is None:
        if not dry_run:
            record = PromptRecord(
                slug=prompt.slug,
                name=prompt.name,
                description=prompt.description,
                tags=prompt.tags,
                source_path=prompt.path,
                source_hash=prompt.source_hash,
            )
            record.versions.append(_new_version(prompt, 1))
            session.add(record)
        return SyncChange(prompt.slug, prompt.path, "created", ("content",), 1)

    record, current = row
    metadata = {"name": prompt.name, "description": prompt.description, "tags": prompt.tags}
    changed = [key for key, value in metadata.items() if getattr(record, key) != value]
    content_changed = current is None or any(
        getattr(current, key) != value for key, value in prompt.content.items()
    )
    if content_changed:
        changed.append("content")
    if not dry_run and (record.source_path, record.source_hash) != (
        prompt.path,
        prompt.source_hash,
    ):
        # Where the prompt comes from is bookkeeping, not a change of the prompt:
        # a file reformatted (or written by export-prompts) leaves it "unchanged".
        record.source_path, record.source_hash = prompt.path, prompt.source_hash
    if not changed:
        return SyncChange(prompt.slug, prompt.path, "unchanged")
    number = next_version_number(current)
    if not dry_run:
        for key in changed:
            if key != "content":
                setattr(record, key, metadata[key])
        record.updated_at = utcnow()
        if content_changed:
            version = _new_version(prompt, number)
            version.prompt_id = record.id
            session.add(version)
    return SyncChange(
        prompt.slug, prompt.path, "updated", tuple(changed), number if content_changed else None
    )


def sync_prompts(
    root: str | os.PathLike[str] | None = None, *, dry_run: bool = False
) -> SyncReport:
    """Sync the prompt files under ``root`` (default ``LLM_LOGS_PROMPTS_SOURCE_PATH``).

    :param dry_run: work out and report the changes, write nothing.
    :raises PromptSyncError: a file has problems (all listed, with the
        warnings); nothing was written.
    """
    state = get_state()
    store = state.prompt_store
    if root is None:
        root = state.settings.prompts_source_path
    if root is None:
        raise PromptSyncError(
            [FileProblem("LLM_LOGS_PROMPTS_SOURCE_PATH", "is not set; pass the prompts folder")]
        )
    found = read_prompt_files(root, state.settings.prompt_subfolders, store.limits)
    files = found.prompts
    slugs = [prompt.slug for prompt in files]
    with store.sessions.begin() as session:
        if not dry_run:
            _lock(session, slugs)
        problems = [
            *found.problems,
            *_partial_problems(session, found, store.limits.max_partial_depth),
        ]
        if problems:
            raise PromptSyncError(problems, found.warnings)
        existing = {
            record.slug: (record, current)
            for record, current in session.execute(
                with_current_version().where(PromptRecord.slug.in_(slugs))
            )
        }
        changes = tuple(
            _apply(session, prompt, existing.get(prompt.slug), dry_run) for prompt in files
        )
    if not dry_run:
        store.cache.invalidate(*(change.slug for change in changes))
    return SyncReport(changes, dry_run, tuple(found.warnings))


@dataclasses.dataclass(frozen=True)
class Difference:
    """A prompt whose database content is not what its file says."""

    slug: str
    path: str
    #: What differs: fields (name, description, tags, content), ``"not in the
    #: database"`` for a file never synced, or ``"file missing"``.
    differs: tuple[str, ...]


#: ``Difference.differs`` of a file no prompt was made from yet.
NOT_IN_DATABASE = "not in the database"
#: ``Difference.differs`` of a prompt whose recorded source file is gone.
FILE_MISSING = "file missing"


def check_prompts(
    root: str | os.PathLike[str] | None = None,
) -> tuple[list[Difference], tuple[FileProblem, ...]]:
    """Every prompt whose database content differs from its file, and the files' warnings.

    A dry-run sync, plus the prompts synced from a file that is not there any
    more. Nothing is written (``sync-prompts --check``, for CI and deploys).

    :raises PromptSyncError: a file has problems, as :func:`sync_prompts`.
    """
    report = sync_prompts(root, dry_run=True)
    differences = [
        Difference(
            change.slug,
            change.path,
            (NOT_IN_DATABASE,) if change.action == "created" else change.changed,
        )
        for change in report.changes
        if change.action != "unchanged"
    ]
    synced = {change.slug for change in report.changes}
    with get_state().prompt_store.sessions() as session:
        managed = session.execute(
            select(PromptRecord.slug, PromptRecord.source_path)
            .where(PromptRecord.source_path.is_not(None))
            .order_by(PromptRecord.slug)
        ).all()
    differences.extend(
        Difference(slug, path or "", (FILE_MISSING,))
        for slug, path in managed
        if slug not in synced
    )
    return differences, report.warnings
