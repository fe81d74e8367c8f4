"""HTTP endpoints for cameras, sequences, frames and reviews."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import Depends, Query, Request, Response, status
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from lookout.auth.dependencies import RawBodyDep
from lookout.auth.principal import Principal
from lookout.body_limits import accepts_uploads
from lookout.db import MAX_OFFSET
from lookout.deps import PrincipalDep, SessionDep, SettingsDep, StorageDep, get_runtime
from lookout.errors import InvalidInput
from lookout.images import trash as image_trash
from lookout.jsonbody import CheckedJSONRoute, openapi_body, parse_json_object
from lookout.rendering import json_response
from lookout.route_table import RouteTable
from lookout.sequences import changes, frames, history, reviews, service, trash
from lookout.sequences.drafting import DraftParams
from lookout.sequences.models import ProcessingStage, ReviewVersion, SequenceReview
from lookout.sequences.reads import frame_read, sequence_read
from lookout.sequences.schemas import (
    CameraCreate,
    CameraRead,
    DraftRequest,
    DraftResult,
    FrameBatch,
    FrameBatchItem,
    FrameBatchResult,
    FrameCreated,
    FrameFromUrl,
    FrameMetadata,
    FramePrediction,
    RestoreRequest,
    ReviewChange,
    ReviewChangesPage,
    ReviewRead,
    ReviewVersionDetail,
    ReviewVersionRead,
    ReviewWrite,
    SendBack,
    SequenceCreate,
    SequenceDelete,
    SequenceDetail,
    SequencePage,
    SequenceRead,
)

router = RouteTable(tags=["sequences"], route_class=CheckedJSONRoute)


def _status(response: Response, existing: bool) -> None:
    response.status_code = status.HTTP_200_OK if existing else status.HTTP_201_CREATED


@router.post(
    "/api/cameras",
    response_model=CameraRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The camera already exists"}},
)
def create_camera(
    body: CameraCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> CameraRead:
    """Create a camera, or answer 200 with the one that has this source and source_id."""
    camera, existing = service.get_or_create_camera(
        session, principal=principal, values=body.model_dump()
    )
    _status(response, existing)
    return CameraRead.model_validate(camera).model_copy(update={"existing": existing})


@router.post(
    "/api/sequences",
    response_model=SequenceRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The sequence already exists"}},
)
def create_sequence(
    body: SequenceCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> SequenceRead:
    """Create a sequence, or answer 200 with the one that has this source and source_id."""
    sequence, existing = service.get_or_create_sequence(
        session, principal=principal, values=body.model_dump()
    )
    _status(response, existing)
    return sequence_read(sequence, existing=existing)


@router.get("/api/sequences", response_model=SequencePage)
def list_sequences(
    session: SessionDep,
    principal: PrincipalDep,
    project_id: uuid.UUID | None = None,
    camera_id: uuid.UUID | None = None,
    organization: str | None = None,
    source: str | None = None,
    date_from: date | None = None,
    date_to: Annotated[date | None, Query(description="Inclusive.")] = None,
    processing_stage: Annotated[
        str | None, Query(description="A stage, or `none` for no review.")
    ] = None,
    has_smoke: bool | None = None,
    has_false_positives: bool | None = None,
    false_positive_type: str | None = None,
    has_missed_smoke: bool | None = None,
    is_unsure: Annotated[
        bool | None, Query(description="true: the sequences waiting for a second opinion.")
    ] = None,
    reviewed_by: Annotated[
        str | None,
        Query(max_length=320, description="Email or user id of who last saved the review."),
    ] = None,
    sibling_of: Annotated[
        uuid.UUID | None,
        Query(description="Sequences sharing a frame with this one (one per smoke object)."),
    ] = None,
    min_platform_score: Annotated[
        float | None, Query(ge=0, le=1, description="The platform's score at least this.")
    ] = None,
    platform_label: Annotated[
        Literal["wildfire_smoke", "other_smoke", "other", "none"] | None,
        Query(description="The platform's label (normalized); `none`: no label."),
    ] = None,
    order: Annotated[
        Literal["newest", "oldest", "score"],
        Query(description="`score`: the platform's highest score first, unscored last."),
    ] = "newest",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    include_deleted: Annotated[
        bool, Query(description="Show the sequences in the trash too")
    ] = False,
    deleted_only: Annotated[
        bool, Query(description="Show only the sequences in the trash")
    ] = False,
) -> SequencePage:
    """Sequences with a reviewer's filters; `order=oldest` gives the review queue."""
    filters = service.SequenceFilters(
        project_id=project_id,
        camera_id=camera_id,
        organization=organization,
        source=source,
        date_from=date_from,
        date_to=date_to,
        processing_stage=processing_stage,
        has_smoke=has_smoke,
        has_false_positives=has_false_positives,
        false_positive_type=false_positive_type,
        has_missed_smoke=has_missed_smoke,
        reviewed_by=reviewed_by,
        is_unsure=is_unsure,
        sibling_of=sibling_of,
        min_platform_score=min_platform_score,
        platform_label=platform_label,
    )
    rows, total = service.list_sequences(
        session,
        principal=principal,
        filters=filters,
        limit=limit,
        offset=offset,
        order=order,
        trash="only" if deleted_only else "all" if include_deleted else "hidden",
    )
    items = [
        sequence_read(
            r.sequence,
            camera=r.camera,
            review=r.review,
            frame_count=r.frame_count,
            reviewed_by=r.reviewer,
        )
        for r in rows
    ]
    return SequencePage(items=items, total=total, limit=limit, offset=offset)


@router.get("/api/sequences/{sequence_id}", response_model=SequenceDetail)
def get_sequence(
    sequence_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    model_name: str | None = None,
    include_deleted: Annotated[bool, Query(description="Also a sequence in the trash")] = False,
) -> SequenceDetail:
    """A sequence with its frames in time order, their predictions, and its review."""
    sequence = service.get_sequence(
        session, principal=principal, sequence_id=sequence_id, include_deleted=include_deleted
    )
    frame_rows = service.frames_of(session, sequence.id)
    boxes = frames.predictions_by_frame(session, [f.id for f in frame_rows], model_name)
    review = reviews.review_of(session, sequence.id)
    frame_reads = [
        frame_read(f, i, [_frame_prediction(row) for row in boxes.get(f.id, [])])
        for i, f in enumerate(frame_rows)
    ]
    summary = sequence_read(
        sequence,
        camera=sequence.camera,
        review=review,
        frame_count=len(frame_rows),
        reviewed_by=service.reviewer_email(session, review),
    )
    return SequenceDetail(
        **summary.model_dump(),
        frames=frame_reads,
        review=_review_read(session, review) if review else None,
    )


@router.delete(
    "/api/sequences/{sequence_id}",
    response_model=SequenceRead,
    responses={204: {"description": "Purged at once (`force`)"}},
    openapi_extra=openapi_body(SequenceDelete, required=False),
)
def delete_sequence(
    sequence_id: uuid.UUID,
    request: Request,
    body: RawBodyDep,
    session: SessionDep,
    storage: StorageDep,
    principal: PrincipalDep,
) -> Response:
    """Move the sequence to the trash with its frames (hidden from lists, the review queue,
    exports, evaluations and groups; objects kept; restorable for
    LOOKOUT_TRASH_RETENTION_DAYS), with an optional `reason`; `force: true` (admins) purges
    it at once, frames, review and objects."""
    reason, force = image_trash.delete_request(parse_json_object(body, empty={}))
    sequence = trash.delete(
        session,
        storage,
        principal=principal,
        sequence_id=sequence_id,
        reason=reason,
        force=force,
        before_purge=get_runtime(request).before_sequence_purge,
    )
    if sequence is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return json_response(sequence_read(sequence).model_dump(mode="json"))


@router.post(
    "/api/sequences/{sequence_id}/restore",
    response_model=SequenceRead,
    responses={
        409: {"description": "Not in the trash, or purged"},
        410: {"description": "The retention period has passed"},
    },
)
def restore_sequence(
    sequence_id: uuid.UUID, session: SessionDep, settings: SettingsDep, principal: PrincipalDep
) -> Response:
    """Take a sequence and its frames out of the trash: 409 when it is not there (or was
    purged), 410 after the retention period."""
    sequence = trash.restore(
        session,
        principal=principal,
        sequence_id=sequence_id,
        retention_days=settings.trash_retention_days,
    )
    return json_response(sequence_read(sequence).model_dump(mode="json"))


def _frame_prediction(row: frames.FrameBoxRow) -> FramePrediction:
    p, a = row.prediction, row.analysis
    box = [p.x1, p.y1, p.x2, p.y2] if p.x1 is not None else None
    return FramePrediction(
        id=p.id,
        analysis_id=a.id,
        model_name=a.model_name,
        model_version=a.model_version,
        annotation_type=p.annotation_type,
        class_name=p.class_name,
        confidence=p.confidence,
        bbox_xyxyn=box,
        context=reviews.is_context(p.data),
    )


def _review_read(
    session: Session, review: SequenceReview, caller: Principal | None = None
) -> ReviewRead:
    read = ReviewRead.model_validate(review)
    who = service.reviewer_email(session, review, caller)
    return read.model_copy(update={"reviewed_by": who})


def _frame_created(stored: frames.StoredFrame) -> FrameCreated:
    image = stored.image
    return FrameCreated(
        id=image.id,
        sequence_id=image.sequence_id,
        captured_at=image.captured_at,
        width=image.width,
        height=image.height,
        content_url=f"/api/images/{image.id}/content",
        analysis_id=stored.analysis_id,
        prediction_count=stored.prediction_count,
        existing=stored.existing,
    )


async def _frame_request(request: Request) -> tuple[FrameMetadata, UploadFile | None]:
    """A frame comes as JSON with a `url`, or as multipart with `file` and `metadata` JSON."""
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            return FrameFromUrl.model_validate_json(await request.body()), None
        form = await request.form()
    except ValidationError as exc:
        raise InvalidInput(_first_error(exc), field=_first_field(exc)) from exc
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("send JSON with a url, or multipart with a file", field="file")
    raw = form.get("metadata") or "{}"
    try:
        return FrameMetadata.model_validate_json(raw if isinstance(raw, str) else "{}"), upload
    except ValidationError as exc:
        raise InvalidInput(_first_error(exc), field="metadata." + _first_field(exc)) from exc


def _first_field(exc: ValidationError) -> str:
    return ".".join(str(part) for part in exc.errors()[0]["loc"]) or "body"


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{_first_field(exc)}: {error['msg']}"


@router.post(
    "/api/sequences/{sequence_id}/frames",
    response_model=FrameCreated,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "The frame already exists"},
        502: {"description": "The frame URL could not be fetched"},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": FrameFromUrl.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "metadata": {
                                "type": "string",
                                "description": "JSON: captured_at, source, source_id, predictions",
                            },
                        },
                        "required": ["file"],
                    }
                },
            }
        }
    },
)
@accepts_uploads
def add_frame(
    sequence_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    parsed: tuple[FrameMetadata, UploadFile | None] = Depends(_frame_request),
) -> Response:
    """Add a frame with the boxes a model saw on it (stored as an analysis of the frame).

    JSON `{"url": ...}` makes the server fetch the image itself; multipart sends the file.
    """
    metadata, upload = parsed
    stored = frames.add_frame(
        session,
        storage,
        principal=principal,
        sequence_id=sequence_id,
        stream=upload.file if upload else None,
        metadata=metadata,
        max_pixels=settings.max_image_pixels,
        filename=upload.filename if upload else None,
        http=get_runtime(request).http,
        url=getattr(metadata, "url", None),
        fetch_limit=settings.max_upload_bytes,
    )
    # Rendered here: FastAPI would validate the model again against response_model.
    status_code = status.HTTP_200_OK if stored.existing else status.HTTP_201_CREATED
    return json_response(_frame_created(stored).model_dump(mode="json"), status_code)


@router.post(
    "/api/sequences/{sequence_id}/frames:batch",
    response_model=FrameBatchResult,
    responses={404: {"description": "No such sequence (or not yours)"}},
)
def add_frames(
    sequence_id: uuid.UUID,
    body: FrameBatch,
    request: Request,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> Response:
    """Add up to 100 frames by URL in one request; each frame gets its own status.

    The server fetches the URLs one after the other (a client's concurrency towards their
    host is its number of requests in flight) and stores each frame in its own transaction:
    a frame that fails (502 when its URL cannot be fetched) leaves the others stored.
    """
    outcomes = frames.add_frames_from_urls(
        session,
        storage,
        principal=principal,
        sequence_id=sequence_id,
        items=body.frames,
        max_pixels=settings.max_image_pixels,
        http=get_runtime(request).http,
        fetch_limit=settings.max_upload_bytes,
    )
    items = [_batch_item(index, outcome) for index, outcome in enumerate(outcomes)]
    statuses = [item.status for item in items]
    result = FrameBatchResult(
        created=statuses.count(status.HTTP_201_CREATED),
        existing=statuses.count(status.HTTP_200_OK),
        failed=sum(code >= 400 for code in statuses),
        frames=items,
    )
    return json_response(result.model_dump(mode="json"))


def _batch_item(index: int, outcome: frames.FrameOutcome) -> FrameBatchItem:
    if outcome.stored is not None:
        created = _frame_created(outcome.stored)
        code = status.HTTP_200_OK if created.existing else status.HTTP_201_CREATED
        return FrameBatchItem(status=code, frame=created)
    error = outcome.error
    assert error is not None
    field = f"frames.{index}.{error.field}" if error.field else f"frames.{index}"
    return FrameBatchItem(status=error.status, detail=error.message, field=field)


@router.post("/api/sequences/{sequence_id}/draft", response_model=DraftResult)
def draft_review(
    request: Request,
    sequence_id: uuid.UUID,
    body: DraftRequest,
    session: SessionDep,
    principal: PrincipalDep,
) -> DraftResult:
    """Draft the review by clustering a model's boxes across frames (stage ready_to_annotate).

    A review a person has started or finished is kept (`status: skipped`) unless `force`.
    """
    params = DraftParams(
        confidence_threshold=body.confidence_threshold,
        iou_threshold=body.iou_threshold,
        min_cluster_size=body.min_cluster_size,
    )
    outcome = reviews.draft_review(
        session,
        principal=principal,
        sequence_id=sequence_id,
        params=params,
        model_name=body.model_name,
        force=body.force,
    )
    if outcome.status != "skipped":
        # Its tracks join the camera's groups of recurring objects (lookout.grouping).
        get_runtime(request).after_draft(session, outcome.review.sequence_id)
        session.refresh(outcome.review)
    return DraftResult(
        status=outcome.status,
        reason=outcome.reason,
        track_count=len(outcome.review.tracks),
        review=_review_read(session, outcome.review),
    )


@router.get("/api/sequences/{sequence_id}/review", response_model=ReviewRead)
def get_review(sequence_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ReviewRead:
    review = reviews.get_review(session, principal=principal, sequence_id=sequence_id)
    return _review_read(session, review, principal)


@router.put(
    "/api/sequences/{sequence_id}/review",
    response_model=ReviewRead,
    responses={409: {"description": "Someone else saved the review since `version`"}},
)
def save_review(
    sequence_id: uuid.UUID, body: ReviewWrite, session: SessionDep, principal: PrincipalDep
) -> ReviewRead:
    """Save a person's review of the sequence; send the `version` you started from."""
    review = reviews.save_review(session, principal=principal, sequence_id=sequence_id, write=body)
    return _review_read(session, review, principal)


@router.post(
    "/api/sequences/{sequence_id}/review/send-back",
    response_model=ReviewRead,
    responses={409: {"description": "Already waiting in the queue"}},
)
def send_back(
    sequence_id: uuid.UUID, body: SendBack, session: SessionDep, principal: PrincipalDep
) -> ReviewRead:
    """Return a reviewed sequence to the review queue with a reason; its history is kept."""
    review = reviews.send_back(
        session, principal=principal, sequence_id=sequence_id, reason=body.reason
    )
    return _review_read(session, review, principal)


def _version_read(version: ReviewVersion, email: str | None, before: ReviewVersion | None):
    return ReviewVersionRead(
        version=version.version,
        action=version.action,
        saved_by=email,
        saved_at=version.saved_at,
        reason=version.reason,
        processing_stage=version.state.get("processing_stage", ""),
        is_unsure=bool(version.state.get("is_unsure")),
        changes=history.changes(before.state if before else None, version.state),
    )


@router.get("/api/sequences/{sequence_id}/review/versions", response_model=list[ReviewVersionRead])
def review_history(
    sequence_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> list[ReviewVersionRead]:
    """Every saved version of the review, newest first: who, when and what changed."""
    rows = reviews.review_history(session, principal=principal, sequence_id=sequence_id)
    olders = [row[0] for row in rows[1:]] + [None]
    return [_version_read(v, email, older) for (v, email), older in zip(rows, olders, strict=True)]


@router.get(
    "/api/sequences/{sequence_id}/review/versions/{version}", response_model=ReviewVersionDetail
)
def review_version(
    sequence_id: uuid.UUID, version: int, session: SessionDep, principal: PrincipalDep
) -> ReviewVersionDetail:
    """One saved version of the review with its tracks."""
    found, email, older = reviews.review_version(
        session, principal=principal, sequence_id=sequence_id, version=version
    )
    return ReviewVersionDetail(
        **_version_read(found, email, older).model_dump(),
        tracks=found.state.get("tracks") or [],
        has_missed_smoke=bool(found.state.get("has_missed_smoke")),
    )


@router.post(
    "/api/sequences/{sequence_id}/review/versions/{version}/restore",
    response_model=ReviewRead,
    responses={409: {"description": "Someone saved the review since `version`"}},
)
def restore_version(
    sequence_id: uuid.UUID,
    version: int,
    session: SessionDep,
    principal: PrincipalDep,
    body: RestoreRequest | None = None,
) -> ReviewRead:
    """Make an earlier version current again, as a new version (the one replaced is kept)."""
    review = reviews.restore_version(
        session,
        principal=principal,
        sequence_id=sequence_id,
        version=version,
        current=body.version if body else None,
    )
    return _review_read(session, review, principal)


@router.get("/api/reviews/changes", response_model=ReviewChangesPage)
def review_changes(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    since: Annotated[
        str | None,
        Query(description="The last page's next_cursor, or an ISO date and time with a zone"),
    ] = None,
    project_id: uuid.UUID | None = None,
    processing_stage: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ReviewChangesPage:
    """Reviews changed since a cursor, oldest change first, with their sequences and frames'
    URLs: pull what changed each night instead of exporting everything again. Keep
    `next_cursor` and pass it as `since` next time (it is returned with an empty page too)."""
    if processing_stage is not None and processing_stage not in ProcessingStage.ALL:
        raise InvalidInput(
            f"processing_stage: one of {', '.join(ProcessingStage.ALL)}", field="processing_stage"
        )
    page = changes.changed_reviews(
        session,
        principal=principal,
        since=changes.parse_since(since),
        limit=limit,
        settle_seconds=settings.changes_settle_seconds,
        project_id=project_id,
        processing_stage=processing_stage,
    )
    items = [
        ReviewChange(
            sequence=sequence_read(
                row.sequence,
                camera=row.camera,
                review=row.review,
                frame_count=row.frame_count,
                reviewed_by=row.reviewer,
            ),
            review=_review_read(session, row.review),
            frames=[frame_read(f, i) for i, f in enumerate(page.frames[row.sequence.id])],
        )
        for row in page.rows
        if row.review is not None
    ]
    return ReviewChangesPage(
        items=items, next_cursor=page.next_cursor, settled_before=page.settled_before
    )
