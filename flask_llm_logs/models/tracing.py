"""Traces and spans.

Both are written by the background writer, in bulk and possibly out of order
(a child span can land before its parent, a span before its trace's final
update). That is why the rows carry ids made in the caller's process and why
there are no foreign keys between them: referential integrity here would turn
a late row into a lost batch. Deleting a trace deletes its spans explicitly
(see the retention module).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy import Float
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import Numeric
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import Uuid
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..tracing import search
from ..tracing.serialize import dumps
from .base import Base
from .base import new_id
from .base import utcnow

#: A span's search words (see ``tracing.search``): a ``tsvector`` on
#: PostgreSQL, its text (``'word' 'other'``) on SQLite.
SearchWords = Text().with_variant(TSVECTOR(), "postgresql")

#: Money is stored exactly on PostgreSQL and read back as ``float``.
Cost = Numeric(18, 10, asdecimal=False)


class Trace(Base):
    __tablename__ = "llm_logs_traces"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default="running")
    error: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[float | None] = mapped_column(Cost)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    spans_count: Mapped[int] = mapped_column(Integer, default=0)
    models: Mapped[list[Any]] = mapped_column(default=list)
    prompt_version_id: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[str | None] = mapped_column(String(255))
    session_id: Mapped[str | None] = mapped_column(String(255))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    environment: Mapped[str | None] = mapped_column(String(50))
    #: The host's OpenTelemetry trace and span the trace started in (hex).
    apm_trace_id: Mapped[str | None] = mapped_column(String(32))
    apm_span_id: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        # The traces list: newest first, keyset-paginated on (started_at, id).
        Index("ix_llm_logs_traces_started_at_id", "started_at", "id"),
        Index("ix_llm_logs_traces_status_started_at", "status", "started_at"),
        Index("ix_llm_logs_traces_name_started_at", "name", "started_at"),
        # The traces of a prompt version (UI filter, prompt page), newest first.
        Index("ix_llm_logs_traces_prompt_version_id_started_at", "prompt_version_id", "started_at"),
        # A user's traces, a session's traces (its conversation), an environment's traces.
        Index("ix_llm_logs_traces_user_id_started_at", "user_id", "started_at"),
        Index("ix_llm_logs_traces_session_id_started_at", "session_id", "started_at"),
        Index("ix_llm_logs_traces_environment_started_at", "environment", "started_at"),
        # Filters on metadata key = value and on model use JSONB containment.
        Index(
            "ix_llm_logs_traces_metadata",
            "metadata",
            postgresql_using="gin",
            postgresql_ops={"metadata": "jsonb_path_ops"},
        ).ddl_if(dialect="postgresql"),
        Index("ix_llm_logs_traces_models", "models", postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
        Index("ix_llm_logs_traces_tags", "tags", postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
    )


def _search_words(context: DefaultExecutionContext) -> str | None:
    """The search words of a span inserted with its content but without them."""
    # SQLAlchemy leaves get_current_parameters unannotated.
    row = context.get_current_parameters()  # type: ignore[no-untyped-call]
    content = (row.get(key) for key in ("input", "output"))
    return search.document(*(None if value is None else dumps(value) for value in content))


class Span(Base):
    __tablename__ = "llm_logs_spans"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    trace_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20), default="custom")  # llm, tool, custom
    operation: Mapped[str | None] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(255))
    provider: Mapped[str | None] = mapped_column(String(255))
    input: Mapped[Any | None]
    output: Mapped[Any | None]
    input_tokens: Mapped[int | None] = mapped_column(BigInteger)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cached_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cache_write_tokens: Mapped[int | None] = mapped_column(BigInteger)
    reasoning_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cost: Mapped[float | None] = mapped_column(Cost)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    time_to_first_token_ms: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), default="completed")
    error: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Filled by the writer; this default covers spans added any other way.
    search: Mapped[str | None] = mapped_column(SearchWords, default=_search_words, deferred=True)

    __table_args__ = (
        Index("ix_llm_logs_spans_trace_id_started_at", "trace_id", "started_at"),
        # Full-text search over span inputs and outputs (see ``tracing.search``).
        Index("ix_llm_logs_spans_search", "search", postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
    )
