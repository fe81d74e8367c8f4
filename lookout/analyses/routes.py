"""HTTP endpoints of the ML analysis API (the ML document's six steps, reads and exports).

Pipeline callbacks (status, presign, bulk annotations, finalize) are authenticated by their HMAC
signature alone; everything else by the user (API key, Bearer, proxy headers or local mode).
Bodies are parsed here from the raw bytes the signature covered, so the signed and the parsed
text are the same.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Depends, Header, Query, Request, status
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from lookout.analyses import artifacts as artifact_service
from lookout.analyses import bulk, compare, exports, service, vista
from lookout.analyses import predictions as prediction_reads
from lookout.analyses.annotations import TYPES
from lookout.analyses.schemas import (
    AnalysisCreate,
    AnalysisDetail,
    AnalysisPage,
    AnalysisRead,
    ArtifactRead,
    ArtifactUrl,
    BulkAnnotations,
    BulkResponse,
    CompareResponse,
    FinalizeRead,
    FinalizeRequest,
    PredictionPage,
    PresignedUrl,
    PresignRequest,
    PresignResponse,
    StatusRead,
    StatusUpdate,
    VistaAnalysis,
    VistaAnnotationList,
    VistaPresignResponse,
    prediction_read,
)
from lookout.auth.dependencies import PipelineCallerDep, RawBodyDep, StatusCallerDep
from lookout.db import MAX_OFFSET
from lookout.deps import (
    BaseUrlDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    StorageDep,
    get_runtime,
)
from lookout.errors import InvalidInput, NotFound
from lookout.jsonbody import CheckedJSONRoute, openapi_body, parse_json_object, parse_model
from lookout.rendering import json_response, raw_json_response, splice
from lookout.route_table import RouteTable

MAX_COMPARED = 10


async def require_ml_enabled(request: Request) -> None:
    """With ML_ANALYSIS_ENABLED=false the ML endpoints do not exist (404)."""
    if not get_runtime(request).settings.ml_analysis_enabled:
        raise NotFound("Not Found")


router = RouteTable(
    tags=["ml-analyses"], dependencies=[Depends(require_ml_enabled)], route_class=CheckedJSONRoute
)


async def _sessions(request: Request) -> sessionmaker[Session]:
    return get_runtime(request).sessions


SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]


HMAC_NOTE = (
    "Authenticated by HMAC-SHA256 alone (X-ML-Signature, X-ML-Timestamp; X-ML-Nonce for the v1 "
    "scheme). See docs/ml-api.md."
)


# --- Step 1: create -------------------------------------------------------------------------


@router.post(
    "/api/images/{image_id}/analyses",
    response_model=AnalysisRead,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=openapi_body(AnalysisCreate),
)
def create_analysis(
    image_id: uuid.UUID,
    body: RawBodyDep,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> AnalysisRead:
    """Step 1: create a queued analysis of an image (user authentication)."""
    request = parse_model(AnalysisCreate, body)
    if request.image_id is not None and request.image_id != image_id:
        raise InvalidInput(
            f"image_id: the body names image {request.image_id}, the path image {image_id}",
            field="image_id",
        )
    analysis = service.create_analysis(
        session,
        principal=principal,
        image_id=image_id,
        model_name=request.model_name,
        model_version=request.model_version,
        parameters=request.parameters,
        description=request.description,
        provenance=request.provenance,
        external_job_id=request.external_job_id,
        allowed_models=settings.ml_allowed_models,
        max_per_image=settings.ml_max_analyses_per_image,
    )
    return AnalysisRead.model_validate(analysis)


# --- Step 2: status -------------------------------------------------------------------------


@router.patch(
    "/api/analyses/{analysis_id}/status",
    response_model=StatusRead | VistaAnalysis,
    openapi_extra=openapi_body(StatusUpdate),
    description=HMAC_NOTE + " Or, as in VISTA, by a user who can see the analysis.",
)
def update_status(
    analysis_id: uuid.UUID,
    caller: StatusCallerDep,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
) -> Response:
    """Step 2: move the analysis along queued → processing → completed/failed/cancelled."""
    request = parse_model(StatusUpdate, caller.body)
    service.check_caller_access(session, caller.principal, analysis_id)
    analysis = service.update_status(
        session,
        storage,
        analysis_id=analysis_id,
        status=request.status,
        error_message=request.error_message,
        max_artifact_bytes=settings.ml_max_artifact_bytes,
    )
    if caller.speaks_vista:
        return json_response(vista.analysis_json(analysis))
    return json_response(StatusRead.model_validate(analysis).model_dump(mode="json"))


# --- Step 3: presigned uploads --------------------------------------------------------------


@router.post(
    "/api/analyses/{analysis_id}/artifacts/presign",
    response_model=PresignResponse | VistaPresignResponse,
    openapi_extra=openapi_body(PresignRequest),
    description=HMAC_NOTE
    + " VISTA's body `{artifact_type, filename}` is answered `{upload_url, storage_path}`.",
)
def presign_artifacts(
    analysis_id: uuid.UUID,
    caller: PipelineCallerDep,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    base_url: BaseUrlDep,
) -> Response:
    """Step 3: one presigned PUT URL per artifact (send the same Content-Type with the PUT)."""
    data = parse_json_object(caller.body)
    asks_vista = vista.is_vista_presign(data)
    if asks_vista:
        specs = [vista.presign_spec(data)]
    else:
        specs = parse_model(PresignRequest, caller.body).artifacts
    service.check_caller_access(session, caller.principal, analysis_id)
    uploads = artifact_service.presign_artifacts(
        session,
        storage,
        analysis_id=analysis_id,
        artifacts=specs,
        expires_in=settings.ml_presign_expires_seconds,
        base_url=base_url,
        max_artifact_bytes=settings.ml_max_artifact_bytes,
    )
    if asks_vista:
        path = vista.storage_path(analysis_id, uploads[0].artifact_name)
        return json_response({"upload_url": uploads[0].upload_url, "storage_path": path})
    answer = PresignResponse(
        presigned_urls=[
            PresignedUrl(
                artifact_name=u.artifact_name,
                upload_url=u.upload_url,
                expires_in=u.expires_in,
                content_type=u.content_type,
                headers={"Content-Type": u.content_type},
            )
            for u in uploads
        ]
    )
    return json_response(answer.model_dump(mode="json"))


# --- Step 5: bulk annotations ---------------------------------------------------------------


@router.post(
    "/api/analyses/{analysis_id}/annotations:bulk",
    response_model=BulkResponse,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": VistaAnnotationList, "description": "VISTA's callers"}},
    openapi_extra=openapi_body(BulkAnnotations),
    description=HMAC_NOTE
    + " Send an Idempotency-Key (or client `id`s per annotation) to make retries safe; "
    "`?mode=replace` swaps all annotations of the analysis in one transaction. VISTA's callers "
    "are answered 200 with `{annotations, total}`.",
)
def submit_annotations(
    analysis_id: uuid.UUID,
    caller: PipelineCallerDep,
    session: SessionDep,
    settings: SettingsDep,
    mode: Literal["append", "replace"] | None = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """Step 5: validate every annotation, then store them all (or none)."""
    data = parse_json_object(caller.body)
    if "annotations" not in data:
        raise InvalidInput("annotations: is required (a list of annotations)", field="annotations")
    mode = mode or _body_mode(data)
    service.check_caller_access(session, caller.principal, analysis_id)
    request_hash = hashlib.sha256(mode.encode() + b"\n" + caller.body).hexdigest()
    outcome = bulk.submit_annotations(
        session,
        analysis_id=analysis_id,
        annotations=vista.read_items(data["annotations"], analysis_id),
        replace=mode == "replace",
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        max_count=settings.ml_max_annotations_per_request,
    )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    if caller.speaks_vista:
        stored = service.stored_annotations(session, analysis_id)
        body = {"annotations": [vista.annotation_json(p) for p in stored], "total": len(stored)}
        return json_response(body, headers=headers)
    return Response(
        outcome.json_bytes(),
        status_code=outcome.status_code,
        headers=headers,
        media_type="application/json",
    )


def _body_mode(data: dict[str, Any]) -> Literal["append", "replace"]:
    """VISTA sends the mode in the body; the query parameter wins when both are given."""
    value = data.get("mode", "append")
    if value == "append" or value == "replace":
        return value
    raise InvalidInput(f"mode: must be append or replace, got {value!r}", field="mode")


# --- Step 6: finalize -----------------------------------------------------------------------


@router.post(
    "/api/analyses/{analysis_id}/finalize",
    response_model=FinalizeRead | VistaAnalysis,
    openapi_extra=openapi_body(FinalizeRequest),
    description=HMAC_NOTE,
)
def finalize_analysis(
    analysis_id: uuid.UUID,
    caller: PipelineCallerDep,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
) -> Response:
    """Step 6: close the analysis (completed, failed or cancelled) and store its summary."""
    request = parse_model(FinalizeRequest, caller.body, empty={})
    service.check_caller_access(session, caller.principal, analysis_id)
    analysis = service.finalize_analysis(
        session,
        storage,
        analysis_id=analysis_id,
        status=request.status,
        summary=request.summary,
        error_message=request.error_message,
        max_artifact_bytes=settings.ml_max_artifact_bytes,
    )
    if caller.speaks_vista:
        return json_response(vista.analysis_json(analysis))
    return json_response(FinalizeRead.model_validate(analysis).model_dump(mode="json"))


# --- Reads (user authentication) ------------------------------------------------------------


@router.get("/api/images/{image_id}/analyses", response_model=AnalysisPage)
def list_analyses(
    image_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    model_name: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> AnalysisPage:
    """An image's analyses, newest first, filtered by model and status."""
    items, total = service.list_analyses(
        session,
        principal=principal,
        image_id=image_id,
        model_name=model_name,
        status=status,
        limit=limit,
        offset=offset,
    )
    reads = [AnalysisRead.model_validate(a) for a in items]
    return AnalysisPage(items=reads, total=total, limit=limit, offset=offset, analyses=reads)


@router.get("/api/images/{image_id}/analyses/compare", response_model=CompareResponse)
def compare_analyses(
    image_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    analysis_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    iou: Annotated[float, Query(gt=0, le=1)] = 0.5,
) -> CompareResponse:
    """Several analyses of one image side by side; the first two are matched box to box."""
    image, analyses = service.analyses_of_image(
        session,
        principal=principal,
        image_id=image_id,
        analysis_ids=analysis_id or [],
        max_count=MAX_COMPARED,
    )
    predictions = {
        a.id: list(session.scalars(prediction_reads.predictions_query(a.id))) for a in analyses
    }
    compared = [
        {
            **AnalysisRead.model_validate(a).model_dump(),
            "annotations": [prediction_read(p) for p in predictions[a.id]],
            "annotations_total": len(predictions[a.id]),
        }
        for a in analyses
    ]
    comparison = None
    if len(analyses) >= 2:
        first, second = analyses[0], analyses[1]
        matched = compare.match_boxes(
            predictions[first.id], predictions[second.id], iou_threshold=iou
        )
        comparison = {
            "analysis_a": first.id,
            "analysis_b": second.id,
            "iou_threshold": iou,
            **matched,
        }
    return CompareResponse.model_validate(
        {
            "image_id": image.id,
            "image_width": image.width,
            "image_height": image.height,
            "analyses": compared,
            "comparison": comparison,
        }
    )


@router.get("/api/analyses/{analysis_id}", response_model=AnalysisDetail)
def get_analysis(
    analysis_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    annotations_limit: Annotated[int, Query(ge=0, le=10_000)] = 1000,
    annotations_offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """One analysis with a page of its annotations (posted order) and their total."""
    analysis = service.get_analysis(session, principal=principal, analysis_id=analysis_id)
    items, total = prediction_reads.predictions_json(
        session,
        analysis=analysis,
        filters=prediction_reads.PredictionFilters(),
        limit=annotations_limit,
        offset=annotations_offset,
    )
    body = AnalysisRead.model_validate(analysis).model_dump(mode="json")
    body.update(
        annotations_total=total,
        annotations_limit=annotations_limit,
        annotations_offset=annotations_offset,
    )
    return raw_json_response(splice(body, "annotations", items))


@router.get(
    "/api/analyses/{analysis_id}/annotations",
    response_model=PredictionPage | VistaAnnotationList,
)
def list_annotations(
    analysis_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    annotation_type: str | None = None,
    class_name: str | None = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    skip: Annotated[
        int | None,
        Query(ge=0, le=MAX_OFFSET, description="VISTA's paging: answers {annotations, total}"),
    ] = None,
) -> Response:
    """An analysis's annotations filtered by type, class and minimum confidence."""
    if annotation_type is not None and annotation_type not in TYPES:
        raise InvalidInput(
            f"annotation_type must be one of {', '.join(TYPES)}", field="annotation_type"
        )
    filters = prediction_reads.PredictionFilters(
        annotation_type=annotation_type, class_name=class_name, min_confidence=min_confidence
    )
    if skip is not None:
        found, total = prediction_reads.list_predictions(
            session,
            principal=principal,
            analysis_id=analysis_id,
            filters=filters,
            limit=limit,
            offset=skip,
        )
        rendered = [vista.annotation_json(p) for p in found]
        return json_response({"annotations": rendered, "total": total})
    analysis = service.get_analysis(session, principal=principal, analysis_id=analysis_id)
    items, total = prediction_reads.predictions_json(
        session, analysis=analysis, filters=filters, limit=limit, offset=offset
    )
    body = {"total": total, "limit": limit, "offset": offset}
    return raw_json_response(splice(body, "items", items))


@router.get("/api/analyses/{analysis_id}/export", response_class=StreamingResponse)
def export_analysis(
    analysis_id: uuid.UUID,
    session: SessionDep,
    sessions: SessionsDep,
    principal: PrincipalDep,
    format: Literal["json", "csv"] = "json",
) -> StreamingResponse:
    """The analysis and all its annotations as a JSON or CSV download (streamed)."""
    analysis = service.analysis_for_export(session, principal=principal, analysis_id=analysis_id)
    snapshot = AnalysisRead.model_validate(analysis).model_dump(mode="json")
    filename = exports.export_filename(analysis.model_name, format)
    if format == "csv":
        body = exports.export_csv(sessions, analysis_id=analysis.id)
    else:
        body = exports.export_json(sessions, analysis=snapshot, analysis_id=analysis.id)
    return StreamingResponse(
        body,
        media_type=exports.MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/api/analyses/{analysis_id}/artifacts")
def list_artifacts(
    analysis_id: uuid.UUID,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> dict[str, list[ArtifactRead]]:
    """An analysis's artifacts with their upload state (pending ones are checked in storage)."""
    artifacts = artifact_service.list_artifacts(
        session,
        storage,
        principal=principal,
        analysis_id=analysis_id,
        max_artifact_bytes=settings.ml_max_artifact_bytes,
    )
    return {"artifacts": [_artifact_read(a) for a in artifacts]}


def _artifact_read(artifact: Any) -> ArtifactRead:
    base = f"/api/analyses/{artifact.analysis_id}/artifacts/{quote(artifact.name)}"
    fields = (
        "name",
        "content_type",
        "state",
        "size_bytes",
        "expected_size",
        "created_at",
        "updated_at",
        "uploaded_at",
    )
    values = {name: getattr(artifact, name) for name in fields}
    return ArtifactRead.model_validate(
        {**values, "download_url": base, "url_endpoint": f"{base}/url"}
    )


@router.get(
    "/api/analyses/{analysis_id}/artifacts/{artifact_name}", response_class=StreamingResponse
)
def download_artifact(
    analysis_id: uuid.UUID,
    artifact_name: str,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> StreamingResponse:
    """The artifact's bytes, always as a download."""
    artifact = artifact_service.get_artifact(
        session,
        storage,
        principal=principal,
        analysis_id=analysis_id,
        name=artifact_name,
        max_artifact_bytes=settings.ml_max_artifact_bytes,
    )
    opened = artifact_service.open_artifact(storage, artifact)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in artifact.name)
    headers = {
        "Content-Disposition": f'attachment; filename="{safe}"',
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, max-age=60",
        # What storage serves, not the row's size_bytes: they differ if the object changed.
        "Content-Length": str(opened.size),
    }
    return StreamingResponse(opened.chunks, media_type=artifact.content_type, headers=headers)


@router.get("/api/analyses/{analysis_id}/artifacts/{artifact_name}/url", response_model=ArtifactUrl)
def artifact_url(
    analysis_id: uuid.UUID,
    artifact_name: str,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    base_url: BaseUrlDep,
) -> ArtifactUrl:
    """A presigned GET URL for the artifact (S3, or Lookout's local storage)."""
    artifact = artifact_service.get_artifact(
        session,
        storage,
        principal=principal,
        analysis_id=analysis_id,
        name=artifact_name,
        max_artifact_bytes=settings.ml_max_artifact_bytes,
    )
    expires_in = settings.ml_presign_expires_seconds
    url = artifact_service.artifact_download_url(
        storage, artifact, expires_in=expires_in, base_url=base_url
    )
    return ArtifactUrl(artifact_name=artifact.name, url=url, expires_in=expires_in)


@router.get("/api/ml/artifacts/download", response_model=ArtifactUrl)
def artifact_url_by_path(
    path: str,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    base_url: BaseUrlDep,
) -> ArtifactUrl:
    """VISTA's spelling: an artifact's presigned GET URL by its `storage_path`."""
    analysis_id, name = vista.parse_storage_path(path)
    return artifact_url(analysis_id, name, session, storage, settings, principal, base_url)


@router.get("/api/ml/artifacts/content", response_class=StreamingResponse)
def artifact_content_by_path(
    path: str,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> StreamingResponse:
    """VISTA's spelling: an artifact's bytes by its `storage_path`."""
    analysis_id, name = vista.parse_storage_path(path)
    return download_artifact(analysis_id, name, session, storage, settings, principal)


@router.delete("/api/analyses/{analysis_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_analysis(
    analysis_id: uuid.UUID, session: SessionDep, storage: StorageDep, principal: PrincipalDep
) -> None:
    """Delete an analysis with its annotations and artifacts (objects included)."""
    service.delete_analysis(session, storage, principal=principal, analysis_id=analysis_id)
