"""Stored evaluations and the outcome (TP, FP, FN) of every box they judged."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lookout.db import Base, Timestamps, UUIDPrimaryKey, utcnow


class EvaluationRun(UUIDPrimaryKey, Timestamps, Base):
    """One model judged against the reviewed truth of a project: parameters and metrics."""

    __tablename__ = "evaluations"
    __table_args__ = (sa.Index("ix_evaluations_project_created", "project_id", "created_at"),)

    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    model_name: Mapped[str] = mapped_column(sa.String(200))
    model_version: Mapped[str] = mapped_column(sa.String(100), default="")
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )


class Outcome:
    TP = "tp"
    FP = "fp"
    FN = "fn"
    ALL = (TP, FP, FN)


class EvaluationOutcome(Base):
    """A detection judged TP or FP, or a truth box the model missed (FN).

    The box is the detection's for TP and FP, the truth box for FN (normalized xyxy).
    `prediction_id` and `sequence_id` are plain references (no foreign key: deleting an
    analysis must not scan this table); rows go with their evaluation or their image.
    """

    __tablename__ = "evaluation_outcomes"
    __table_args__ = (
        sa.Index("ix_evaluation_outcomes_filter", "evaluation_id", "outcome", "class_name"),
        sa.Index("ix_evaluation_outcomes_image", "image_id"),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    evaluation_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("evaluations.id", ondelete="CASCADE")
    )
    image_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("images.id", ondelete="CASCADE"))
    sequence_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    prediction_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    track_id: Mapped[int | None]
    outcome: Mapped[str] = mapped_column(sa.String(2))
    class_name: Mapped[str] = mapped_column(sa.String(200))
    confidence: Mapped[float | None]
    iou: Mapped[float | None]
    x1: Mapped[float]
    y1: Mapped[float]
    x2: Mapped[float]
    y2: Mapped[float]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
