"""Scores: a judgement of a trace or of one of its spans.

A user's thumbs up, a reviewer's label, an evaluator's number. Scores sent by
the app arrive through the background writer, possibly before the trace they
judge is stored; like spans they carry the trace's id without a foreign key,
so such a score waits in its table and shows once its trace lands. The
retention purge deletes a trace's scores with it.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Float
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import Uuid
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from .base import Base
from .base import new_id
from .base import utcnow


class Score(Base):
    __tablename__ = "llm_logs_scores"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    trace_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    span_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(255))
    #: A numeric score; a categorical one has a ``label`` instead (or as well).
    value: Mapped[float | None] = mapped_column(Float)
    label: Mapped[str | None] = mapped_column(String(255))
    comment: Mapped[str | None] = mapped_column(Text)
    #: Who judged: "api" (the app's code), "user", "review", an evaluator's name.
    source: Mapped[str] = mapped_column(String(50), default="api")
    author: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        # A trace's scores (trace page, filters by score, the purge).
        Index("ix_llm_logs_scores_trace_id", "trace_id"),
        Index("ix_llm_logs_scores_name_created_at", "name", "created_at"),
    )
