"""``flask llm-logs batches ...`` and ``flask llm-logs worker``."""

from __future__ import annotations

import json
from typing import Any

import click

from ..state import get_state


def _echo(result: dict[str, Any]) -> None:
    click.echo(json.dumps(result, sort_keys=True))


@click.group(help="Submit, reconcile and retry batch requests.")
def batches() -> None:
    pass


@batches.command(help="Submit the pending requests of PURPOSE (default: every purpose).")
@click.argument("purpose", required=False)
def flush(purpose: str | None) -> None:
    from ..batches import flush

    _echo(flush(purpose).as_dict())


@batches.command(help="Reconcile unfinished batches, run handlers, recover stale claims.")
def poll() -> None:
    from ..batches import poll

    _echo(poll().as_dict())


@batches.command(
    help="Run the handler again on the stored result of failed request REQUEST_ID"
    " (an id or a custom id), or of every failed request with --failed. No LLM call."
)
@click.argument("request_id", required=False)
@click.option("--purpose", help="With --failed: only requests of this purpose.")
@click.option("--batch", "batch_id", type=int, help="With --failed: only this batch.")
@click.option("--failed", is_flag=True, help="Retry every failed request with a result.")
def retry(request_id: str | None, purpose: str | None, batch_id: int | None, failed: bool) -> None:
    from ..batches import retry_failed
    from ..batches import retry_request

    if failed == (request_id is not None):
        raise click.UsageError("give either REQUEST_ID or --failed")
    if request_id is None:
        _echo(retry_failed(purpose=purpose, batch_id=batch_id).as_dict())
        return
    if purpose is not None or batch_id is not None:
        raise click.UsageError("--purpose and --batch go with --failed")
    key: int | str = int(request_id) if request_id.isdigit() else request_id
    try:
        request = retry_request(key)
    except (LookupError, ValueError) as error:
        raise click.ClickException(str(error.args[0] if error.args else error)) from None
    _echo({"id": request.id, "status": request.status, "error": request.error})
    if request.status == "failed":
        raise SystemExit(1)


@click.command(help="Run an RQ worker for the llm_logs queue inside this app's context.")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@click.option("--with-scheduler", is_flag=True, help="Also run RQ's scheduler (job retries).")
@click.option(
    "--queue", "queues", multiple=True, help="Queues to listen on (default: LLM_LOGS_QUEUE)."
)
def worker(burst: bool, with_scheduler: bool, queues: tuple[str, ...]) -> None:
    from ..jobs import Worker
    from ..jobs import queue_for

    state = get_state()
    queue = queue_for(state)
    names = list(queues) or [queue.name]
    Worker(names, connection=queue.connection, app=state.app).work(
        burst=burst, with_scheduler=with_scheduler
    )


@batches.command(help="Cancel batch BATCH_ID at the provider and mark it cancelled.")
@click.argument("batch_id", type=int)
def cancel(batch_id: int) -> None:
    from ..batches import cancel_batch

    try:
        record = cancel_batch(batch_id)
    except (LookupError, ValueError) as error:
        raise click.ClickException(str(error.args[0] if error.args else error)) from None
    _echo({"id": record.id, "status": record.status})


@batches.command(
    help="Give the failed requests of batch BATCH_ID (failed, expired, cancelled) back"
    " to the next flush, for a new submission. Succeeded requests are never requeued."
)
@click.argument("batch_id", type=int)
def requeue(batch_id: int) -> None:
    from ..batches import requeue_batch

    try:
        requeued = requeue_batch(batch_id)
    except LookupError as error:
        raise click.ClickException(str(error.args[0] if error.args else error)) from None
    _echo({"id": batch_id, "requeued": requeued})
