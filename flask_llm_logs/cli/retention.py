"""``flask llm-logs purge``: delete traces older than the retention period."""

from __future__ import annotations

import click

from ..tracing import retention


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
def purge(days: int | None, dry_run: bool, chunk_size: int) -> None:
    plan = retention.plan_purge(days)
    when = plan.cutoff.strftime("%Y-%m-%d %H:%M UTC")
    click.echo(
        f"{plan.traces} traces ({plan.spans} spans) started before {when};"
        f" {plan.kept_linked} older ones are kept because a batch request links to them."
    )
    click.echo(
        f"{plan.incomplete} traces have been running for more than LLM_LOGS_INCOMPLETE_AFTER;"
        " their end never arrived."
    )
    if dry_run:
        click.echo("Dry run: nothing deleted or marked.")
        return
    click.echo(f"Marked {retention.mark_incomplete()} traces incomplete.")
    with click.progressbar(length=plan.traces, label="Deleting traces") as bar:
        deleted = retention.purge_old_traces(days, chunk_size=chunk_size, on_chunk=bar.update)
    click.echo(f"Deleted {deleted} traces and their spans.")
