"""The image table."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lookout.db import Base, Timestamps, UUIDPrimaryKey, utcnow


class Image(UUIDPrimaryKey, Timestamps, Base):
    """One stored picture; optionally a frame of a sequence."""

    __tablename__ = "images"
    __table_args__ = (
        # Source ids are unique per project: two groups may import the same platform frame.
        sa.UniqueConstraint("project_id", "source", "source_id"),
        # Keyset paging of a project's gallery, newest first.
        sa.Index("ix_images_project_created", "project_id", "created_at", "id"),
        sa.Index("ix_images_project_captured", "project_id", "captured_at", "id"),
        sa.Index("ix_images_sequence_captured", "sequence_id", "captured_at"),
        # A frame's integer id in dataset exports (COCO image id): one per frame of a project.
        sa.UniqueConstraint("project_id", "coco_id"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    sequence_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("sequences.id", ondelete="CASCADE")
    )
    # Content-addressed (sha256): rows of the same picture in a project share one object.
    object_key: Mapped[str] = mapped_column(sa.String(500), index=True)
    thumbnail_key: Mapped[str | None] = mapped_column(sa.String(500))
    filename: Mapped[str | None] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    width: Mapped[int]
    height: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    # Set on the first export (lookout.exports.ids) and never changed.
    coco_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    captured_at: Mapped[datetime | None]
    source: Mapped[str | None] = mapped_column(sa.String(100))
    source_id: Mapped[str | None] = mapped_column(sa.String(200))
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # Free-form key/value metadata (VISTA's `metadata`): string keys, JSON scalar values.
    metadata_json: Mapped[dict[str, Any] | None]
    # In the trash (lookout.images.trash): hidden from every read but the trash's own; the
    # object stays until a purge.
    deleted_at: Mapped[datetime | None]
    deleted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    delete_reason: Mapped[str | None] = mapped_column(sa.Text)


class ImageDeletionEvent(UUIDPrimaryKey, Base):
    """What happened to an image or a sequence in the trash: who, when, what and why (VISTA's
    log). Exactly one of `image_id` and `sequence_id` is set."""

    __tablename__ = "image_deletion_events"
    __table_args__ = (
        sa.Index("ix_image_deletion_events_project_created", "project_id", "created_at"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    # No foreign keys: the log outlives a purged image or sequence.
    image_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    sequence_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(sa.String(20))  # soft_delete, restore or purge
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
