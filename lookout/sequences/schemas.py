"""Request and response shapes for cameras, sequences, frames and reviews."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lookout.schema import Schema
from lookout.sequences.models import FALSE_POSITIVE_TYPES, SMOKE_TYPES, TrackDecision

Source = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
SourceId = Field(min_length=1, max_length=200)


class CameraCreate(Schema):
    project_id: uuid.UUID
    source: str = Source
    source_id: str = SourceId
    name: str = Field(min_length=1, max_length=200)
    organization_id: str | None = Field(None, max_length=100)
    organization_name: str | None = Field(None, max_length=200)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    elevation: float | None = None
    angle_of_view: float | None = Field(None, ge=0, le=360)
    is_trustable: bool | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class CameraRead(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    source: str
    source_id: str
    name: str
    organization_id: str | None
    organization_name: str | None
    lat: float | None
    lon: float | None
    elevation: float | None
    angle_of_view: float | None
    is_trustable: bool | None
    extra: dict[str, Any]
    existing: bool = False


class SequenceCreate(Schema):
    project_id: uuid.UUID
    camera_id: uuid.UUID | None = None
    source: str = Source
    source_id: str = SourceId
    azimuth: float | None = Field(
        None, ge=0, le=360, description="The camera's heading; same as camera_azimuth (older name)"
    )
    camera_azimuth: float | None = Field(None, ge=0, le=360, description="The camera's heading")
    smoke_azimuth: float | None = Field(None, ge=0, le=360, description="The smoke's direction")
    platform_score: float | None = Field(
        None, ge=0, le=1, description="The platform's confidence in the sequence"
    )
    started_at: datetime
    last_seen_at: datetime | None = None
    source_label: str | None = Field(
        None, max_length=50, description="The platform's label as it sent it (is_wildfire)"
    )
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("camera_azimuth")
    @classmethod
    def _same_heading(cls, value: float | None, info: ValidationInfo) -> float | None:
        """Two different headings are refused rather than one silently dropped."""
        older = info.data.get("azimuth")
        if value is not None and older is not None and value != older:
            raise ValueError("differs from azimuth (both are the camera's heading)")
        return value

    @model_validator(mode="after")
    def _one_heading(self) -> SequenceCreate:
        """`azimuth` is the older name of `camera_azimuth`: either fills the other."""
        heading = self.camera_azimuth if self.camera_azimuth is not None else self.azimuth
        self.camera_azimuth = self.azimuth = heading
        return self


class SequenceRead(Schema):
    id: uuid.UUID
    project_id: uuid.UUID
    camera_id: uuid.UUID | None
    camera_name: str | None = None
    organization_name: str | None = None
    source: str
    source_id: str
    azimuth: float | None = Field(
        description="The camera's heading, as camera_azimuth (kept for older clients)"
    )
    camera_azimuth: float | None = Field(None, description="The camera's heading (degrees)")
    smoke_azimuth: float | None = Field(None, description="The smoke's direction (degrees)")
    platform_score: float | None = Field(
        None, description="The platform's confidence: max_conf, or its highest box confidence"
    )
    platform_label: str | None = Field(
        None, description="The platform's label: wildfire_smoke, other_smoke, other or null"
    )
    started_at: datetime
    last_seen_at: datetime | None
    source_label: str | None
    lat: float | None
    lon: float | None
    extra: dict[str, Any]
    created_at: datetime
    processing_stage: str | None = None
    is_unsure: bool | None = None
    has_smoke: bool | None = None
    has_false_positives: bool | None = None
    has_missed_smoke: bool | None = None
    draft_params: dict[str, Any] | None = Field(
        None, description="How the review's draft was made (model, thresholds)"
    )
    frame_count: int = 0
    reviewed_by: str | None = Field(None, description="Who last saved the review (email)")
    existing: bool = False
    deleted_at: datetime | None = Field(None, description="When it went to the trash")
    deleted_by_id: uuid.UUID | None = Field(None, description="Who put it in the trash")
    delete_reason: str | None = Field(None, description="Why it went to the trash")


class SequenceDelete(Schema):
    """The optional body of `DELETE /api/sequences/{sequence_id}`."""

    reason: str | None = Field(None, description="Why: 3 to 1000 characters")
    force: bool = Field(
        False,
        description="Purge at once (admins only): the sequence, its frames and objects are gone",
    )


class SequencePage(Schema):
    items: list[SequenceRead]
    total: int
    limit: int
    offset: int


class FramePrediction(Schema):
    id: uuid.UUID
    analysis_id: uuid.UUID
    model_name: str
    model_version: str
    annotation_type: str
    class_name: str
    confidence: float | None
    bbox_xyxyn: list[float] | None
    context: bool = Field(
        False,
        description="Another sequence's object on this shared frame (2026 platform): drawn, "
        "never drafted",
    )


class FrameRead(Schema):
    id: uuid.UUID
    index: int
    captured_at: datetime | None
    width: int
    height: int
    source_id: str | None
    content_url: str
    thumbnail_url: str
    predictions: list[FramePrediction] = Field(default_factory=list)


class FrameCreated(Schema):
    id: uuid.UUID
    sequence_id: uuid.UUID
    captured_at: datetime | None
    width: int
    height: int
    content_url: str
    analysis_id: uuid.UUID | None = None
    prediction_count: int = 0
    existing: bool = False


class FramePredictions(Schema):
    """A model's boxes for a frame, stored as an analysis of the frame."""

    model_name: str = Field("platform", min_length=1, max_length=200)
    model_version: str = Field("", max_length=100)
    annotations: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)


class FrameMetadata(Schema):
    captured_at: datetime | None = None
    source: str | None = Field(None, min_length=1, max_length=100)
    source_id: str | None = Field(None, min_length=1, max_length=200)
    predictions: FramePredictions | None = None


class FrameFromUrl(FrameMetadata):
    url: str = Field(min_length=8, max_length=4000, description="http(s) URL the server fetches")


MAX_FRAMES_PER_BATCH = 100


class FrameBatch(Schema):
    """Frames the server fetches by URL one after the other, each stored on its own."""

    frames: list[FrameFromUrl] = Field(min_length=1, max_length=MAX_FRAMES_PER_BATCH)


class FrameBatchItem(Schema):
    """One frame of a batch, in the order sent."""

    status: int = Field(
        description="201 stored, 200 already there, else the HTTP status of this frame's error"
    )
    frame: FrameCreated | None = None
    detail: str | None = Field(None, description="What went wrong with this frame")
    field: str | None = Field(None, description="The field at fault, e.g. frames.3.url")


class FrameBatchResult(Schema):
    created: int
    existing: int
    failed: int
    frames: list[FrameBatchItem]


class TrackBox(Schema):
    frame_id: uuid.UUID
    xyxyn: list[float] = Field(min_length=4, max_length=4)
    confidence: float | None = Field(None, ge=0, le=1)

    @field_validator("xyxyn")
    @classmethod
    def _valid_box(cls, box: list[float]) -> list[float]:
        x1, y1, x2, y2 = box
        if not all(math.isfinite(v) and 0 <= v <= 1 for v in box):
            raise ValueError("coordinates must be numbers in [0, 1]")
        if x2 <= x1 or y2 <= y1:
            raise ValueError("box must have x2 > x1 and y2 > y1")
        return box


class Track(Schema):
    """One object across frames and what a person decided it is."""

    decision: Literal[TrackDecision.ALL] | None = Field(  # type: ignore[valid-type]
        None,
        description=(
            "undecided (a draft's state), smoke, false_positive or unsure. Omitted (older "
            "clients): false_positive when is_smoke is false, smoke when a smoke_type is "
            "given, else undecided. The decision wins over is_smoke, which follows from it."
        ),
    )
    is_smoke: bool = True
    smoke_type: Literal[SMOKE_TYPES] | None = None  # type: ignore[valid-type]
    false_positive_types: list[Literal[FALSE_POSITIVE_TYPES]] = Field(default_factory=list)  # type: ignore[valid-type]
    confidence: float | None = None
    boxes: list[TrackBox] = Field(default_factory=list, max_length=10_000)
    # Set by Lookout, never taken from a client as sent (lookout.sequences.reviews keeps what
    # the stored review said): the group of recurring objects the track belongs to, whether
    # its decision came from the group (`{group_id, by, at}`; dropped once a person decides
    # otherwise) and the decision of the group it joined, for a person to confirm.
    group_id: uuid.UUID | None = Field(
        None, description="The group of recurring objects (lookout groups) this track is in"
    )
    decided_by_group: dict[str, Any] | None = Field(
        None, description="{group_id, by, at}: the decision came from the group (set by Lookout)"
    )
    suggestion: dict[str, Any] | None = Field(
        None,
        description="The decided group's decision for a person to confirm (set by Lookout)",
    )

    @field_validator("boxes")
    @classmethod
    def _one_box_per_frame(cls, boxes: list[TrackBox]) -> list[TrackBox]:
        frames = [box.frame_id for box in boxes]
        if len(frames) != len(set(frames)):
            raise ValueError("a track holds at most one box per frame")
        return boxes

    @model_validator(mode="after")
    def _one_consistent_decision(self) -> Track:
        if self.decision is None:
            if not self.is_smoke:
                self.decision = TrackDecision.FALSE_POSITIVE
            elif self.smoke_type:
                self.decision = TrackDecision.SMOKE
            else:
                self.decision = TrackDecision.UNDECIDED
        self.is_smoke = self.decision != TrackDecision.FALSE_POSITIVE
        if self.decision != TrackDecision.SMOKE:
            self.smoke_type = None
        if self.decision != TrackDecision.FALSE_POSITIVE:
            self.false_positive_types = []
        return self


class ReviewWrite(Schema):
    tracks: list[Track] = Field(default_factory=list, max_length=1000)
    has_missed_smoke: bool = False
    is_unsure: bool = Field(
        False,
        description="The whole sequence needs a second opinion (also true when a track is unsure).",
    )
    processing_stage: Literal["ready_to_annotate", "in_review", "annotated", "needs_check"] = (
        "annotated"
    )
    version: int | None = Field(
        None, description="The version this edit started from; required when a review exists."
    )


class ReviewRead(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sequence_id: uuid.UUID
    tracks: list[dict[str, Any]]
    has_smoke: bool
    has_false_positives: bool
    false_positive_types: list[str]
    smoke_types: list[str]
    has_missed_smoke: bool
    is_unsure: bool
    returned_reason: str | None
    processing_stage: str
    draft_params: dict[str, Any]
    reviewed_by: str | None = None
    reviewed_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class SequenceDetail(SequenceRead):
    frames: list[FrameRead]
    review: ReviewRead | None


class DraftRequest(Schema):
    confidence_threshold: float = Field(0.0, ge=0, le=1)
    iou_threshold: float = Field(0.3, ge=0, le=1)
    min_cluster_size: int = Field(1, ge=1, le=1000)
    model_name: str = Field("platform", min_length=1, max_length=200)
    force: bool = Field(False, description="Replace a review a person has started or finished.")


class DraftResult(Schema):
    status: Literal["created", "updated", "skipped"]
    reason: str | None = None
    track_count: int
    review: ReviewRead


class ReviewVersionRead(Schema):
    """One saved state of a review, newest first in a history."""

    version: int
    action: str = Field(
        description="draft, save, restore, send_back, migrated, import or group (a group's "
        "decision applied, changed or undone)"
    )
    saved_by: str | None
    saved_at: datetime
    reason: str | None
    processing_stage: str
    is_unsure: bool
    changes: list[str] = Field(description="What this version changed from the one before it")


class ReviewVersionDetail(ReviewVersionRead):
    tracks: list[dict[str, Any]]
    has_missed_smoke: bool


class SendBack(Schema):
    reason: str = Field(min_length=1, max_length=2000, description="Why it goes back to the queue")


class RestoreRequest(Schema):
    version: int | None = Field(
        None, description="The review's current version as you saw it (409 if it moved on)."
    )


class ReviewChange(Schema):
    """One changed review with its sequence and its frames (URLs to their images)."""

    sequence: SequenceRead
    review: ReviewRead
    frames: list[FrameRead]


class ReviewChangesPage(Schema):
    items: list[ReviewChange]
    next_cursor: str | None = Field(
        description="Pass as `since` for the changes after this page (null: nothing yet)"
    )
    settled_before: datetime = Field(
        description="Changes are listed up to this moment (a few seconds ago), never later"
    )
