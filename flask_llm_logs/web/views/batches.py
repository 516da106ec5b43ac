"""Batches: the list with request counts, and one batch with its requests."""

from __future__ import annotations

from flask import render_template
from flask import request

from ...extension import get_state
from .. import queries
from ..blueprint import blueprint


@blueprint.get("/batches")
def batches() -> str:
    state = get_state()
    after = queries.int_arg(request.args, "after")
    page = queries.list_batches(state.session, after, state.settings.page_size)
    return render_template("llm_logs/batches/index.html", page=page)


@blueprint.get("/batches/<batch_id>")
def batch(batch_id: str) -> str:
    state = get_state()
    after = queries.int_arg(request.args, "after")
    detail = queries.batch_detail(
        state.session, queries.parse_batch_id(batch_id), after, state.settings.page_size
    )
    return render_template("llm_logs/batches/show.html", detail=detail)
