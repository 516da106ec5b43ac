"""``/api/metrics``: what ``flask_llm_logs.metrics()`` returns, as JSON, for the UI's users.

Behind the UI's access control like every page. A bad parameter is a 400
with ``{"error": "<parameter>: <problem>"}``, never an HTML page: the
caller is a script or the dashboard's code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response
from flask import jsonify
from flask import request
from werkzeug.exceptions import BadRequest

from ...insights import metrics as insights
from ...models.base import utcnow
from ..blueprint import blueprint
from ..params import datetime_arg
from ..params import text_arg

#: The range when ``since`` is not given.
DEFAULT_RANGE = dt.timedelta(hours=24)


@blueprint.get("/api/metrics")
def metrics_api() -> tuple[Response, int]:
    """``?since=&until=&group_by=model,user&bucket=hour&model=...`` (every dimension filters).

    ``since`` and ``until`` are ISO 8601 (naive: UTC); ``since`` defaults to
    24 hours ago. ``group_by`` is comma-separated, empty for the totals,
    ``model`` if left out. Datetimes in the answer are ISO 8601, in UTC.
    """
    try:
        rows = insights.metrics(**_arguments())
    except (ValueError, BadRequest) as error:
        message = error.description if isinstance(error, BadRequest) else str(error)
        return jsonify({"error": message}), 400
    return jsonify([_json(row) for row in rows]), 200


def _arguments() -> dict[str, Any]:
    args = request.args
    since = datetime_arg(args, "since") or utcnow() - DEFAULT_RANGE
    group_by = args.get("group_by", "model")
    return {
        "since": since,
        "until": datetime_arg(args, "until"),
        "group_by": tuple(name.strip() for name in group_by.split(",") if name.strip()),
        "filters": {
            name: value
            for name in insights.DIMENSIONS
            if (value := text_arg(args, name)) is not None
        },
        "bucket": text_arg(args, "bucket"),
    }


def _json(row: dict[str, Any]) -> dict[str, Any]:
    if "bucket" in row:
        row = {**row, "bucket": row["bucket"].isoformat()}
    return row
