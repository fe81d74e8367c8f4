"""pyro-annotator's answers as the importer reads them, validated item by item.

Field names follow its API (`annotation_api/src/app/schemas`): `SequenceRead`,
`SequenceAnnotationRead` (`annotation.sequences_bbox`, `contributors`), `DetectionRead`
(`algo_predictions.predictions`) and `DetectionAnnotationRead` (`annotation.annotation`).
Unknown fields are ignored; a timestamp without a zone is UTC (older servers wrote naive ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

T = TypeVar("T", bound=BaseModel)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _check_xyxyn(box: list[float]) -> list[float]:
    if len(box) != 4:
        raise ValueError("xyxyn must hold 4 numbers")
    if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in box):
        raise ValueError("xyxyn values must be numbers in [0, 1]")
    if box[0] > box[2] or box[1] > box[3]:
        raise ValueError("xyxyn must have x1 <= x2 and y1 <= y2")
    return [float(v) for v in box]


class Shape(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Contributor(Shape):
    id: int
    username: str


class AnnotatorSequence(Shape):
    id: int
    source_api: str
    alert_api_id: int
    created_at: datetime | None = None
    recorded_at: datetime
    last_seen_at: datetime | None = None
    camera_name: str
    camera_id: int
    lat: float | None = None
    lon: float | None = None
    azimuth: float | None = None
    # An enum string (wildfire_smoke, other_smoke, other); a boolean in the 2025 API, kept as
    # "True"/"False" as the platform import keeps the platform's 2025 label.
    is_wildfire_alertapi: str | None = None
    organisation_name: str
    organisation_id: int
    platform_alert_id: int | None = None

    _zones = field_validator("created_at", "recorded_at", "last_seen_at")(
        classmethod(lambda cls, v: _utc(v))
    )

    @field_validator("is_wildfire_alertapi", mode="before")
    @classmethod
    def _label(cls, value: Any) -> Any:
        return str(value) if isinstance(value, bool) else value


class AnnotatorBox(Shape):
    detection_id: int
    xyxyn: list[float]

    _box = field_validator("xyxyn")(classmethod(lambda cls, v: _check_xyxyn(v)))


class AnnotatorTrack(Shape):
    is_smoke: bool
    smoke_type: str | None = None
    false_positive_types: list[str] = []
    bboxes: list[AnnotatorBox] = []


class SequenceAnnotationData(Shape):
    sequences_bbox: list[AnnotatorTrack]


class AnnotatorSequenceAnnotation(Shape):
    id: int
    sequence_id: int
    has_missed_smoke: bool = False
    is_unsure: bool | None = False
    annotation: SequenceAnnotationData
    processing_stage: str
    created_at: datetime
    updated_at: datetime | None = None
    contributors: list[Contributor] | None = None

    _zones = field_validator("created_at", "updated_at")(classmethod(lambda cls, v: _utc(v)))

    @property
    def changed_at(self) -> datetime:
        """When it was last written in pyro-annotator."""
        return self.updated_at or self.created_at


class AlgoPrediction(Shape):
    xyxyn: list[float]
    confidence: float
    class_name: str = "smoke"

    _box = field_validator("xyxyn")(classmethod(lambda cls, v: _check_xyxyn(v)))


class AlgoPredictions(Shape):
    predictions: list[AlgoPrediction] = []


class AnnotatorDetection(Shape):
    id: int
    sequence_id: int | None = None
    recorded_at: datetime
    alert_api_id: int
    bucket_key: str
    algo_predictions: AlgoPredictions | None = None
    created_at: datetime | None = None

    _zones = field_validator("created_at", "recorded_at")(classmethod(lambda cls, v: _utc(v)))


class DetectionBox(Shape):
    xyxyn: list[float]
    class_name: str = "smoke"
    smoke_type: str | None = None

    _box = field_validator("xyxyn")(classmethod(lambda cls, v: _check_xyxyn(v)))


class DetectionAnnotationData(Shape):
    annotation: list[DetectionBox] = []


class AnnotatorDetectionAnnotation(Shape):
    id: int
    detection_id: int
    annotation: DetectionAnnotationData
    processing_stage: str
    created_at: datetime
    updated_at: datetime | None = None
    contributors: list[Contributor] | None = None

    _zones = field_validator("created_at", "updated_at")(classmethod(lambda cls, v: _utc(v)))


@dataclass(frozen=True)
class Problem:
    """An item whose shape is not pyro-annotator's: what it is and what is wrong."""

    resource: str
    item_id: object
    message: str
    # The sequence the item belongs to, when it says (annotations and detections do).
    sequence_id: object = None

    def __str__(self) -> str:
        return f"{self.resource} {self.item_id}: {self.message}"


@dataclass
class Validated(Generic[T]):
    """The valid items of a listing, and the problems of the others."""

    items: list[T] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def validate_items(model: type[T], resource: str, raw: list[Any]) -> Validated[T]:
    """Check each item on its own: one bad item is reported, the others are kept."""
    result: Validated[T] = Validated()
    for item in raw:
        try:
            result.items.append(model.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "item"
            item_id = item.get("id", "?") if isinstance(item, dict) else "?"
            sequence_id = item.get("sequence_id") if isinstance(item, dict) else None
            message = f"{where}: {first['msg']}"
            result.problems.append(Problem(resource, item_id, message, sequence_id))
    return result
