"""Prompts and their immutable versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from .base import Base
from .base import utcnow


class PromptRecord(Base):
    """The row behind :class:`flask_llm_logs.Prompt`."""

    __tablename__ = "llm_logs_prompts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: The A/B split set by ``Prompt.split()``: ``{label: weight}``, or ``None``.
    split: Mapped[dict[str, Any] | None] = mapped_column()

    versions: Mapped[list[PromptVersion]] = relationship(
        back_populates="prompt",
        order_by="PromptVersion.version_number",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class PromptVersion(Base):
    __tablename__ = "llm_logs_prompt_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt_id: Mapped[int] = mapped_column(
        ForeignKey("llm_logs_prompts.id", ondelete="CASCADE"), index=True
    )
    version_number: Mapped[int] = mapped_column(Integer)
    messages: Mapped[list[Any]] = mapped_column(default=list)
    model: Mapped[str | None] = mapped_column(String(255))
    model_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    default_variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    changelog: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    prompt: Mapped[PromptRecord] = relationship(back_populates="versions")

    __table_args__ = (UniqueConstraint("prompt_id", "version_number"),)


class PromptLabel(Base):
    """A label (``production``, ``staging``, ``candidate``...) naming one version of a prompt.

    ``production`` and ``staging`` exist for every prompt without a row:
    a label without a row names no version yet.
    """

    __tablename__ = "llm_logs_prompt_labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("llm_logs_prompts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(50))
    version_id: Mapped[int] = mapped_column(
        ForeignKey("llm_logs_prompt_versions.id", ondelete="CASCADE"), index=True
    )
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("prompt_id", "name"),)


class PromptLabelMove(Base):
    """One move of a label: the prompt's release history.

    Versions are kept by number, not by id, so the history still reads
    right after an old version is deleted.
    """

    __tablename__ = "llm_logs_prompt_label_moves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("llm_logs_prompts.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(50))
    #: The version the label named before the move (``None``: none yet).
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer)
    #: Who moved it (the UI's user, or what the caller of ``set_label`` passed).
    moved_by: Mapped[str | None] = mapped_column(String(255))
    moved_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        # A prompt's history, newest first.
        Index("ix_llm_logs_prompt_label_moves_prompt_id_id", "prompt_id", "id"),
    )
