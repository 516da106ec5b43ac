"""``flask llm-logs sync-prompts`` and ``export-prompts``: prompt files and the database."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..prompts import FileProblem
from ..prompts import Prompt
from ..prompts import PromptError
from ..prompts import PromptSyncError
from ..prompts.export import export_prompts
from ..prompts.labels import check_label
from ..prompts.store import Version
from ..prompts.sync import SyncChange
from ..prompts.sync import check_prompts
from ..prompts.sync import sync_prompts
from ..state import get_state
from .output import json_option
from .output import plural
from .output import report


def _describe(change: SyncChange) -> str:
    details = []
    if change.version_number is not None:
        details.append(f"v{change.version_number}")
    changed = [field for field in change.changed if field != "content"]
    if change.action == "updated" and changed:
        details.append(", ".join(changed))
    detail = f" ({'; '.join(details)})" if details else ""
    return f"{change.action:<10} {change.slug}{detail}  [{change.path}]"


def _warn(warnings: Sequence[FileProblem]) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


def _check(path: Path | None, as_json: bool) -> None:
    differences, warnings = check_prompts(path)
    if not as_json:
        _warn(warnings)
        for difference in differences:
            click.echo(
                f"differs    {difference.slug} ({', '.join(difference.differs)})"
                f"  [{difference.path}]"
            )
    if differences:
        text = (
            f"{plural(len(differences), 'prompt differs', 'prompts differ')} from the files:"
            " run sync-prompts, or export-prompts to keep the database's."
        )
    else:
        text = "Every prompt is in step with its file."
    result = {
        "differences": [dataclasses.asdict(difference) for difference in differences],
        "warnings": [str(warning) for warning in warnings],
    }
    report(result, text, as_json=as_json, failed=bool(differences))


@click.command(
    "sync-prompts",
    help=(
        "Create and update prompts from the *.md files in each LLM_LOGS_PROMPT_SUBFOLDERS folder"
        " of LLM_LOGS_PROMPTS_SOURCE_PATH. A new version is made only when messages, model or"
        " model parameters changed. All files are checked first: on any problem nothing is"
        " written and the command exits with status 1."
    ),
)
@click.option(
    "--path",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The prompts folder (default: LLM_LOGS_PROMPTS_SOURCE_PATH).",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option(
    "--check",
    is_flag=True,
    help=(
        "List every prompt whose database content differs from its file and exit with status 1"
        " if there is one (for CI and deploys); write nothing."
    ),
)
@json_option
@with_appcontext
def sync_prompts_command(path: Path | None, dry_run: bool, check: bool, as_json: bool) -> None:
    if path is None and get_state().settings.prompts_source_path is None:
        raise click.UsageError("no prompts folder: pass --path or set LLM_LOGS_PROMPTS_SOURCE_PATH")
    try:
        if check:
            _check(path, as_json)
            return
        synced = sync_prompts(path, dry_run=dry_run)
    except PromptSyncError as error:
        problems = [str(problem) for problem in error.problems]
        summary = f"sync-prompts failed: {plural(len(problems), 'problem')}; nothing written."
        if as_json:
            warnings = [str(warning) for warning in error.warnings]
            report({"problems": problems, "warnings": warnings}, summary, as_json=True, failed=True)
        _warn(error.warnings)
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(summary, err=True)
        raise SystemExit(1) from None

    if not as_json:
        _warn(synced.warnings)
        for change in synced.changes:
            click.echo(_describe(change))
    counts = (
        f"{synced.count('created')} created, {synced.count('updated')} updated,"
        f" {synced.count('unchanged')} unchanged"
    )
    total = len(synced.changes)
    if dry_run:
        text = f"Dry run: would sync {total} prompts: {counts}. Nothing written."
    else:
        text = f"Synced {total} prompts: {counts}."
    result = {
        "dry_run": dry_run,
        "changes": [dataclasses.asdict(change) for change in synced.changes],
        "warnings": [str(warning) for warning in synced.warnings],
    }
    report(result, text, as_json=as_json)


@click.command(
    "export-prompts",
    help=(
        "Write prompts from the database to Markdown files in the format sync-prompts reads,"
        " so that edits made in the UI can be committed: each prompt goes back to the file it"
        " was synced from, or to <folder>/<slug>.md. Syncing the files afterwards changes"
        " nothing. Files already right are not touched."
    ),
)
@click.option(
    "--path",
    type=click.Path(file_okay=False, path_type=Path),
    help="The prompts folder (default: LLM_LOGS_PROMPTS_SOURCE_PATH).",
)
@click.option("--slug", "slugs", multiple=True, help="Export only this prompt (repeatable).")
@click.option(
    "--label",
    help="Export the version this label names (production, staging...) instead of the latest.",
)
@json_option
@with_appcontext
def export_prompts_command(
    path: Path | None, slugs: tuple[str, ...], label: str | None, as_json: bool
) -> None:
    settings = get_state().settings
    root = path if path is not None else settings.prompts_source_path
    if root is None:
        raise click.UsageError("no prompts folder: pass --path or set LLM_LOGS_PROMPTS_SOURCE_PATH")
    try:
        if label is not None:
            check_label(label, "--label")
        prompts = [Prompt.load(slug, cache=False) for slug in slugs] if slugs else Prompt.all()
    except PromptError as error:
        raise click.UsageError(str(error)) from None

    def labelled(prompt: Prompt) -> Version | None:
        number = prompt.labels.get(str(label))
        return None if number is None else prompt.version(number)

    exported = export_prompts(
        root,
        settings.prompt_subfolders,
        prompts,
        version_of=labelled if label is not None else lambda prompt: prompt.current_version,
    )
    if not as_json:
        for warning in exported.warnings:
            click.echo(f"warning: {warning}", err=True)
        for prompt in exported.exported:
            action = "written" if prompt.written else "unchanged"
            click.echo(f"{action:<10} {prompt.slug} (v{prompt.version_number})  [{prompt.path}]")
    written = sum(prompt.written for prompt in exported.exported)
    text = (
        f"Exported {plural(len(exported.exported), 'prompt')} to {root}: {written} written,"
        f" {len(exported.exported) - written} unchanged."
    )
    result = {
        "exported": [dataclasses.asdict(prompt) for prompt in exported.exported],
        "warnings": list(exported.warnings),
    }
    report(result, text, as_json=as_json)
