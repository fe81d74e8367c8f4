"""HTTP endpoints of the work queue: queue a model over a project, claim, heartbeat, release.

Queueing is a user call (API key, proxy or local mode) on a project the caller can see. The
worker endpoints (claim, heartbeat, release and the analysed image) are pipeline callbacks
authenticated by an HMAC signature, and accept only Lookout's v1 scheme: it binds the path and
is single-use, which the legacy schemes (made for the ML document's six steps) are not.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import Depends
from fastapi.responses import StreamingResponse
from pydantic import ConfigDict, Field, field_validator

from lookout.analyses import queue
from lookout.analyses.routes import require_ml_enabled
from lookout.auth.dependencies import RawBodyDep, SignedCallback, SignedCallbackDep
from lookout.auth.signatures import INVALID, SIGNATURE_HEADER, V1
from lookout.deps import PrincipalDep, SessionDep, SettingsDep, StorageDep
from lookout.errors import Unauthenticated
from lookout.images import service as images
from lookout.jsonbody import CheckedJSONRoute, openapi_body, parse_model
from lookout.route_table import RouteTable
from lookout.schema import Schema

router = RouteTable(
    tags=["work-queue"], dependencies=[Depends(require_ml_enabled)], route_class=CheckedJSONRoute
)

WORKER_NOTE = (
    "For workers. Authenticated by an HMAC-SHA256 signature of Lookout's v1 scheme only "
    "(X-ML-Timestamp, X-ML-Nonce, X-ML-Signature: v1=...). See docs/worker.md."
)


# --- shapes ---------------------------------------------------------------------------------


class _Request(Schema):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


def _strip_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


class QueueRequest(_Request):
    model_name: str = Field(min_length=1, max_length=200)
    model_version: str = Field("", max_length=100)
    parameters: dict[str, Any] | None = None
    sequence_id: uuid.UUID | None = None
    captured_after: datetime | None = Field(None, description="inclusive; naive times are UTC")
    captured_before: datetime | None = Field(None, description="exclusive; naive times are UTC")
    limit: int | None = Field(None, ge=1, description="queue at most this many analyses")
    retry_failed: bool = Field(
        False, description="also queue images whose analyses of this model all failed"
    )

    _name = field_validator("model_name")(_strip_name)


class QueueResponse(Schema):
    queued: int
    already_present: int
    over_limit: int = Field(
        description="images skipped: they hold ML_MAX_ANALYSES_PER_IMAGE analyses already"
    )


class ClaimRequest(_Request):
    worker_id: str = Field(min_length=1, max_length=200)
    model_name: str = Field(min_length=1, max_length=200)
    model_version: str | None = Field(None, max_length=100, description="any version if absent")
    project_id: uuid.UUID | None = Field(None, description="only this project's analyses")
    limit: int = Field(1, ge=1, le=queue.MAX_CLAIM)
    lease_seconds: int = Field(120, ge=1, le=queue.MAX_LEASE_SECONDS)

    _name = field_validator("model_name")(_strip_name)


class ClaimedRead(Schema):
    id: uuid.UUID
    image_id: uuid.UUID
    model_name: str
    model_version: str
    parameters: dict[str, Any]
    image_url: str = Field(description="GET it (v1-signed) for the image bytes")
    width: int
    height: int
    attempts: int
    lease_expires_at: datetime | None


class ClaimResponse(Schema):
    analyses: list[ClaimedRead]
    remaining: int = Field(description="queued analyses of this model left after this claim")
    requeued: int = Field(description="expired leases handed back to the queue by this call")
    failed: int = Field(description="expired leases failed for good by this call")


class HeartbeatRequest(_Request):
    worker_id: str = Field(min_length=1, max_length=200)
    lease_seconds: int = Field(120, ge=1, le=queue.MAX_LEASE_SECONDS)


class ReleaseRequest(_Request):
    worker_id: str = Field(min_length=1, max_length=200)


class LeaseRead(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: str
    worker_id: str | None
    lease_expires_at: datetime | None
    attempts: int


def _v1_only(signed: SignedCallback) -> None:
    if signed.scheme != V1:
        raise Unauthenticated(
            f"{INVALID}: the work-queue endpoints accept only the v1 scheme (X-ML-Nonce and "
            f"'{SIGNATURE_HEADER}: v1=...'); see docs/ml-api.md",
            field=SIGNATURE_HEADER,
        )


def image_path(analysis_id: uuid.UUID) -> str:
    return f"/api/analyses/{analysis_id}/image"


# --- queueing (user) ------------------------------------------------------------------------


@router.post(
    "/api/projects/{project_id}/analyses:queue",
    response_model=QueueResponse,
    openapi_extra=openapi_body(QueueRequest),
)
def queue_model(
    project_id: uuid.UUID,
    body: RawBodyDep,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> QueueResponse:
    """Queue one analysis of the model per image of the project (or of a sequence, or of a
    capture-time range) that has no analysis of this model and version yet."""
    request = parse_model(QueueRequest, body)
    selection = queue.QueueSelection(
        sequence_id=request.sequence_id,
        captured_after=request.captured_after,
        captured_before=request.captured_before,
    )
    result = queue.queue_model(
        session,
        principal=principal,
        project_id=project_id,
        job=queue.QueueJob(
            model_name=request.model_name,
            model_version=request.model_version,
            parameters=request.parameters or {},
            retry_failed=request.retry_failed,
            created_by_id=principal.user_id,
        ),
        limits=settings.queue_limits,
        selection=selection,
        limit=request.limit,
    )
    return QueueResponse(
        queued=result.queued, already_present=result.already_present, over_limit=result.over_limit
    )


# --- workers (HMAC v1) ----------------------------------------------------------------------


@router.post(
    "/api/analyses:claim",
    response_model=ClaimResponse,
    openapi_extra=openapi_body(ClaimRequest),
    description=WORKER_NOTE,
)
def claim(signed: SignedCallbackDep, session: SessionDep) -> ClaimResponse:
    """Claim up to `limit` queued analyses of a model under a lease (expired leases first go
    back to the queue, or fail after ML_QUEUE_MAX_ATTEMPTS)."""
    _v1_only(signed)
    request = parse_model(ClaimRequest, signed.body)
    result = queue.claim(
        session,
        worker_id=request.worker_id,
        model_name=request.model_name,
        model_version=request.model_version,
        project_id=request.project_id,
        limit=request.limit,
        lease_seconds=request.lease_seconds,
        max_attempts=queue.queue_settings().max_attempts,
    )
    return ClaimResponse(
        analyses=[
            ClaimedRead(
                id=c.analysis.id,
                image_id=c.analysis.image_id,
                model_name=c.analysis.model_name,
                model_version=c.analysis.model_version,
                parameters=c.analysis.parameters,
                image_url=image_path(c.analysis.id),
                width=c.width,
                height=c.height,
                attempts=c.analysis.attempts,
                lease_expires_at=c.analysis.lease_expires_at,
            )
            for c in result.analyses
        ],
        remaining=result.remaining,
        requeued=result.requeued,
        failed=result.failed,
    )


@router.post(
    "/api/analyses/{analysis_id}/heartbeat",
    response_model=LeaseRead,
    openapi_extra=openapi_body(HeartbeatRequest),
    description=WORKER_NOTE + " 409 when this worker does not hold the analysis.",
)
def heartbeat(analysis_id: uuid.UUID, signed: SignedCallbackDep, session: SessionDep) -> LeaseRead:
    """Extend the lease of an analysis this worker holds."""
    _v1_only(signed)
    request = parse_model(HeartbeatRequest, signed.body)
    analysis = queue.heartbeat(
        session,
        analysis_id=analysis_id,
        worker_id=request.worker_id,
        lease_seconds=request.lease_seconds,
    )
    return LeaseRead.model_validate(analysis)


@router.post(
    "/api/analyses/{analysis_id}/release",
    response_model=LeaseRead,
    openapi_extra=openapi_body(ReleaseRequest),
    description=WORKER_NOTE + " 409 when this worker does not hold the analysis.",
)
def release(analysis_id: uuid.UUID, signed: SignedCallbackDep, session: SessionDep) -> LeaseRead:
    """Give an analysis back to the queue unprocessed (the attempt does not count)."""
    _v1_only(signed)
    request = parse_model(ReleaseRequest, signed.body)
    analysis = queue.release(session, analysis_id=analysis_id, worker_id=request.worker_id)
    return LeaseRead.model_validate(analysis)


@router.get(
    "/api/analyses/{analysis_id}/image", response_class=StreamingResponse, description=WORKER_NOTE
)
def analysis_image(
    analysis_id: uuid.UUID, signed: SignedCallbackDep, session: SessionDep, storage: StorageDep
) -> StreamingResponse:
    """The bytes of the image an analysis is about, so workers need no user API key."""
    _v1_only(signed)
    image = queue.analysis_image(session, analysis_id=analysis_id)
    return StreamingResponse(
        images.image_chunks(storage, image),
        media_type=image.content_type,
        headers={
            "Content-Length": str(image.size_bytes),
            "Cache-Control": "private, no-store",
            "ETag": f'"{image.sha256}"',
        },
    )
