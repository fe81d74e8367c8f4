"""Cameras, sequences and the human review of each sequence."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lookout.db import Base, Timestamps, UUIDPrimaryKey


class ProcessingStage:
    IMPORTED = "imported"
    READY_TO_ANNOTATE = "ready_to_annotate"
    IN_REVIEW = "in_review"
    ANNOTATED = "annotated"
    NEEDS_CHECK = "needs_check"
    ALL = (IMPORTED, READY_TO_ANNOTATE, IN_REVIEW, ANNOTATED, NEEDS_CHECK)
    # Stages in which a person has touched the review: drafts never overwrite these.
    HUMAN = (IN_REVIEW, ANNOTATED, NEEDS_CHECK)


class TrackDecision:
    """What a person decided about one track; drafts start undecided."""

    UNDECIDED = "undecided"
    SMOKE = "smoke"
    FALSE_POSITIVE = "false_positive"
    UNSURE = "unsure"
    ALL = (UNDECIDED, SMOKE, FALSE_POSITIVE, UNSURE)


# The platform's label of a sequence in one vocabulary across its schemas.
PLATFORM_LABELS = ("wildfire_smoke", "other_smoke", "other")


def normalize_platform_label(raw: str | None) -> str | None:
    """The platform's `is_wildfire` as one of PLATFORM_LABELS: 2025 booleans arrive as
    "True"/"False" (a 2025 "not a wildfire" does not say whether it was smoke: `other`),
    2026 enum strings as themselves. Anything else (another source's words) is None."""
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in PLATFORM_LABELS:
        return value
    return {"true": "wildfire_smoke", "false": "other"}.get(value)


SMOKE_TYPES = ("wildfire", "industrial", "other")
FALSE_POSITIVE_TYPES = (
    "antenna",
    "building",
    "cliff",
    "dark",
    "dust",
    "high_cloud",
    "low_cloud",
    "lens_flare",
    "lens_droplet",
    "light",
    "rain",
    "trail",
    "road",
    "sky",
    "tree",
    "water_body",
    "combine_harvester",
    "unlabeled",
    "other",
)


class Camera(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "cameras"
    __table_args__ = (sa.UniqueConstraint("project_id", "source", "source_id"),)

    project_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(sa.String(100))
    source_id: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(200))
    organization_id: Mapped[str | None] = mapped_column(sa.String(100))
    organization_name: Mapped[str | None] = mapped_column(sa.String(200))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    elevation: Mapped[float | None]
    angle_of_view: Mapped[float | None]
    is_trustable: Mapped[bool | None]
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Sequence(UUIDPrimaryKey, Timestamps, Base):
    """A time-ordered series of frames from one camera."""

    __tablename__ = "sequences"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "source", "source_id"),
        sa.Index("ix_sequences_project_started", "project_id", "started_at"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    camera_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("cameras.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(sa.String(100))
    source_id: Mapped[str] = mapped_column(sa.String(200))
    # Kept for compatibility: the camera's heading, as `camera_azimuth` (before migration 0010
    # it held the smoke's direction for 2026 platform data).
    azimuth: Mapped[float | None]
    # Where the camera looks and where the smoke is, in degrees from north: two fields, since
    # the platform's schemas put them under different names (2025: azimuth / cone_azimuth,
    # 2026: camera_azimuth / sequence_azimuth).
    camera_azimuth: Mapped[float | None]
    smoke_azimuth: Mapped[float | None]
    # The platform's own verdict, to sort and filter a review queue by: its confidence in
    # [0, 1] (2026 max_conf; 2025 the highest box confidence) and its label, normalized
    # (PLATFORM_LABELS; the raw value stays in `source_label` and `extra.is_wildfire`).
    platform_score: Mapped[float | None] = mapped_column(index=True)
    platform_label: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    # What the source platform said about it (bool in 2025, an enum string later).
    source_label: Mapped[str | None] = mapped_column(sa.String(50))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # train, val or test: drawn on the first export (lookout.exports.splits), then kept.
    split: Mapped[str | None] = mapped_column(sa.String(10))
    # In the trash (lookout.sequences.trash): hidden from every read but the trash's own, with
    # its frames; the frames' objects stay until a purge.
    deleted_at: Mapped[datetime | None]
    deleted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    delete_reason: Mapped[str | None] = mapped_column(sa.Text)

    camera: Mapped[Camera | None] = relationship()
    review: Mapped[SequenceReview | None] = relationship(
        back_populates="sequence", uselist=False, passive_deletes=True
    )


class SequenceReview(UUIDPrimaryKey, Timestamps, Base):
    """The human annotation of a sequence: tracks of boxes, labels and a stage."""

    __tablename__ = "sequence_reviews"

    sequence_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("sequences.id", ondelete="CASCADE"), unique=True
    )
    # The sequence's started_at (which never changes), copied so that the queue's index
    # (ix_sequence_reviews_waiting) holds the waiting reviews in time order: a claim then
    # reads the queue, not the project's whole history.
    sequence_started_at: Mapped[datetime]
    tracks: Mapped[list[Any]] = mapped_column(default=list)
    has_smoke: Mapped[bool] = mapped_column(default=False)
    has_false_positives: Mapped[bool] = mapped_column(default=False)
    false_positive_types: Mapped[list[Any]] = mapped_column(default=list)
    smoke_types: Mapped[list[Any]] = mapped_column(default=list)
    has_missed_smoke: Mapped[bool] = mapped_column(default=False)
    # Waiting for a second opinion: a person marked the sequence or one of its tracks unsure.
    # Such reviews count as annotated nowhere (exports, evaluation) until resolved.
    is_unsure: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Why an annotated review was sent back to the queue (None once saved again).
    returned_reason: Mapped[str | None] = mapped_column(sa.Text)
    processing_stage: Mapped[str] = mapped_column(sa.String(30), index=True)
    # What produced the draft: model name, thresholds.
    draft_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None]
    # Optimistic concurrency: a save must name the version it started from.
    version: Mapped[int] = mapped_column(default=1)

    sequence: Mapped[Sequence] = relationship(back_populates="review")


# Reviews waiting for a person, oldest first: the queue walks this index and stops after the
# first sequences nobody holds (the condition is the queue's own, as `stage_is` writes it).
_WAITING = sa.and_(
    SequenceReview.processing_stage == ProcessingStage.READY_TO_ANNOTATE,
    SequenceReview.is_unsure.is_(False),
)
sa.Index(
    "ix_sequence_reviews_waiting",
    SequenceReview.sequence_started_at,
    SequenceReview.sequence_id,
    postgresql_where=_WAITING,
    sqlite_where=_WAITING,
)


class ReviewVersion(UUIDPrimaryKey, Base):
    """One saved state of a review: every write appends one, so nothing saved is lost."""

    __tablename__ = "review_versions"
    __table_args__ = (sa.UniqueConstraint("review_id", "version"),)

    review_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("sequence_reviews.id", ondelete="CASCADE")
    )
    sequence_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("sequences.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int]
    # draft, save, restore, send_back or migrated
    action: Mapped[str] = mapped_column(sa.String(30))
    saved_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    saved_at: Mapped[datetime] = mapped_column(index=True)
    # When the person who saved began this review (their claim), to measure time spent.
    started_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(sa.Text)
    # The review's fields as saved (tracks, flags, stage).
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
