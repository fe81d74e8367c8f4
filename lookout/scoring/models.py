"""Stored queue scores: one row per sequence, kind and model (and the model it is compared to).

The review queue orders by these rows without computing anything per claim: the index
`ix_queue_scores_order` hands out a project's sequences by score, one index scan.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lookout.db import Base, utcnow

# How a review queue hands out sequences. `oldest`: start time; `score`: the platform's score,
# highest first; `disagreement`: where a model and the platform's boxes (or two models)
# disagree most; `uncertainty`: where a model's track confidence sits nearest a threshold.
QUEUE_ORDERS = ("oldest", "score", "disagreement", "uncertainty")
# Orders that need a model (stored scores are per model).
MODEL_ORDERS = ("disagreement", "uncertainty")
DEFAULT_THRESHOLD = 0.5


class ScoreKind:
    DISAGREEMENT = "disagreement"
    UNCERTAINTY = "uncertainty"
    ALL = (DISAGREEMENT, UNCERTAINTY)


# `against` of a model compared with the platform's own boxes.
PLATFORM = ""


class QueueScore(Base):
    """A sequence's score of one kind for one model (`model` is `name@version`).

    `against` is the other model of a two-model disagreement (the pair stored once, in name
    order) or "" for the platform's boxes. Uncertainty rows keep the threshold they were
    computed for and their tracks' confidences, so another threshold is computed in SQL.
    """

    __tablename__ = "queue_scores"
    __table_args__ = (
        # Claim order: a project's rows of one kind and model, by score (then id), one scan.
        sa.Index(
            "ix_queue_scores_order",
            "project_id",
            "kind",
            "model",
            "against",
            "score",
            "sequence_id",
        ),
    )

    sequence_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("sequences.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    model: Mapped[str] = mapped_column(sa.String(310), primary_key=True)
    against: Mapped[str] = mapped_column(sa.String(310), primary_key=True, default=PLATFORM)
    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    score: Mapped[float]
    # Frames compared (disagreement) or tracks (uncertainty).
    count: Mapped[int] = mapped_column(default=0)
    threshold: Mapped[float | None]
    confidences: Mapped[list[Any] | None]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
