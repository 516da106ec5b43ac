"""``flask llm-logs sync-prompts``: Markdown prompt files into versioned prompts."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..prompts import FileProblem
from ..prompts import PromptSyncError
from ..prompts.sync import SyncChange
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
@json_option
@with_appcontext
def sync_prompts_command(path: Path | None, dry_run: bool, as_json: bool) -> None:
    if path is None and get_state().settings.prompts_source_path is None:
        raise click.UsageError("no prompts folder: pass --path or set LLM_LOGS_PROMPTS_SOURCE_PATH")
    try:
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
