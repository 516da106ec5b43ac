"""``flask llm-logs``: the command group, one module per area."""

from flask.cli import AppGroup

from .batches import batches
from .batches import worker
from .db import db
from .prompts import sync_prompts_command
from .retention import purge

cli = AppGroup("llm-logs", help="Tracing, prompts and batches of flask-llm-logs.")
cli.add_command(db)
cli.add_command(sync_prompts_command)
cli.add_command(purge)
cli.add_command(batches)
cli.add_command(worker)
