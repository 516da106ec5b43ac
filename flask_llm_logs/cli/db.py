"""``flask llm-logs db``: the extension's own migrations."""

from __future__ import annotations

import click

from .. import migrations
from ..migrations.status import schema_problem
from ..state import get_state


@click.group(help="Create and upgrade the flask-llm-logs tables (apart from the host's).")
def db() -> None:
    pass


@db.command(help="Upgrade the tables to REVISION (default: the latest).")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    with get_state().engine.begin() as connection:
        migrations.upgrade(connection, revision)
    click.echo(f"flask-llm-logs tables upgraded to {revision}.")


@db.command(
    help="Downgrade the tables to REVISION (default: one step back; 'base' drops them all)."
)
@click.argument("revision", default="-1")
def downgrade(revision: str) -> None:
    with get_state().engine.begin() as connection:
        migrations.downgrade(connection, revision)
    click.echo(f"flask-llm-logs tables downgraded to {revision}.")


@db.command(help="Show the revision the tables are at.")
def current() -> None:
    with get_state().engine.connect() as connection:
        click.echo(migrations.current(connection) or "none (run: flask llm-logs db upgrade)")


@db.command(help="Exit with status 1 unless the tables are at the latest revision (deploys).")
def check() -> None:
    with get_state().engine.connect() as connection:
        problem = schema_problem(connection)
    if problem is not None:
        raise click.ClickException(problem)
    click.echo("flask-llm-logs tables are at head.")
