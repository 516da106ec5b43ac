"""Provider batches and the requests queued into them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Uuid
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from .base import Base
from .base import ErrorText
from .base import utcnow
from .tracing import Cost


class BatchRecord(Base):
    """One provider batch (one uploaded JSONL file, one model)."""

    __tablename__ = "llm_logs_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(255))
    #: Written into the provider batch's metadata before submission, so that an
    #: interrupted submission can be found and adopted instead of repeated.
    claim_token: Mapped[str] = mapped_column(String(64), unique=True)
    provider_batch_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    input_file_id: Mapped[str | None] = mapped_column(String(255))
    output_file_id: Mapped[str | None] = mapped_column(String(255))
    error_file_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default="claimed")
    request_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(ErrorText)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    provider_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    claimed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    reconciled_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    requests: Mapped[list[BatchRequest]] = relationship(back_populates="batch")

    __table_args__ = (
        Index("ix_llm_logs_batches_status", "status"),
        Index("ix_llm_logs_batches_purpose_created_at", "purpose", "created_at"),
    )


class BatchRequest(Base):
    __tablename__ = "llm_logs_batch_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("llm_logs_batches.id", ondelete="SET NULL")
    )
    custom_id: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    model: Mapped[str] = mapped_column(String(255))
    #: The ``responses.create`` parameters sent for this request.
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    routing: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The provider's response body, kept so a handler can be retried offline.
    result: Mapped[dict[str, Any] | None]
    result_content: Mapped[Any | None]
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cached_tokens: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float | None] = mapped_column(Cost)
    trace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    error: Mapped[str | None] = mapped_column(ErrorText)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[dt.datetime | None]

    batch: Mapped[BatchRecord | None] = relationship(back_populates="requests")

    __table_args__ = (
        Index("ix_llm_logs_batch_requests_purpose_status", "purpose", "status"),
        Index("ix_llm_logs_batch_requests_batch_id_status", "batch_id", "status"),
    )
