"""Request and response shapes of the review queue and the reviewers' statistics."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import ConfigDict, Field

from lookout.schema import Schema
from lookout.sequences.schemas import SequenceRead


class QueueFilters(Schema):
    """Which part of the queue to work on; every field is optional (`{}` is the whole queue)."""

    model_config = ConfigDict(extra="forbid")

    project_id: uuid.UUID | None = None
    camera_id: uuid.UUID | None = None
    organization: str | None = Field(None, max_length=200, description="Name or id")
    source: str | None = Field(None, max_length=100)
    date_from: date | None = Field(None, description="Sequences started on or after this day")
    date_to: date | None = Field(None, description="Sequences started on or before this day")
    has_smoke: bool | None = Field(None, description="true: drafts with at least one track")
    min_platform_score: float | None = Field(
        None, ge=0, le=1, description="The platform's score at least this"
    )
    platform_label: Literal["wildfire_smoke", "other_smoke", "other", "none"] | None = Field(
        None, description="The platform's label (normalized); `none`: no label"
    )


QueueOrderName = Literal["oldest", "score", "disagreement", "uncertainty"]


class OrderFields(Schema):
    """How the queue is ordered; left out, the project's default order (else oldest first)."""

    order: QueueOrderName | None = Field(
        None,
        description="`oldest`; `score`: the platform's highest score first, unscored last; "
        "`disagreement`: where `model` and the platform's boxes (or `against_model`) disagree "
        "most; `uncertainty`: where `model`'s track confidence sits nearest `threshold`. "
        "Default: the project's `queue_order`, else `oldest`.",
    )
    model: str | None = Field(
        None,
        min_length=1,
        max_length=310,
        description="For disagreement and uncertainty: `name` or `name@version` of an analysis "
        "model (default: the project's `queue_model`)",
    )
    against_model: str | None = Field(
        None,
        min_length=1,
        max_length=310,
        description="Disagreement between `model` and this model instead of the platform",
    )
    threshold: float | None = Field(
        None, ge=0, le=1, description="Uncertainty's threshold (default: the project's, 0.5)"
    )


class ClaimRequest(QueueFilters, OrderFields):
    """The part of the queue to claim from, and in which order."""


class Why(Schema):
    """Why a sequence sits where it does in the queue."""

    order: QueueOrderName
    score: float | None = Field(
        None,
        description="disagreement: the stored score; uncertainty: |track confidence - "
        "threshold| of the nearest track; score: the platform's score; oldest: null",
    )
    model: str | None = None
    against_model: str | None = Field(None, description="null: the platform's boxes")
    threshold: float | None = None
    detail: str = Field(description="The same in words")


class SequenceRef(Schema):
    model_config = ConfigDict(extra="forbid")

    sequence_id: uuid.UUID


class Claim(Schema):
    """A sequence held for the caller until `expires_at`."""

    sequence: SequenceRead
    claimed_at: datetime
    expires_at: datetime


class ClaimRead(Claim):
    remaining: int = Field(
        description="Sequences of the caller's queue (these filters) that nobody holds now, "
        "counted up to 1,000 (GET /api/review-queue counts them all)"
    )
    why: Why = Field(description="Why this sequence came next")


class QueueItem(Schema):
    sequence: SequenceRead
    why: Why


class QueueRead(Schema):
    remaining: int = Field(description="Sequences of the caller's queue that nobody holds now")
    claimed: Claim | None = Field(description="The caller's claim in this queue, if any")
    order: QueueOrderName = Field(description="The order of `items`")
    items: list[QueueItem] = Field(
        default_factory=list,
        description="The first sequences of the caller's queue in this order (`limit`), "
        "each with its score and why it is there",
    )


class SkippedRead(Schema):
    sequence: SequenceRead
    skipped_at: datetime


class SkippedPage(Schema):
    items: list[SkippedRead]
    total: int
    limit: int
    offset: int


class Decisions(Schema):
    """Track decisions in the reviews saved (the last save of each sequence and day)."""

    smoke: int = 0
    false_positive: int = 0
    unsure: int = 0


class ReviewerDay(Schema):
    reviewer_id: uuid.UUID
    email: str
    display_name: str | None
    day: date = Field(description="UTC day of the saves")
    sequences_reviewed: int = Field(description="Distinct sequences saved as reviewed that day")
    saves: int = Field(description="Saves and restores that day")
    decisions: Decisions
    seconds_spent: int = Field(
        description="From the start of each claim to its save, at most 30 minutes a save"
    )


class ReviewerTotal(Schema):
    reviewer_id: uuid.UUID
    email: str
    display_name: str | None
    days: int
    sequences_reviewed: int = Field(description="Distinct sequences over the whole period")
    saves: int
    decisions: Decisions
    seconds_spent: int


class ReviewStats(Schema):
    date_from: date | None
    date_to: date | None
    rows: list[ReviewerDay] = Field(description="One per reviewer and day, newest day first")
    totals: list[ReviewerTotal] = Field(description="One per reviewer, most sequences first")


class CameraDay(Schema):
    day: date = Field(description="UTC day the sequences started")
    sequences: int
    reviewed: int = Field(description="Sequences whose review is saved as annotated")
    smoke_tracks: int
    false_positive_tracks: int
    false_positive_rate: float | None = Field(
        description="false positives / (smoke + false positives) of the reviewed tracks; "
        "null without a decided track"
    )


class TypeCount(Schema):
    type: str
    count: int


class CameraRead(Schema):
    camera_id: uuid.UUID | None = Field(description="null: sequences without a camera")
    name: str
    organization_name: str | None
    sequences: int
    reviewed: int
    smoke_tracks: int
    false_positive_tracks: int
    false_positive_rate: float | None
    top_false_positive_types: list[TypeCount] = Field(description="Most frequent first")
    share_in_groups: float | None = Field(
        description="Share of the period's sequences in a recurring-object group (null: "
        "groups are not computed)"
    )
    days: list[CameraDay] = Field(description="Every day of the period, oldest first")


class CameraStatsRead(Schema):
    project_id: uuid.UUID
    since: date
    until: date
    cameras: list[CameraRead]
