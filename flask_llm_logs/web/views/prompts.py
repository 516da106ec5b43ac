"""Prompts: the list (the editor and version history come with part 2)."""

from __future__ import annotations

from flask import render_template
from flask import request
from werkzeug.exceptions import BadRequest

from ...extension import get_state
from .. import queries
from ..blueprint import blueprint


@blueprint.get("/prompts")
def prompts() -> str:
    sort = request.args.get("sort", "updated")
    if sort not in queries.PROMPT_SORTS:
        raise BadRequest(f"sort: must be one of {', '.join(queries.PROMPT_SORTS)}.")
    records = queries.list_prompts(get_state().session, sort)
    return render_template("llm_logs/prompts/index.html", prompts=records, sort=sort)
