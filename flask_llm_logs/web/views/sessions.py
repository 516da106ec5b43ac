"""Sessions (the conversations) and users: the traces grouped by who and in what."""

from __future__ import annotations

import dataclasses
import uuid

from flask import render_template
from flask import request
from flask import url_for

from ...models import Span
from ...state import get_state
from .. import session_queries
from .. import trace_queries
from ..blueprint import blueprint
from ..params import decode_cursor
from ..params import text_arg
from ..rendering import TREE_CONTENT_LIMIT
from ..rendering import Rendered
from ..rendering import last_user_message
from ..rendering import render_payload

#: The newest sessions a user's page lists; the rest are a link away.
USER_PAGE_SESSIONS = 10


def _after() -> str | None:
    """The ``after`` page cursor, checked so a bad one is a 400, not a database error."""
    after = text_arg(request.args, "after")
    if after is not None:
        decode_cursor(after)
    return after


@blueprint.get("/sessions")
def sessions() -> str:
    state = get_state()
    user_id = text_arg(request.args, "user")
    after = _after()
    page = session_queries.list_sessions(
        state.read_session, state.settings.page_size, user_id=user_id, after=after
    )
    return render_template(
        "llm_logs/sessions/index.html", page=page, user_id=user_id, first_page=after is None
    )


@dataclasses.dataclass(slots=True)
class Turn:
    """One LLM call of a conversation: what the user said last, and the reply."""

    span: Span
    url: str
    question: Rendered
    answer: Rendered


def _turns(trace_id: uuid.UUID, spans: list[Span]) -> list[Turn]:
    spans_url = url_for("llm_logs.trace", trace_id=trace_id) + "/spans/"
    return [
        Turn(
            span=span,
            url=f"{spans_url}{span.id}",
            question=last_user_message(span.input),
            answer=render_payload(span.output, limit=TREE_CONTENT_LIMIT),
        )
        for span in spans
    ]


@blueprint.get("/sessions/<path:session_id>")
def session(session_id: str) -> str:
    state = get_state()
    after = _after()
    detail = session_queries.session_detail(
        state.read_session, session_id, state.settings.page_size, after
    )
    turns = {trace.id: _turns(trace.id, detail.calls[trace.id]) for trace in detail.traces}
    return render_template(
        "llm_logs/sessions/show.html",
        detail=detail,
        summary=detail.summary,
        turns=turns,
        first_page=after is None,
    )


@blueprint.get("/users/<path:user_id>")
def user(user_id: str) -> str:
    state = get_state()
    summary = session_queries.user_summary(state.read_session, user_id)
    filters = trace_queries.TraceFilters(user=user_id, after=_after())
    traces = trace_queries.list_traces(state.read_session, filters, state.settings.page_size)
    recent = session_queries.list_sessions(state.read_session, USER_PAGE_SESSIONS, user_id=user_id)
    return render_template(
        "llm_logs/users/show.html",
        summary=summary,
        page=traces,
        filters=filters,
        sessions=recent,
    )
