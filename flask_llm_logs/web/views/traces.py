"""Traces: the list with its filters, a trace's span tree and timeline, a span."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import Response
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as BaseResponse

from ...models import Span
from ...models import Trace
from ...state import get_state
from .. import exports
from .. import params
from .. import trace_queries
from ..authors import current_author
from ..blueprint import Format
from ..blueprint import blueprint
from ..forms import Form
from ..posting import require_valid_form
from ..rendering import TREE_CONTENT_LIMIT
from ..rendering import Rendered
from ..rendering import pretty_json
from ..rendering import render_payload
from ..score_forms import ScoreForm

#: Deeper spans are indented like this level (the stylesheet has d0 to d12).
MAX_INDENT = 12


# ``strict_slashes=False``: the prefix itself (``/llm_logs``) shows the list
# too, instead of redirecting to ``/llm_logs/``.
@blueprint.get("/", endpoint="index", strict_slashes=False)
@blueprint.get("/traces")
def traces() -> str:
    filters = trace_queries.TraceFilters.from_args(request.args)
    state = get_state()
    page = trace_queries.list_traces(state.read_session, filters, state.settings.page_size)
    return render_template(
        "llm_logs/traces/index.html",
        page=page,
        filters=filters,
        statuses=trace_queries.TRACE_STATUSES,
    )


@blueprint.get("/traces/totals")
def traces_totals() -> str:
    """The totals of the list's filter: a page, or the list's totals section (``part=1``,
    which ui.js loads into the list so that the list never waits for them)."""
    filters = trace_queries.TraceFilters.from_args(request.args)
    totals = trace_queries.trace_totals(get_state().session, filters)
    template = "_totals.html" if request.args.get("part") else "totals.html"
    return render_template(f"llm_logs/traces/{template}", totals=totals, filters=filters)


@blueprint.get("/traces.csv")
def traces_csv() -> Response:
    """Every trace of the list's filter (whatever page the link was on), as CSV."""
    filters = trace_queries.TraceFilters.from_args(request.args)
    rows = trace_queries.export_traces(get_state().session, filters)
    return exports.csv_response("traces.csv", trace_queries.EXPORT_COLUMNS, rows)


@dataclasses.dataclass(slots=True)
class SpanView:
    """A span as the trace page shows it: place in the tree and on the timeline."""

    span: Any
    depth: int
    url: str
    #: ``None`` when the page loads them on demand (see INLINE_PAYLOAD_SPANS).
    input: Rendered | None
    output: Rendered | None
    #: Start and width on the timeline, in thousandths of the trace's duration.
    offset: float
    width: float
    duration: str
    #: Tokens, cost and duration in one line, made once for both places.
    stats: str


def _stats(span: Span, duration: str) -> str:
    stats = []
    if span.input_tokens is not None:
        tokens = f"{Format.number(span.input_tokens)} → {Format.number(span.output_tokens)} tok"
        stats.append(tokens)
    if span.cost is not None:
        stats.append(Format.cost(span.cost))
    stats.append(duration)
    return " · ".join(stats)


def span_views(detail: trace_queries.TraceDetail) -> tuple[list[SpanView], float]:
    """The tree rows and the timeline's total duration in milliseconds."""
    if detail.timeline is None:
        return [], 0.0
    # One url_for for all rows: building a URL per span is a visible share of
    # a 1,000-span page.
    spans_url = url_for("llm_logs.trace", trace_id=detail.trace.id) + "/spans/"
    start, end = detail.timeline
    total = (end - start).total_seconds() * 1000 or 1.0
    payloads = detail.payloads
    views = []
    for node in detail.nodes:
        span = node.span
        duration = Format.duration(span.duration_ms)
        input = output = None
        if payloads is not None:
            stored = payloads.get(span.id, (None, None))
            input = render_payload(stored[0], limit=TREE_CONTENT_LIMIT)
            output = render_payload(stored[1], limit=TREE_CONTENT_LIMIT)
        offset = (span.started_at - start).total_seconds() * 1000 / total * 1000
        width = (trace_queries.span_end(span) - span.started_at).total_seconds() * 1000 / total
        views.append(
            SpanView(
                span=span,
                depth=min(node.depth, MAX_INDENT),
                url=f"{spans_url}{span.id}",
                input=input,
                output=output,
                offset=round(offset, 1),
                width=round(max(width * 1000, 2.0), 1),
                duration=duration,
                stats=_stats(span, duration),
            )
        )
    return views, total


def _cache_note(trace: Trace) -> str | None:
    """``600 cached (50%) · 200 cache writes``: the share of the prompt read from the
    provider's cache, and what was written to it (billed apart by Anthropic and OpenAI)."""
    if not trace.input_tokens:
        return None
    share = trace.cached_tokens / trace.input_tokens * 100
    note = f"{Format.number(trace.cached_tokens)} cached ({share:.0f}%)"
    if trace.cache_write_tokens:
        note += f" · {Format.number(trace.cache_write_tokens)} cache writes"
    return note


@blueprint.get("/traces/<trace_id>")
def trace(trace_id: str) -> str:
    return _trace_page(trace_id, ScoreForm())


def _trace_page(trace_id: str, score_form: ScoreForm) -> str:
    """The trace page, with the score form as given (empty, or sent back with its errors)."""
    shown = params.int_arg(request.args, "spans") or trace_queries.TRACE_PAGE_SPANS
    detail = trace_queries.trace_detail(get_state().read_session, params.parse_id(trace_id), shown)
    views, total_ms = span_views(detail)
    trace = detail.trace
    models = trace.models or sorted({n.span.model for n in detail.nodes if n.span.model})
    providers = sorted({n.span.provider for n in detail.nodes if n.span.provider})
    more_url = None
    if detail.next_span_id is not None:
        more = len(detail.nodes) + trace_queries.TRACE_PAGE_SPANS
        # Back to where the reader was: the first span this page left out.
        more_url = url_for(
            "llm_logs.trace", trace_id=trace.id, spans=more, _anchor=f"span-{detail.next_span_id}"
        )
    return render_template(
        "llm_logs/traces/show.html",
        trace=trace,
        detail=detail,
        views=views,
        total_ms=total_ms,
        models=models,
        providers=providers,
        tokens_note=_cache_note(trace),
        more_url=more_url,
        page_spans=trace_queries.TRACE_PAGE_SPANS,
        delete_form=Form(),
        score_form=score_form,
        apm_url=_apm_url(trace),
    )


def _apm_url(trace: Trace) -> str | None:
    """The host APM's page of the trace ``trace`` ran in (``LLM_LOGS_APM_TRACE_URL``)."""
    template = get_state().settings.apm_trace_url
    if template is None or trace.apm_trace_id is None:
        return None
    return template.replace("{trace_id}", trace.apm_trace_id)


@blueprint.post("/traces/<trace_id>/scores")
def trace_score(trace_id: str) -> str | BaseResponse:
    """Add a score or a comment from the trace page, stored at once (not by the writer)."""
    require_valid_form()
    row_id = params.parse_id(trace_id)
    session = get_state().session
    if trace_queries.find_trace(session, row_id) is None:
        raise NotFound(f"There is no trace {trace_id}.")
    form = ScoreForm()
    if not form.validate():
        return _trace_page(trace_id, form)
    score = form.score(row_id, current_author())
    # Said before the commit, which expires the row: reading it back would
    # look for its id in every partition of the scores.
    added = f"Added {score.name!r}."
    session.add(score)
    session.commit()
    flash(added, "success")
    return redirect(url_for("llm_logs.trace", trace_id=row_id, _anchor="scores"))


def _span_fields(span: Span) -> dict[str, Any]:
    """Every column of the span, under its column name, as JSON-ready values.

    Deferred columns hold what is derived from the others (the search words).
    """
    result = {}
    for attribute in sa.inspect(Span).column_attrs:
        if attribute.deferred:
            continue
        column = attribute.columns[0]
        value = getattr(span, attribute.key)
        if isinstance(value, dt.datetime):
            value = value.isoformat()
        elif value is not None and not isinstance(value, (int, float, str, dict, list)):
            value = str(value)
        result[column.name] = value
    return result


def _get_span(trace_id: str, span_id: str) -> tuple[Trace, Span]:
    """The span and its trace from a span URL's ids; a 404 if either is wrong."""
    return trace_queries.get_span(
        get_state().read_session, params.parse_id(trace_id), params.parse_id(span_id)
    )


@blueprint.get("/traces/<trace_id>/spans/<span_id>")
def span(trace_id: str, span_id: str) -> str:
    trace, span = _get_span(trace_id, span_id)
    built_from = trace_queries.prompt_version_of(
        get_state().session, (span.metadata_ or {}).get("prompt_version_id")
    )
    return render_template(
        "llm_logs/traces/span.html",
        trace=trace,
        span=span,
        built_from=built_from,
        input=render_payload(span.input),
        output=render_payload(span.output),
        metadata=pretty_json(span.metadata_) if span.metadata_ else None,
    )


@blueprint.get("/traces/<trace_id>/spans/<span_id>/body")
def span_body(trace_id: str, span_id: str) -> str:
    """A span's input and output as the tree shows them, for traces too big to inline."""
    _, span = _get_span(trace_id, span_id)
    return render_template(
        "llm_logs/traces/_span_body.html",
        span=span,
        span_url=url_for("llm_logs.span", trace_id=span.trace_id, span_id=span.id),
        body_input=render_payload(span.input, limit=TREE_CONTENT_LIMIT),
        body_output=render_payload(span.output, limit=TREE_CONTENT_LIMIT),
    )


@blueprint.get("/traces/<trace_id>/spans/<span_id>/raw.json")
def span_raw(trace_id: str, span_id: str) -> Response:
    """The span exactly as stored, as a JSON file download."""
    _, span = _get_span(trace_id, span_id)
    body = pretty_json(_span_fields(span))
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="span-{span.id}.json"'},
    )


@blueprint.post("/traces/<trace_id>/delete")
def trace_delete(trace_id: str) -> BaseResponse:
    """Delete a trace, its spans and its scores (no foreign key: explicitly)."""
    require_valid_form()
    row_id = params.parse_id(trace_id)
    session = get_state().session
    trace = trace_queries.find_trace(session, row_id)
    if trace is None:
        raise NotFound(f"There is no trace {trace_id}.")
    # Said before the delete: the row is gone from the session after it.
    deleted = f"Deleted trace {trace.name!r}, its spans and its scores."
    trace_queries.delete_trace(session, trace)
    session.commit()
    flash(deleted, "success")
    return redirect(url_for("llm_logs.traces"))
