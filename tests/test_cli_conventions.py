"""The conventions every ``flask llm-logs`` command follows (see ``cli/output.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import click
from flask.cli import AppGroup

from flask_llm_logs.cli import cli

#: Runs until stopped and prints RQ's log: it has no result to report.
NO_RESULT = {("worker",)}


def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            assert isinstance(command, AppGroup), f"{name}: not an AppGroup"
            yield from commands(command, (*path, name))
        else:
            yield (*path, name)


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def test_every_command_takes_json_and_every_group_is_an_app_group() -> None:
    paths = set(commands(cli))
    assert {("batches", "poll"), ("db", "current"), ("purge",), ("sync-prompts",)} <= paths
    for path in paths - NO_RESULT:
        options = [opt for param in command_at(path).params for opt in param.opts]
        assert "--json" in options, f"flask llm-logs {' '.join(path)} has no --json"
