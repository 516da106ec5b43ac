"""Alembic environment: runs on the connection handed over in ``config.attributes``."""

from alembic import context

from flask_llm_logs.migrations import VERSION_TABLE
from flask_llm_logs.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
