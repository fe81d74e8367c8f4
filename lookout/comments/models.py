"""The comment table: plain text on an image or on a sequence."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lookout.db import Base, Timestamps, UUIDPrimaryKey

MAX_COMMENT_CHARS = 5000


class Comment(UUIDPrimaryKey, Timestamps, Base):
    """A person's note on exactly one image or one sequence of a project."""

    __tablename__ = "comments"
    __table_args__ = (
        sa.CheckConstraint("(image_id IS NULL) <> (sequence_id IS NULL)", name="one_target"),
        # Newest first per image and per sequence.
        sa.Index("ix_comments_image_created", "image_id", "created_at"),
        sa.Index("ix_comments_sequence_created", "sequence_id", "created_at"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    image_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("images.id", ondelete="CASCADE")
    )
    sequence_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("sequences.id", ondelete="CASCADE")
    )
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    text: Mapped[str] = mapped_column(sa.Text)
