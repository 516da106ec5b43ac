"""``flask llm-logs``: the command group, one module per area."""

from typing import Any

import click
import sqlalchemy as sa
from flask.cli import AppGroup
from flask.cli import ScriptInfo

from ..migrations.status import describe
from ..state import get_state
from .alerts import alerts
from .batches import batches
from .batches import worker
from .db import db
from .prompts import sync_prompts_command
from .retention import purge


class LlmLogsGroup(AppGroup):
    """Says "run ``flask llm-logs db upgrade``" in one line when that is what a command needs.

    Checked only once a command's query failed, so every command, present and
    future, gets it without a query of its own, and ``--help`` needs no database.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except sa.exc.DBAPIError as error:
            app = ctx.ensure_object(ScriptInfo).load_app()
            problem = describe(error, get_state(app).engine)
            if problem is None:
                raise
            raise click.ClickException(problem) from None


cli = LlmLogsGroup("llm-logs", help="Tracing, prompts, batches and alerts of flask-llm-logs.")
cli.add_command(db)
cli.add_command(sync_prompts_command)
cli.add_command(purge)
cli.add_command(batches)
cli.add_command(worker)
cli.add_command(alerts)
