"""Analyses (one model run on one image), their predictions and artifacts."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lookout.db import Base, Timestamps, UUIDPrimaryKey, utcnow


class AnalysisStatus:
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ALL = (QUEUED, PROCESSING, COMPLETED, FAILED, CANCELLED)
    FINAL = (COMPLETED, FAILED, CANCELLED)


class Analysis(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "analyses"
    __table_args__ = (
        sa.Index("ix_analyses_image_model", "image_id", "model_name", "model_version"),
        # The work queue claims the oldest queued analyses of a model.
        sa.Index("ix_analyses_queue", "status", "model_name", "created_at", "id"),
    )

    image_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("images.id", ondelete="CASCADE"))
    model_name: Mapped[str] = mapped_column(sa.String(200))
    model_version: Mapped[str] = mapped_column(sa.String(100), default="")
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    provenance: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[str | None] = mapped_column(sa.Text)
    summary: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(sa.String(20), default=AnalysisStatus.QUEUED)
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    external_job_id: Mapped[str | None] = mapped_column(sa.String(200))
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # Work queue: which worker holds the analysis and until when.
    worker_id: Mapped[str | None] = mapped_column(sa.String(200))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)


class Prediction(UUIDPrimaryKey, Base):
    """One annotation of an analysis, as posted plus a canonical normalized box."""

    __tablename__ = "predictions"
    __table_args__ = (
        sa.Index("ix_predictions_analysis", "analysis_id", "annotation_type", "class_name"),
        sa.UniqueConstraint("analysis_id", "client_id"),
    )

    analysis_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("analyses.id", ondelete="CASCADE"))
    annotation_type: Mapped[str] = mapped_column(sa.String(30))
    class_name: Mapped[str] = mapped_column(sa.String(200))
    confidence: Mapped[float | None]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Canonical geometry: normalized xyxy in [0,1] for boxes (and the bounds of other shapes).
    x1: Mapped[float | None]
    y1: Mapped[float | None]
    x2: Mapped[float | None]
    y2: Mapped[float | None]
    client_id: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArtifactState:
    PENDING = "pending"
    UPLOADED = "uploaded"
    # Found in storage but larger than ML_MAX_ARTIFACT_BYTES or not the announced size.
    REJECTED = "rejected"


class Artifact(UUIDPrimaryKey, Timestamps, Base):
    """A binary output of an analysis, kept in object storage."""

    __tablename__ = "artifacts"
    __table_args__ = (sa.UniqueConstraint("analysis_id", "name"),)

    analysis_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("analyses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    object_key: Mapped[str] = mapped_column(sa.String(500), unique=True)
    expected_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    size_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    state: Mapped[str] = mapped_column(sa.String(20), default=ArtifactState.PENDING)
    uploaded_at: Mapped[datetime | None]


_ARTIFACT_KEY = re.compile(r"(analyses/[^/]+)/artifacts/([^/]+)")
_UPLOAD_KEY = re.compile(r"(analyses/[^/]+)/uploads/([^/]+)")


def upload_key(object_key: str) -> str:
    """Where presigned PUTs of the artifact stored under `object_key` land.

    Confirming the artifact copies the upload to `object_key` and deletes it, so a URL handed
    out earlier can never write over a confirmed artifact (S3 serves its PUTs itself).
    """
    match = _ARTIFACT_KEY.fullmatch(object_key)
    if match is None:
        raise ValueError(f"not an artifact key: {object_key!r}")
    return f"{match[1]}/uploads/{match[2]}"


def artifact_key_of_upload(key: str) -> str | None:
    """The artifact key whose uploads land under `key`, or None for any other key."""
    match = _UPLOAD_KEY.fullmatch(key)
    return f"{match[1]}/artifacts/{match[2]}" if match else None


class IdempotencyRecord(Base):
    """The answer to a request sent with an Idempotency-Key, replayed on retries."""

    __tablename__ = "idempotency_records"
    __table_args__ = (sa.UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    scope: Mapped[str] = mapped_column(sa.String(200))
    key: Mapped[str] = mapped_column(sa.String(200))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int]
    # The answer as zlib-compressed JSON bytes; `response` holds it as JSON in records
    # written before migration 0017.
    response_zlib: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    response: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
