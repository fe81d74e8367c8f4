"""Request and response shapes of evaluations."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from lookout.schema import Schema


class EvaluationCreate(Schema):
    """Judge one model (name and version) against the reviewed truth of a project."""

    project_id: uuid.UUID
    model_name: str = Field(min_length=1, max_length=200)
    model_version: str | None = Field(
        None, max_length=100, description="Required when the model has several versions"
    )
    stage: list[str] | None = Field(
        None, description="Review stages taken as truth (default annotated; `any` for all)"
    )
    date_from: date | None = None
    date_to: date | None = Field(None, description="Inclusive")
    camera_id: uuid.UUID | None = None
    classes: list[str] = Field(default_factory=list, max_length=100)
    class_from: Literal["smoke", "smoke_type"] = Field(
        "smoke", description="Truth class of a smoke box: `smoke`, or the track's smoke type"
    )
    class_agnostic: bool = Field(
        False, description="Match boxes whatever their class (all become class `any`)"
    )
    iou_threshold: float = Field(0.5, gt=0, le=1)
    confidence_threshold: float = Field(0.5, ge=0, le=1)
    include_unanalyzed: bool = Field(
        False, description="Count truth on frames the model never analyzed as misses"
    )
    sweep: list[float] | None = Field(None, max_length=101, description="Confidence thresholds")
    store: bool = Field(True, description="Keep the metrics and per-box outcomes")

    @field_validator("sweep")
    @classmethod
    def _unit(cls, values: list[float] | None) -> list[float] | None:
        if values is not None and not all(0 <= v <= 1 for v in values):
            raise ValueError("thresholds must be between 0 and 1")
        return values


class EvaluationSummary(Schema):
    id: uuid.UUID
    project_id: uuid.UUID
    model_name: str
    model_version: str
    created_at: datetime
    images: int | None = None
    ap50: float | None = None
    ap: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    confidence_threshold: float | None = None
    catch_rate: float | None = None
    median_frames_to_fire: float | None = None


class OutcomeRead(Schema):
    id: int
    image_id: uuid.UUID
    sequence_id: uuid.UUID | None
    prediction_id: uuid.UUID | None
    track_id: int | None
    outcome: Literal["tp", "fp", "fn"]
    class_name: str
    confidence: float | None
    iou: float | None
    xyxyn: list[float]
    image_url: str
    thumbnail_url: str


class OutcomePage(Schema):
    items: list[OutcomeRead]
    total: int
    limit: int
    offset: int


class ModelVersion(Schema):
    model_name: str
    model_version: str
    images: int


def summary_of(row: Any) -> EvaluationSummary:
    metrics = row.metrics or {}
    overall = metrics.get("overall") or {}
    sequences = metrics.get("sequences") or {}
    return EvaluationSummary(
        id=row.id,
        project_id=row.project_id,
        model_name=row.model_name,
        model_version=row.model_version,
        created_at=row.created_at,
        images=metrics.get("images"),
        ap50=overall.get("ap50"),
        ap=overall.get("ap"),
        precision=overall.get("precision"),
        recall=overall.get("recall"),
        f1=overall.get("f1"),
        confidence_threshold=metrics.get("confidence_threshold"),
        catch_rate=sequences.get("catch_rate"),
        median_frames_to_fire=(sequences.get("frames_to_fire") or {}).get("median"),
    )
