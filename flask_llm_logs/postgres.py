"""Settings of one PostgreSQL transaction.

A statement that needs something of the planner or of the lock manager
(no JIT, a lock not waited for long) asks it for its own transaction
only: ``SET LOCAL`` ends with the transaction, before the connection goes
back to the pool, so the pool's next user has the server's settings.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection


def set_local(connection: Connection, **settings: str) -> None:
    """``SET LOCAL`` each of ``settings`` (names and values of ours, not a user's), in
    one round trip; nothing on another database."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "; ".join(f"SET LOCAL {name} = '{value}'" for name, value in settings.items())
        )
