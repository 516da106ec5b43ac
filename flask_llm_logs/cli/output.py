"""How every ``flask llm-logs`` command reports: text for people, JSON for scripts.

Every command takes ``--json``: its result goes to stdout as one JSON object
instead of text, whatever the exit status, so a script reads the same keys
whether the command worked or not. The exit status is 0 when everything
worked, 1 when something failed (the text or the JSON says what) and 2 for a
usage error (click's). Commands are defined in an :class:`~flask.cli.AppGroup`
or with :func:`~flask.cli.with_appcontext`, so they run in the app's context
under ``flask`` and under ``app.test_cli_runner()`` alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(command: F) -> F:
    """The ``--json`` flag, passed to the command as ``as_json``."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print the result as JSON (for scripts)."
    )(command)


def report(result: Mapping[str, Any], text: str, *, as_json: bool, failed: bool = False) -> None:
    """Print ``result`` as JSON, or ``text``; then exit with status 1 if ``failed``."""
    click.echo(json.dumps(result, sort_keys=True, default=str) if as_json else text)
    if failed:
        raise SystemExit(1)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 request``, ``2 requests``; ``nouns`` where an ``s`` will not do."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
