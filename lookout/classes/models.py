"""The tables of image classes and classifications (VISTA's image-level labels)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lookout.db import Base, Timestamps, UUIDPrimaryKey


class ImageClass(UUIDPrimaryKey, Timestamps, Base):
    """A class of a project that people can give whole images (e.g. `night`, `fog`)."""

    __tablename__ = "image_classes"
    __table_args__ = (sa.UniqueConstraint("project_id", "name"),)

    project_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)


class ImageClassification(UUIDPrimaryKey, Timestamps, Base):
    """One class given to one image, by whom and when (an image holds each class once)."""

    __tablename__ = "image_classifications"
    __table_args__ = (sa.UniqueConstraint("image_id", "class_id"),)

    image_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("images.id", ondelete="CASCADE"))
    # No cascade: a class in use is not deleted (the service answers 409 naming it). NO
    # ACTION, not RESTRICT, so deleting a project (classes and images at once) still works.
    class_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("image_classes.id"), index=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
