"""``flask llm-logs batches ...`` and ``flask llm-logs worker``."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from flask.cli import with_appcontext

from ..state import get_state
from .output import json_option
from .output import plural
from .output import report


@click.group(cls=AppGroup, help="Submit, reconcile and retry batch requests.")
def batches() -> None:
    pass


@batches.command(
    help="Submit the pending requests of PURPOSE (default: every purpose). Exits with"
    " status 1 if a submission or a synchronous request failed."
)
@click.argument("purpose", required=False)
@json_option
def flush(purpose: str | None, as_json: bool) -> None:
    from ..batches import flush

    result = flush(purpose)
    batch_count = plural(len(result.batches), "batch", "batches")
    lines = [f"Submitted {plural(result.submitted, 'request')} in {batch_count}."]
    if result.submit_failures:
        lines.append(
            f"{plural(result.submit_failures, 'batch submission')} failed; their requests"
            " are pending again (see the batches page)."
        )
    fallback = result.fallback
    if fallback.succeeded or fallback.failed:
        lines.append(
            f"Sent {plural(fallback.succeeded + fallback.failed, 'request')} synchronously:"
            f" {fallback.succeeded} delivered, {fallback.failed} failed."
        )
    failed = bool(result.submit_failures or fallback.failed)
    report(result.as_dict(), "\n".join(lines), as_json=as_json, failed=failed)


@batches.command(
    help="Reconcile unfinished batches, run handlers, recover stale claims. Exits with"
    " status 1 if a request failed or a batch could not be checked."
)
@json_option
def poll(as_json: bool) -> None:
    from ..batches import poll

    result = poll()
    delivered = result.delivered
    lines = [
        f"Checked {plural(result.checked, 'batch', 'batches')}, {result.reconciled} reconciled:"
        f" {plural(delivered.succeeded, 'request')} succeeded, {delivered.failed} failed."
    ]
    if result.recovery.adopted or result.recovery.released:
        lines.append(
            f"Stale claims: {result.recovery.adopted} adopted, {result.recovery.released} released."
        )
    if result.errors:
        lines.append(
            f"{plural(result.errors, 'check')} failed (see the log); the next poll tries again."
        )
    failed = bool(delivered.failed or result.errors)
    report(result.as_dict(), "\n".join(lines), as_json=as_json, failed=failed)


@batches.command(
    help="Run the handler again on the stored result of failed request REQUEST_ID"
    " (an id or a custom id), or of every failed request with --failed. No LLM call."
    " Exits with status 1 if a request failed again."
)
@click.argument("request_id", required=False)
@click.option("--purpose", help="With --failed: only requests of this purpose.")
@click.option("--batch", "batch_id", type=int, help="With --failed: only this batch.")
@click.option("--failed", is_flag=True, help="Retry every failed request with a result.")
@json_option
def retry(
    request_id: str | None, purpose: str | None, batch_id: int | None, failed: bool, as_json: bool
) -> None:
    from ..batches import retry_failed
    from ..batches import retry_request

    if failed == (request_id is not None):
        raise click.UsageError("give either REQUEST_ID or --failed")
    if request_id is None:
        result = retry_failed(purpose=purpose, batch_id=batch_id)
        text = (
            f"Retried {plural(result.succeeded + result.failed, 'failed request')}:"
            f" {result.succeeded} succeeded, {result.failed} failed again."
        )
        report(result.as_dict(), text, as_json=as_json, failed=result.failed > 0)
        return
    if purpose is not None or batch_id is not None:
        raise click.UsageError("--purpose and --batch go with --failed")
    key: int | str = int(request_id) if request_id.isdigit() else request_id
    try:
        request = retry_request(key)
    except (LookupError, ValueError) as error:
        raise click.ClickException(str(error.args[0] if error.args else error)) from None
    text = f"Request {request.id}: {request.status}."
    if request.error:
        text += f" {request.error}"
    report(
        {"id": request.id, "status": request.status, "error": request.error},
        text,
        as_json=as_json,
        failed=request.status == "failed",
    )


@click.command(help="Run an RQ worker for the llm_logs queue inside this app's context.")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@click.option("--with-scheduler", is_flag=True, help="Also run RQ's scheduler (job retries).")
@click.option(
    "--queue", "queues", multiple=True, help="Queues to listen on (default: LLM_LOGS_QUEUE)."
)
@with_appcontext
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
@json_option
def cancel(batch_id: int, as_json: bool) -> None:
    from ..batches import cancel_batch

    try:
        record = cancel_batch(batch_id)
    except (LookupError, ValueError) as error:
        raise click.ClickException(str(error.args[0] if error.args else error)) from None
    text = f"Batch {record.id}: {record.status}."
    report({"id": record.id, "status": record.status}, text, as_json=as_json)


@batches.command(
    help="Give the failed requests of batch BATCH_ID (failed, expired, cancelled) back"
    " to the next flush, for a new submission. Succeeded requests are never requeued."
)
@click.argument("batch_id", type=int)
@json_option
def requeue(batch_id: int, as_json: bool) -> None:
    from ..batches import requeue_batch

    try:
        requeued = requeue_batch(batch_id)
    except LookupError as error:
        raise click.ClickException(str(error.args[0] if error.args else error)) from None
    text = f"Batch {batch_id}: {plural(requeued, 'request')} back to pending for the next flush."
    report({"id": batch_id, "requeued": requeued}, text, as_json=as_json)
