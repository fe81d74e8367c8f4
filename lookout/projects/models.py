"""The project table."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lookout.db import Base, JSONType, Timestamps, UUIDPrimaryKey


class Project(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "projects"
    __table_args__ = (sa.UniqueConstraint("group_id", "name"),)

    group_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("groups.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    # How the project's review queue hands out sequences when a claim names no order
    # (lookout.scoring.models.QUEUE_ORDERS), the model the value orders use, and the
    # confidence threshold of the uncertainty order.
    queue_order: Mapped[str] = mapped_column(
        sa.String(20), default="oldest", server_default="oldest"
    )
    queue_model: Mapped[str | None] = mapped_column(sa.String(310))
    queue_against: Mapped[str | None] = mapped_column(sa.String(310))
    queue_threshold: Mapped[float] = mapped_column(default=0.5, server_default="0.5")
    # A track joining a decided group takes the group's decision without a person (else the
    # decision arrives as a suggestion a person confirms).
    auto_apply_group_decisions: Mapped[bool] = mapped_column(
        default=False, server_default=sa.false()
    )
    # The number the project's latest group of recurring objects took (lookout.grouping);
    # the next one takes one more. Raised in the transaction that creates the group.
    last_group_number: Mapped[int] = mapped_column(default=0, server_default="0")


class ProjectMetadata(UUIDPrimaryKey, Timestamps, Base):
    """One key of a project's free-form metadata (VISTA's project metadata), its value JSON."""

    __tablename__ = "project_metadata"
    __table_args__ = (sa.UniqueConstraint("project_id", "key"),)

    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(200))
    value: Mapped[Any] = mapped_column(JSONType, nullable=True)
