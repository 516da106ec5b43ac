"""A trace per batch result, written in the delivering transaction.

Not through the background writer: the trace id is stored on the request in
the same transaction as the result, so a request never points at a trace
that was dropped, and a rolled-back delivery leaves no orphan trace.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from ..models import BatchRequest
from ..models import Span
from ..models import Trace
from ..models.base import as_utc
from ..models.base import new_id
from ..models.base import utcnow
from ..state import State
from ..tracing.pricing import cost_of
from ..tracing.serialize import REDACTED
from ..tracing.serialize import scrub_secrets
from ..tracing.serialize import stored_text
from ..tracing.serialize import to_json
from .adapters import Message


def _captured(state: State, value: Any) -> Any:
    """``value`` as stored under the app's content policy (capture, redact)."""
    if not state.capture_content or value is None:
        return None
    value = to_json(value)
    if state.settings.redact is not None:
        try:
            value = state.settings.redact(value)
        except Exception:
            # Storing the unredacted value would defeat the redaction.
            return REDACTED
    return value


def trace_metadata(request: BatchRequest, *, batch: bool) -> dict[str, Any]:
    """The trace metadata of a request's call: its routing plus where it ran.

    Nothing else, so that the app's own keys are what the UI filters on.
    """
    metadata: dict[str, Any] = scrub_secrets(to_json(dict(request.routing or {})))
    metadata["execution_mode"] = "batch" if batch else "sync"
    return metadata


def prompt_version_id(routing: Mapping[str, Any]) -> int | None:
    value = routing.get("prompt_version_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def price(
    state: State, provider: str, message: Message, model: str, *, batch: bool
) -> float | None:
    try:
        return cost_of(
            message.model or model,
            state.settings.pricing_provider or provider,
            message.input_tokens,
            message.output_tokens,
            message.cached_tokens,
            batch=batch,
        )
    except Exception:
        return None


def record_trace(
    session: Session,
    state: State,
    request: BatchRequest,
    message: Message,
    *,
    provider: str,
    batch: bool,
    cost: float | None,
    started_at: dt.datetime | None,
) -> uuid.UUID:
    """Add a trace with one ``llm`` span for ``request``'s result; its id."""
    completed_at = utcnow()
    started_at = as_utc(started_at or completed_at)
    duration_ms = max(0.0, (completed_at - started_at).total_seconds() * 1000)
    model = stored_text(message.model or request.model, 255)
    metadata = trace_metadata(request, batch=batch)
    trace_id = new_id()
    payload = request.payload or {}
    tokens = {
        "input_tokens": message.input_tokens or 0,
        "output_tokens": message.output_tokens or 0,
        "cached_tokens": message.cached_tokens or 0,
        "reasoning_tokens": message.reasoning_tokens or 0,
    }
    session.add(
        Trace(
            id=trace_id,
            name=stored_text(request.purpose, 255),
            status="completed",
            metadata_=metadata,
            cost=cost,
            duration_ms=duration_ms,
            spans_count=1,
            models=[model],
            prompt_version_id=prompt_version_id(request.routing or {}),
            started_at=started_at,
            completed_at=completed_at,
            **tokens,
        )
    )
    session.add(
        Span(
            id=new_id(),
            trace_id=trace_id,
            name="responses.create",
            kind="llm",
            operation="chat",
            model=model,
            provider=stored_text(provider, 255),
            input=_captured(
                state, {k: payload[k] for k in ("instructions", "input") if k in payload}
            ),
            output=_captured(state, message.content),
            cost=cost,
            duration_ms=duration_ms,
            status="completed",
            metadata_={
                "gen_ai.request.model": request.model,
                "gen_ai.response.id": getattr(message.response, "id", None),
                "execution_mode": metadata["execution_mode"],
                "batch_purpose": request.purpose,
                "batch_custom_id": request.custom_id,
                "batch_request_id": request.id,
            },
            started_at=started_at,
            completed_at=completed_at,
            **tokens,
        )
    )
    return trace_id
