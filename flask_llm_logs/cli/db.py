"""``flask llm-logs db``: the extension's own migrations."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from .. import migrations
from .. import repartition
from ..migrations.status import schema_problem
from ..state import get_state
from .output import json_option
from .output import report


@click.group(
    cls=AppGroup, help="Create and upgrade the flask-llm-logs tables (apart from the host's)."
)
def db() -> None:
    pass


def _current() -> str | None:
    with get_state().engine.connect() as connection:
        return migrations.current(connection) or None


@db.command(help="Upgrade the tables to REVISION (default: the latest).")
@click.argument("revision", default="head")
@json_option
def upgrade(revision: str, as_json: bool) -> None:
    with get_state().engine.begin() as connection:
        migrations.upgrade(connection, revision)
    result = {"target": revision, "current": _current()}
    report(result, f"flask-llm-logs tables upgraded to {revision}.", as_json=as_json)


@db.command(
    help="Downgrade the tables to REVISION (default: one step back; 'base' drops them all)."
)
@click.argument("revision", default="-1")
@json_option
def downgrade(revision: str, as_json: bool) -> None:
    with get_state().engine.begin() as connection:
        migrations.downgrade(connection, revision)
    result = {"target": revision, "current": _current()}
    report(result, f"flask-llm-logs tables downgraded to {revision}.", as_json=as_json)


@db.command(help="Show the revision the tables are at.")
@json_option
def current(as_json: bool) -> None:
    revision = _current()
    text = revision or "none (run: flask llm-logs db upgrade)"
    report({"current": revision}, text, as_json=as_json)


@db.command(help="Exit with status 1 unless the tables are at the latest revision (deploys).")
@json_option
def check(as_json: bool) -> None:
    with get_state().engine.connect() as connection:
        problem = schema_problem(connection)
    if problem is not None and not as_json:
        raise click.ClickException(problem)
    text = "flask-llm-logs tables are at head."
    result = {"at_head": problem is None, "problem": problem}
    report(result, text, as_json=as_json, failed=problem is not None)


@db.command(
    help="Partition the tables 0011 left unpartitioned because they held rows (PostgreSQL):"
    " rows are copied in chunks while the app runs; run it again to resume."
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=repartition.DEFAULT_CHUNK_SIZE,
    show_default=True,
    help="Rows copied per transaction.",
)
@json_option
def partition(chunk_size: int, as_json: bool) -> None:
    state = get_state()
    tables = repartition.unpartitioned(state.engine)

    def progress(step: repartition.Progress) -> None:
        if not as_json:
            total = max(step.estimated, step.copied)
            click.echo(f"{step.table}: {step.copied} of about {total} rows copied", err=True)

    for table in tables:
        repartition.partition_table(
            state.engine,
            table,
            state.settings.partition_interval,
            chunk_size=chunk_size,
            on_progress=progress,
        )
    text = f"Partitioned: {', '.join(tables)}." if tables else "Every table is partitioned already."
    report({"partitioned": tables}, text, as_json=as_json)
