"""``flask llm-logs purge``: delete traces older than the retention period."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from ..tracing import retention
from .output import json_option
from .output import report


@click.command(
    help="Delete traces (and their spans) older than LLM_LOGS_RETENTION_DAYS;"
    " mark traces still running after LLM_LOGS_INCOMPLETE_AFTER as incomplete."
)
@click.option(
    "--days",
    type=click.IntRange(min=0),
    help="Keep this many days instead of LLM_LOGS_RETENTION_DAYS.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=retention.DEFAULT_CHUNK_SIZE,
    show_default=True,
    help="Traces deleted per transaction.",
)
@json_option
@with_appcontext
def purge(days: int | None, dry_run: bool, chunk_size: int, as_json: bool) -> None:
    plan = retention.plan_purge(days)
    result: dict[str, Any] = {
        "cutoff": plan.cutoff.isoformat(),
        "traces": plan.traces,
        "spans": plan.spans,
        "kept_linked": plan.kept_linked,
        "incomplete": plan.incomplete,
        "marked_incomplete": None,
        "deleted": None,
    }
    when = plan.cutoff.strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"{plan.traces} traces ({plan.spans} spans) started before {when};"
        f" {plan.kept_linked} older ones are kept because a batch request links to them.\n"
        f"{plan.incomplete} traces have been running for more than LLM_LOGS_INCOMPLETE_AFTER;"
        " their end never arrived."
    )
    if dry_run:
        report(result, f"{text}\nDry run: nothing deleted or marked.", as_json=as_json)
        return
    result["marked_incomplete"] = retention.mark_incomplete()
    if as_json:
        result["deleted"] = retention.purge_old_traces(days, chunk_size=chunk_size)
    else:
        click.echo(f"{text}\nMarked {result['marked_incomplete']} traces incomplete.")
        with click.progressbar(length=plan.traces, label="Deleting traces") as bar:
            result["deleted"] = retention.purge_old_traces(
                days, chunk_size=chunk_size, on_chunk=bar.update
            )
    report(result, f"Deleted {result['deleted']} traces and their spans.", as_json=as_json)
