"""Claims hold a sequence for one reviewer; skips keep it out of that reviewer's queue."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lookout.db import Base


class ReviewClaim(Base):
    """A sequence held for one reviewer until `expires_at` (renewed while they work)."""

    __tablename__ = "review_claims"
    __table_args__ = (sa.Index("ix_review_claims_user", "user_id"),)

    # One claim per sequence: the primary key is what makes two claims of one sequence fail.
    sequence_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("sequences.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    claimed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ReviewSkip(Base):
    """A reviewer set this sequence aside: it leaves their queue, not anyone else's."""

    __tablename__ = "review_skips"

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sequence_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("sequences.id", ondelete="CASCADE"), primary_key=True
    )
    skipped_at: Mapped[datetime]
