"""Request and response shapes of the review queue and the reviewers' statistics."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lookout.sequences.schemas import SequenceRead


class QueueFilters(BaseModel):
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


class ClaimRequest(QueueFilters):
    """The part of the queue to claim from, and in which order."""

    order: Literal["oldest", "score"] = Field(
        "oldest", description="`score`: the platform's highest score first, unscored last"
    )


class SequenceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sequence_id: uuid.UUID


class Claim(BaseModel):
    """A sequence held for the caller until `expires_at`."""

    sequence: SequenceRead
    claimed_at: datetime
    expires_at: datetime


class ClaimRead(Claim):
    remaining: int = Field(
        description="Sequences of the caller's queue (these filters) that nobody holds now"
    )


class QueueRead(BaseModel):
    remaining: int = Field(description="Sequences of the caller's queue that nobody holds now")
    claimed: Claim | None = Field(description="The caller's claim in this queue, if any")


class SkippedRead(BaseModel):
    sequence: SequenceRead
    skipped_at: datetime


class SkippedPage(BaseModel):
    items: list[SkippedRead]
    total: int
    limit: int
    offset: int


class Decisions(BaseModel):
    """Track decisions in the reviews saved (the last save of each sequence and day)."""

    smoke: int = 0
    false_positive: int = 0
    unsure: int = 0


class ReviewerDay(BaseModel):
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


class ReviewerTotal(BaseModel):
    reviewer_id: uuid.UUID
    email: str
    display_name: str | None
    days: int
    sequences_reviewed: int = Field(description="Distinct sequences over the whole period")
    saves: int
    decisions: Decisions
    seconds_spent: int


class ReviewStats(BaseModel):
    date_from: date | None
    date_to: date | None
    rows: list[ReviewerDay] = Field(description="One per reviewer and day, newest day first")
    totals: list[ReviewerTotal] = Field(description="One per reviewer, most sequences first")
