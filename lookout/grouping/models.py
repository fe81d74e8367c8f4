"""Sequence groups: tracks of one camera that sit at the same place in the image."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lookout.db import Base, Timestamps, UUIDPrimaryKey


class SequenceGroup(UUIDPrimaryKey, Timestamps, Base):
    """A recurring object of one camera (and pose or heading): an antenna, a chimney's plume.

    Its box is the mean of its members' median boxes, kept up to date as members join and
    leave, so a new track is compared with one box per group (no recomputation).
    """

    __tablename__ = "sequence_groups"
    __table_args__ = (
        sa.Index("ix_sequence_groups_project_camera", "project_id", "camera_id"),
        # A unique index rather than a constraint: SQLite adds one in place (a constraint
        # would need a copy of the table, whose drop cascades to the members).
        sa.Index("uq_sequence_groups_project_id_number", "project_id", "number", unique=True),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    # The group's number in its project (1, 2, 3... in creation order, never reused: counted
    # by `Project.last_group_number`); pages show it as "Group 12".
    number: Mapped[int]
    camera_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("cameras.id", ondelete="CASCADE"))
    # The platform's pose of the camera (PTZ cameras look at several places in turn), or None.
    pose: Mapped[str | None] = mapped_column(sa.String(100))
    # The camera's heading when the group began (degrees), when the platform gives it.
    camera_azimuth: Mapped[float | None]
    x1: Mapped[float]
    y1: Mapped[float]
    x2: Mapped[float]
    y2: Mapped[float]
    member_count: Mapped[int] = mapped_column(default=0)
    first_seen_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    # The group's decision, applied to its members: false_positive or smoke (None: undecided).
    decision: Mapped[str | None] = mapped_column(sa.String(30), index=True)
    smoke_type: Mapped[str | None] = mapped_column(sa.String(30))
    false_positive_types: Mapped[list[Any]] = mapped_column(default=list)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None]


class GroupMember(UUIDPrimaryKey, Base):
    """One track of one sequence in a group (the track carries `group_id` in its JSON)."""

    __tablename__ = "sequence_group_members"
    __table_args__ = (sa.UniqueConstraint("sequence_id", "track_index"),)

    group_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("sequence_groups.id", ondelete="CASCADE"), index=True
    )
    sequence_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("sequences.id", ondelete="CASCADE")
    )
    # The track's position in the review's tracks when it joined.
    track_index: Mapped[int]
    # The track's median box (normalized xyxy) and its IoU with the group's box when it joined.
    x1: Mapped[float]
    y1: Mapped[float]
    x2: Mapped[float]
    y2: Mapped[float]
    iou: Mapped[float]
    joined_at: Mapped[datetime]
