"""Prompts to Markdown files: what ``flask llm-logs export-prompts`` does.

The files are written in the format :mod:`.sync` reads, chosen so that the
next sync finds nothing to change: an edit made in the UI becomes a file
diff to commit. A prompt goes back to the file it was synced from; a prompt
made through the API or the UI goes to ``<folder>/<slug>.md``, in the
subfolder named by one of its tags, else the first of
``LLM_LOGS_PROMPT_SUBFOLDERS`` (whose name the sync then adds to its tags:
the one change a round trip can make, reported as a warning).

-   One system message without a ``name`` whose text has no surrounding
    blanks: the body below the front matter.
-   Several messages: a body file each (``trading_memo_system.md``), the
    names the prompt file already uses kept; a text a body file cannot hold
    exactly (surrounding blanks, a leading ``---``) goes in the front
    matter's ``content:`` instead.

YAML is written with PyYAML's safe dumper, which quotes whatever would read
back differently (``"yes"``, ``"1.0"``, trailing spaces).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from frontmatter.default_handlers import YAMLHandler

from .errors import InvalidPrompt
from .frozen import thaw
from .prompt import Prompt
from .store import Version


@dataclasses.dataclass(frozen=True)
class ExportedPrompt:
    """One prompt written (or found already written) to its files."""

    slug: str
    #: The prompt file, relative to the prompts folder.
    path: str
    version_number: int
    #: Every file of the prompt (prompt file first, then body files), relative.
    files: tuple[str, ...]
    #: Whether any file's content changed.
    written: bool


@dataclasses.dataclass(frozen=True)
class ExportReport:
    exported: tuple[ExportedPrompt, ...]
    #: Prompts not exported (no version, a message ``name``) and round-trip caveats.
    warnings: tuple[str, ...]


class _Dumper(yaml.SafeDumper):
    """Multi-line texts as ``|`` blocks where YAML can hold them exactly, else quoted."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def _yaml(data: Mapping[str, Any]) -> str:
    return yaml.dump(
        dict(data),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


def _fits_body(content: str) -> bool:
    """Whether a file body holds ``content`` exactly: the sync strips it and reads front matter."""
    return bool(content) and content == content.strip() and not frontmatter.checks(content)


def _folder(prompt: Prompt, subfolders: Sequence[str]) -> str:
    for tag in prompt.tags:
        if tag in subfolders:
            return str(tag)
    return subfolders[0]


def _front_matter(path: Path) -> Mapping[str, Any] | None:
    """The front matter of the file at ``path`` now, if it has one that reads."""
    try:
        text = path.read_text(encoding="utf-8").lstrip()
        if not frontmatter.checks(text):
            return None
        meta = yaml.safe_load(YAMLHandler().split(text)[0])
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        return None
    return meta if isinstance(meta, Mapping) else None


#: How the prompt file holds a message now: its text inline in ``content:``.
INLINE = ""


def _layout(meta: Mapping[str, Any] | None) -> list[str | None]:
    """How the prompt file holds each message now, to keep it that way.

    The ``body_file`` name, :data:`INLINE`, or ``None`` when it says nothing usable.
    """
    listed = meta.get("messages") if meta is not None else None
    if not isinstance(listed, list):
        return []
    layout: list[str | None] = []
    for item in listed:
        item = item if isinstance(item, Mapping) else {}
        name = item.get("body_file")
        if isinstance(name, str) and name and "/" not in name:
            layout.append(name)
        else:
            layout.append(INLINE if "content" in item else None)
    return layout


def _body_file_name(stem: str, messages: Sequence[Mapping[str, Any]], number: int) -> str:
    role = messages[number - 1]["role"]
    if sum(message["role"] == role for message in messages) == 1:
        return f"{stem}_{role}.md"
    return f"{stem}_{number}_{role}.md"


def prompt_files(prompt: Prompt, version: Version, path: str, root: Path) -> dict[str, str]:
    """The files (relative path: text) that make ``version`` of ``prompt`` at ``path``.

    :raises InvalidPrompt: the version cannot be written as files (a message ``name``).
    """
    messages = version.messages
    existing = _front_matter(root / path)
    if existing is not None and existing.get("slug") != prompt.slug:
        raise InvalidPrompt(
            f"prompt {prompt.slug!r}: {path} holds prompt {existing.get('slug')!r}; not exported"
        )
    named = [number for number, message in enumerate(messages, 1) if message.get("name")]
    if named:
        raise InvalidPrompt(
            f"prompt {prompt.slug!r}: message {named[0]} has a name, which prompt files cannot"
            " hold; not exported"
        )
    folder = path.rpartition("/")[0]
    meta: dict[str, Any] = {"slug": prompt.slug, "name": prompt.name}
    if prompt.description is not None:
        meta["description"] = prompt.description
    tags = list(prompt.tags)
    if tags and tags[-1] == folder.rpartition("/")[2]:
        tags.pop()  # the sync adds the folder's name at the end
    if tags:
        meta["tags"] = tags
    if version.model is not None:
        meta["model"] = version.model
    if version.model_params:
        meta["model_params"] = thaw(version.model_params)
    if version.default_variables:
        meta["default_variables"] = thaw(version.default_variables)

    files: dict[str, str] = {}
    body = ""
    only = messages[0]
    if len(messages) == 1 and only["role"] == "system" and _fits_body(only["content"]):
        body = only["content"] + "\n"
    else:
        layout = _layout(existing)
        stem = Path(path).stem.replace("-", "_").replace(".", "_")
        listed = []
        for number, message in enumerate(messages, 1):
            content = message["content"]
            kept = layout[number - 1] if number <= len(layout) else None
            if kept == INLINE or not _fits_body(content):
                listed.append({"role": message["role"], "content": content})
                continue
            name = kept or _body_file_name(stem, messages, number)
            listed.append({"role": message["role"], "body_file": name})
            files[f"{folder}/{name}" if folder else name] = content + "\n"
        meta["messages"] = listed
    return {path: f"---\n{_yaml(meta)}---\n{body}", **files}


def _write(root: Path, files: Mapping[str, str]) -> bool:
    changed = False
    for relative, text in files.items():
        target = root / relative
        try:
            if target.read_text(encoding="utf-8") == text:
                continue
        except (OSError, UnicodeDecodeError):
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        # newline="": the text's own "\n" line endings, on every platform.
        with target.open("w", encoding="utf-8", newline="") as file:
            file.write(text)
        changed = True
    return changed


def export_prompts(
    root: str | os.PathLike[str],
    subfolders: Sequence[str],
    prompts: Iterable[Prompt],
    version_of: Callable[[Prompt], Version | None] = lambda prompt: prompt.current_version,
) -> ExportReport:
    """Write each prompt's version (by default its current one) as files under ``root``.

    Files whose content is already right are not touched.
    """
    base = Path(root)
    exported = []
    warnings = []
    for prompt in prompts:
        version = version_of(prompt)
        if version is None:
            warnings.append(f"prompt {prompt.slug!r} has no version to export; not exported")
            continue
        path = prompt.source_path
        if path is None:
            folder = _folder(prompt, subfolders)
            path = f"{folder}/{prompt.slug}.md"
            if folder not in prompt.tags:
                warnings.append(
                    f"prompt {prompt.slug!r} goes to {path}: the next sync adds the tag {folder!r}"
                )
        try:
            files = prompt_files(prompt, version, path, base)
        except InvalidPrompt as error:
            warnings.append(str(error))
            continue
        exported.append(
            ExportedPrompt(
                prompt.slug, path, version.version_number, tuple(files), _write(base, files)
            )
        )
    return ExportReport(tuple(exported), tuple(warnings))
