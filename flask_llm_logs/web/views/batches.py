"""Batches: the list with its filters, one batch with its requests, and the operator's controls.

Retrying runs the purpose's handler again on the result stored for a failed
request (:func:`flask_llm_logs.batches.retry_request`): no new LLM call.
Cancelling and requeueing are :mod:`flask_llm_logs.batches.control`'s, as in
the CLI.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from ...batches import cancel_batch
from ...batches import requeue_batch
from ...batches import retry_failed
from ...batches import retry_request
from ...batches.control import can_cancel
from ...batches.delivery import FAILED
from ...models import BatchRecord
from ...models import BatchRequest
from ...state import get_state
from .. import batch_queries
from .. import params
from ..blueprint import blueprint
from ..forms import Form
from ..posting import require_valid_form


@blueprint.get("/batches")
def batches() -> str:
    state = get_state()
    filters = batch_queries.BatchFilters.from_args(request.args)
    return render_template(
        "llm_logs/batches/index.html",
        page=batch_queries.list_batches(state.read_session, filters, state.settings.page_size),
        filters=filters,
        choices=batch_queries.filter_choices(state.read_session),
        waiting=batch_queries.waiting_requests(state.read_session, filters.purpose),
    )


@blueprint.get("/batches/<batch_id>")
def batch(batch_id: str) -> str:
    state = get_state()
    after = params.int_arg(request.args, "after")
    detail = batch_queries.batch_detail(
        state.read_session, params.parse_batch_id(batch_id), after, state.settings.page_size
    )
    return render_template(
        "llm_logs/batches/show.html",
        detail=detail,
        retry_form=Form(),
        cancellable=can_cancel(detail.batch),
    )


def _batch_url(batch_id: int) -> Response:
    return redirect(url_for("llm_logs.batch", batch_id=batch_id))


@blueprint.post("/batches/<batch_id>/cancel")
def batch_cancel(batch_id: str) -> Response:
    """Stop the batch at the provider and mark it cancelled."""
    require_valid_form()
    number = params.parse_batch_id(batch_id)
    try:
        cancel_batch(number)
    except LookupError:
        raise NotFound(f"There is no batch {number}.") from None
    except ValueError as error:
        flash(f"Not cancelled: {error}.", "error")
    else:
        flash(
            f"Batch {number} cancelled: results of requests that already ran are still "
            "delivered, the others fail and can be requeued.",
            "success",
        )
    return _batch_url(number)


@blueprint.post("/batches/<batch_id>/requeue")
def batch_requeue(batch_id: str) -> Response:
    """Give the batch's failed requests back to the next flush."""
    require_valid_form()
    number = params.parse_batch_id(batch_id)
    try:
        requeued = requeue_batch(number)
    except LookupError:
        raise NotFound(f"There is no batch {number}.") from None
    if requeued:
        requests = f"{requeued} failed request{'s' if requeued != 1 else ''}"
        flash(f"Requeued {requests}: the next flush submits them again.", "success")
    else:
        flash("No failed request of this batch to requeue.", "error")
    return _batch_url(number)


@blueprint.post("/batches/<batch_id>/retry")
def batch_retry(batch_id: str) -> Response:
    """Run the handler again for every failed request of the batch that has a result."""
    require_valid_form()
    number = params.parse_batch_id(batch_id)
    if get_state().session.get(BatchRecord, number) is None:
        raise NotFound(f"There is no batch {number}.")
    result = retry_failed(batch_id=number)
    retried = result.succeeded + result.failed
    requests = f"{retried} request{'s' if retried != 1 else ''}"
    if not retried:
        flash("No failed request of this batch has a stored result to retry.", "error")
    elif result.failed:
        flash(
            f"Retried {requests}: {result.succeeded} succeeded, {result.failed} failed again.",
            "error",
        )
    else:
        flash(f"Retried {requests}: all succeeded.", "success")
    return _batch_url(number)


@blueprint.post(f"/batches/<batch_id>/requests/<int(max={params.MAX_INTEGER_ID}):request_id>/retry")
def batch_request_retry(batch_id: str, request_id: int) -> Response:
    """Run the handler again on one failed request's stored result."""
    require_valid_form()
    number = params.parse_batch_id(batch_id)
    session = get_state().session
    found: Any = session.scalar(
        sa.select(BatchRequest.custom_id).where(
            BatchRequest.id == request_id, BatchRequest.batch_id == number
        )
    )
    if found is None:
        raise NotFound(f"Batch {number} has no request {request_id}.")
    try:
        retried = retry_request(request_id)
    except LookupError:
        raise NotFound(f"Batch {number} has no request {request_id}.") from None
    except ValueError as error:
        flash(f"Not retried: {error}.", "error")
        return _batch_url(number)
    if retried.status == FAILED:
        flash(f"Request {found} failed again: {retried.error}", "error")
    else:
        flash(f"Request {found} succeeded on retry.", "success")
    return _batch_url(number)
