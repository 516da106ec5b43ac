"""``flask llm-logs alerts check``: evaluate ``LLM_LOGS_ALERTS`` now."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from .output import json_option
from .output import plural
from .output import report


@click.group(cls=AppGroup, help="Alert rules (LLM_LOGS_ALERTS).")
def alerts() -> None:
    pass


@alerts.command(
    help="Evaluate every rule and notify the alerts that started or ended, as the"
    " check_alerts job does. Exits with status 1 if a rule could not be checked or a"
    " notification failed."
)
@json_option
def check(as_json: bool) -> None:
    from ..alerts.check import check_alerts

    result = check_alerts()

    def names(found: list[str]) -> str:
        return f" ({', '.join(found)})" if found else ""

    lines = [
        f"Checked {plural(result.rules, 'rule')}: {len(result.fired)} fired{names(result.fired)},"
        f" {len(result.resolved)} resolved{names(result.resolved)}."
    ]
    if result.failed_notifications:
        lines.append(
            f"{plural(result.failed_notifications, 'notification')} failed (see the alerts page)."
        )
    for rule, error in result.errors.items():
        lines.append(f"Rule {rule!r} could not be checked: {error}")
    failed = bool(result.failed_notifications or result.errors)
    report(result.as_dict(), "\n".join(lines), as_json=as_json, failed=failed)
