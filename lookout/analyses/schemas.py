"""Request and response shapes of the ML analysis API (as printed in the ML document)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from lookout.rendering import SchemaRenderer
from lookout.schema import Schema

# --- requests -------------------------------------------------------------------------------


class _Request(Schema):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class AnalysisCreate(_Request):
    image_id: uuid.UUID | None = Field(
        None, description="Optional (VISTA's clients send it); must be the image of the path."
    )
    model_name: str = Field(min_length=1, max_length=200)
    model_version: str = Field("", max_length=100)
    parameters: dict[str, Any] | None = None
    description: str | None = Field(None, max_length=20_000)
    provenance: dict[str, Any] | None = None
    external_job_id: str | None = Field(None, max_length=200)

    @field_validator("model_name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value


class StatusUpdate(_Request):
    status: str = Field(max_length=20)
    error_message: str | None = Field(None, max_length=20_000)


class FinalizeRequest(_Request):
    status: str = Field("completed", max_length=20)
    summary: dict[str, Any] | None = None
    error_message: str | None = Field(None, max_length=20_000)


class ArtifactSpec(_Request):
    artifact_name: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int | None = Field(None, ge=0, description="Expected size in bytes (optional)")


class PresignRequest(_Request):
    artifacts: list[ArtifactSpec] = Field(min_length=1, max_length=100)


class BulkAnnotations(_Request):
    """Documentation shape of a bulk post; the body is validated item by item by the service."""

    annotations: list[dict[str, Any]]


# --- responses ------------------------------------------------------------------------------


class _Read(Schema):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())


class AnalysisRead(_Read):
    id: uuid.UUID
    image_id: uuid.UUID
    model_name: str
    model_version: str
    status: str
    parameters: dict[str, Any]
    provenance: dict[str, Any]
    description: str | None
    summary: dict[str, Any] | None
    error_message: str | None
    external_job_id: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class StatusRead(_Read):
    id: uuid.UUID
    status: str
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class FinalizeRead(_Read):
    id: uuid.UUID
    status: str
    completed_at: datetime | None
    summary: dict[str, Any] | None
    error_message: str | None


class PresignedUrl(Schema):
    artifact_name: str
    upload_url: str
    expires_in: int
    method: str = "PUT"
    content_type: str
    headers: dict[str, str]


class PresignResponse(Schema):
    presigned_urls: list[PresignedUrl]


class AnnotationCreated(Schema):
    id: uuid.UUID
    annotation_type: str
    class_name: str
    confidence: float | None
    client_id: str | None = None


class BulkResponse(Schema):
    created_count: int
    annotations: list[AnnotationCreated]
    already_present_count: int = 0
    replaced_count: int = 0


class PredictionRead(_Read):
    id: uuid.UUID
    annotation_type: str
    class_name: str
    confidence: float | None
    data: dict[str, Any]
    bbox_xyxyn: list[float] | None
    client_id: str | None
    created_at: datetime


def bbox_xyxyn(prediction: Any) -> list[float] | None:
    """The canonical normalized xyxy box of a prediction, for drawing; None without geometry."""
    coords = (prediction.x1, prediction.y1, prediction.x2, prediction.y2)
    return None if any(c is None for c in coords) else [float(c) for c in coords]


# The JSON of a prediction, defined once by PredictionRead: rendered in Python for pages and
# exports, built by PostgreSQL (`PREDICTION_JSON.pg_object`) where that pays.
PREDICTION_JSON = SchemaRenderer(PredictionRead, computed={"bbox_xyxyn": bbox_xyxyn})


def prediction_read(prediction: Any) -> PredictionRead:
    return PredictionRead.model_validate(PREDICTION_JSON(prediction))


class AnalysisDetail(AnalysisRead):
    annotations: list[PredictionRead]
    annotations_total: int
    annotations_limit: int
    annotations_offset: int


class AnalysisPage(Schema):
    items: list[AnalysisRead]
    total: int
    limit: int
    offset: int
    analyses: list[AnalysisRead] = Field(
        description="The same list under VISTA's name (its clients read `analyses`)"
    )


class PredictionPage(Schema):
    items: list[PredictionRead]
    total: int
    limit: int
    offset: int


class ArtifactRead(_Read):
    name: str
    content_type: str
    state: str
    size_bytes: int | None
    expected_size: int | None
    created_at: datetime
    updated_at: datetime
    uploaded_at: datetime | None
    download_url: str
    url_endpoint: str


class ArtifactUrl(Schema):
    artifact_name: str
    url: str
    expires_in: int


class BoxMatch(Schema):
    a: uuid.UUID
    b: uuid.UUID
    class_name: str
    iou: float


class Comparison(Schema):
    analysis_a: uuid.UUID
    analysis_b: uuid.UUID
    iou_threshold: float
    matches: list[BoxMatch]
    only_a: list[uuid.UUID]
    only_b: list[uuid.UUID]
    matched_count: int
    only_a_count: int
    only_b_count: int


class ComparedAnalysis(AnalysisRead):
    annotations: list[PredictionRead]
    annotations_total: int


class CompareResponse(Schema):
    image_id: uuid.UUID
    image_width: int
    image_height: int
    analyses: list[ComparedAnalysis]
    comparison: Comparison | None


# --- VISTA's shapes (lookout/analyses/vista.py says when a client gets them) -----------------


class VistaAnalysis(_Read):
    """An analysis as VISTA's server answers a status change or a finalize."""

    id: uuid.UUID
    image_id: uuid.UUID
    model_name: str
    model_version: str
    status: str
    error_message: str | None
    parameters: dict[str, Any]
    provenance: dict[str, Any]
    requested_by_id: uuid.UUID | None = Field(validation_alias="created_by_id")
    external_job_id: str | None
    priority: int = 0
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime
    summary: dict[str, Any] | None
    annotations: list[dict[str, Any]] = []


class VistaAnnotation(Schema):
    """A stored annotation as VISTA's `MLAnnotation`."""

    id: uuid.UUID
    analysis_id: uuid.UUID
    annotation_type: str
    class_name: str
    confidence: float | None
    data: dict[str, Any]
    storage_path: str | None
    ordering: int | None
    created_at: datetime


class VistaAnnotationList(Schema):
    annotations: list[VistaAnnotation]
    total: int


class VistaPresignResponse(Schema):
    upload_url: str
    storage_path: str = Field(description="Name the artifact by this in a heatmap annotation")
