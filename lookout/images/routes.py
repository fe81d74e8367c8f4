"""HTTP endpoints for images."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import File, Form, Query, UploadFile, status
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from lookout import metadata_values
from lookout.auth.dependencies import RawBodyDep
from lookout.auth.principal import Principal
from lookout.body_limits import accepts_uploads
from lookout.db import MAX_OFFSET
from lookout.deps import PrincipalDep, SessionDep, SettingsDep, StorageDep
from lookout.errors import InvalidInput
from lookout.images import service, trash
from lookout.images.schemas import (
    DeletionEvents,
    ImageDelete,
    ImageDownload,
    ImagePage,
    ImageRead,
    ImageTrashRequest,
    MetadataEntry,
    image_json,
)
from lookout.jsonbody import CheckedJSONRoute, openapi_body, parse_json_object
from lookout.rendering import iso, json_response, raw_json_response, splice
from lookout.route_table import RouteTable
from lookout.storage import ObjectStorage

router = RouteTable(tags=["images"], route_class=CheckedJSONRoute)

IncludeDeleted = Annotated[bool, Query(description="Also an image in the trash")]

PRIVATE_CACHE = "private, max-age=3600"


@router.post(
    "/api/projects/{project_id}/images",
    response_model=ImageRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "An image with this source and source_id already exists"}},
)
@accepts_uploads
def upload_image(
    project_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="JPEG, PNG, WebP, BMP, TIFF or GIF")],
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    response: Response,
    captured_at: Annotated[datetime | None, Form()] = None,
    sequence_id: Annotated[uuid.UUID | None, Form()] = None,
    source: Annotated[str | None, Form(max_length=100)] = None,
    source_id: Annotated[str | None, Form(max_length=200)] = None,
    metadata: Annotated[
        str | None,
        Form(
            description="VISTA's free-form metadata: a JSON object of keys to text, numbers, "
            "true, false or null (at most 100 keys, 16 KiB)"
        ),
    ] = None,
) -> ImageRead:
    """Upload an image (multipart). A repeat of the same source and source_id answers 200."""
    upload = service.ImageUpload(
        stream=file.file,
        filename=file.filename,
        captured_at=captured_at,
        sequence_id=sequence_id,
        source=source,
        source_id=source_id,
        metadata=metadata_values.parse_metadata_text(metadata),
    )
    stored = service.store_image(
        session,
        storage,
        principal=principal,
        project_id=project_id,
        upload=upload,
        max_pixels=settings.max_image_pixels,
    )
    if stored.existing:
        response.status_code = status.HTTP_200_OK
    return ImageRead.of(stored.image, existing=stored.existing)


@router.get("/api/projects/{project_id}/images", response_model=ImagePage | list[ImageRead])
def list_images(
    project_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    skip: Annotated[
        int | None,
        Query(ge=0, le=MAX_OFFSET, description="VISTA's paging: answers a plain list"),
    ] = None,
    sequence_id: uuid.UUID | None = None,
    captured_after: datetime | None = None,
    captured_before: datetime | None = None,
    model_name: str | None = None,
    analysis_status: str | None = None,
    class_id: Annotated[uuid.UUID | None, Query(description="Images given this class")] = None,
    search_field: Annotated[
        str | None,
        Query(
            description="VISTA's search: `filename`, `content_type`, `metadata` (any key or "
            "value), or a metadata key (also spelled `metadata.<key>`)"
        ),
    ] = None,
    search_value: Annotated[
        str | None, Query(description="Text found in that field, in any case")
    ] = None,
    include_deleted: Annotated[bool, Query(description="Show the images in the trash too")] = False,
    deleted_only: Annotated[bool, Query(description="Show only the images in the trash")] = False,
    uploaded_by: Annotated[
        str | None,
        Query(description="Images uploaded by this user: an email (any case) or a user id"),
    ] = None,
) -> Response:
    """A page of a project's images, newest first; pass `next_cursor` back for the next page.

    With `skip` (VISTA's clients), the answer is VISTA's: a plain list of `limit` images after
    the first `skip`.
    """
    search_field, search_value = service.check_search(search_field, search_value)
    filters = service.ImageFilters(
        sequence_id=sequence_id,
        captured_after=captured_after,
        captured_before=captured_before,
        model_name=model_name,
        analysis_status=analysis_status,
        class_id=class_id,
        search_field=search_field,
        search_value=search_value,
        trash="only" if deleted_only else "all" if include_deleted else "hidden",
        uploaded_by_id=service.uploader_id(session, uploaded_by),
    )
    limit = min(limit, settings.page_size_max)
    if skip is not None:
        if cursor is not None:
            raise InvalidInput("skip: give either skip or cursor, not both", field="skip")
        images = service.list_images_after(
            session,
            principal=principal,
            project_id=project_id,
            filters=filters,
            skip=skip,
            limit=limit,
        )
        return json_response([image_json(image) for image in images])
    items, next_cursor = service.image_page_json(
        session,
        principal=principal,
        project_id=project_id,
        filters=filters,
        limit=limit,
        cursor=cursor,
    )
    return raw_json_response(splice({"next_cursor": next_cursor}, "items", items))


@router.get("/api/images/{image_id}", response_model=ImageRead)
def get_image(
    image_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    include_deleted: IncludeDeleted = False,
) -> Response:
    image = service.get_image(
        session, principal=principal, image_id=image_id, include_deleted=include_deleted
    )
    return json_response(image_json(image))


@router.get("/api/images/{image_id}/content", response_class=StreamingResponse)
def image_content(
    image_id: uuid.UUID,
    session: SessionDep,
    storage: StorageDep,
    principal: PrincipalDep,
    include_deleted: IncludeDeleted = False,
) -> StreamingResponse:
    """The original image bytes."""
    image = service.get_image(
        session, principal=principal, image_id=image_id, include_deleted=include_deleted
    )
    # Stream with no transaction open: on SQLite it would hold the write lock for as long as
    # the client takes to read (on PostgreSQL a pooled connection).
    session.commit()
    return StreamingResponse(
        service.image_chunks(storage, image),
        media_type=image.content_type,
        headers={
            "Cache-Control": PRIVATE_CACHE,
            "Content-Length": str(image.size_bytes),
            "ETag": f'"{image.sha256}"',
        },
    )


@router.get("/api/images/{image_id}/download", response_model=ImageDownload)
def image_download(
    image_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    include_deleted: IncludeDeleted = False,
) -> Response:
    """VISTA's download step: where to fetch the image's bytes (`url`, relative to /api)."""
    image = service.get_image(
        session, principal=principal, image_id=image_id, include_deleted=include_deleted
    )
    body = ImageDownload(url=f"/images/{image.id}/content", object_key=image.object_key)
    return json_response(body.model_dump())


@router.put(
    "/api/images/{image_id}/metadata",
    response_model=ImageRead,
    openapi_extra=openapi_body(MetadataEntry),
)
def put_image_metadata(
    image_id: uuid.UUID, body: RawBodyDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    """VISTA's metadata change: `{"key", "value"}` sets one key; the image is the answer."""
    data = parse_json_object(body)
    unknown = sorted(set(data) - {"key", "value"})
    if unknown:
        raise InvalidInput(f"{unknown[0]}: unknown field (send key and value)", field=unknown[0])
    if "key" not in data:
        raise InvalidInput("key: required", field="key")
    key = metadata_values.check_key(data["key"])
    value = metadata_values.check_value(data.get("value"), field="value")
    image = service.set_metadata(
        session, principal=principal, image_id=image_id, values={key: value}
    )
    return json_response(image_json(image))


@router.patch(
    "/api/images/{image_id}/metadata",
    response_model=ImageRead,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                    }
                }
            },
        }
    },
)
def patch_image_metadata(
    image_id: uuid.UUID, body: RawBodyDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Set several keys at once: a JSON object of keys to values (other keys are kept)."""
    values = metadata_values.check_metadata(parse_json_object(body), field="metadata")
    image = service.set_metadata(session, principal=principal, image_id=image_id, values=values)
    return json_response(image_json(image))


@router.delete("/api/images/{image_id}/metadata/{key}", response_model=ImageRead)
def delete_image_metadata(
    image_id: uuid.UUID, key: str, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Remove one key (VISTA answers the image, also when the key was not there)."""
    metadata_values.check_key(key)
    image = service.delete_metadata_key(session, principal=principal, image_id=image_id, key=key)
    return json_response(image_json(image))


@router.get("/api/images/{image_id}/thumbnail", response_class=Response)
def image_thumbnail(
    image_id: uuid.UUID,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    include_deleted: IncludeDeleted = False,
) -> Response:
    """A JPEG thumbnail, computed once and stored."""
    image = service.get_image(
        session, principal=principal, image_id=image_id, include_deleted=include_deleted
    )
    data = service.thumbnail_bytes(session, storage, image=image, size=settings.thumbnail_size)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": PRIVATE_CACHE})


@router.delete(
    "/api/images/{image_id}",
    response_model=ImageRead,
    responses={204: {"description": "Purged at once (`force`)"}},
    openapi_extra=openapi_body(ImageTrashRequest, required=False),
)
def delete_image(
    image_id: uuid.UUID,
    body: RawBodyDep,
    session: SessionDep,
    storage: StorageDep,
    principal: PrincipalDep,
) -> Response:
    """Move the image to the trash (hidden, objects kept, restorable for
    LOOKOUT_TRASH_RETENTION_DAYS), with an optional `reason`; `force: true` (admins) purges
    it at once, analyses and objects, in the trash or not."""
    reason, force = trash.delete_request(parse_json_object(body, empty={}))
    reason = trash.optional_reason(reason)
    return _trash_or_purge(session, storage, principal, None, image_id, reason, force)


@router.delete(
    "/api/projects/{project_id}/images/{image_id}",
    response_model=ImageRead,
    responses={204: {"description": "Purged at once (`force`)"}},
    openapi_extra=openapi_body(ImageDelete),
)
def trash_image(
    project_id: uuid.UUID,
    image_id: uuid.UUID,
    body: RawBodyDep,
    session: SessionDep,
    storage: StorageDep,
    principal: PrincipalDep,
) -> Response:
    """VISTA's delete: move the image to the trash with a `reason` (required; hidden, objects
    kept, restorable for LOOKOUT_TRASH_RETENTION_DAYS); `force: true` (admins) purges it."""
    reason, force = trash.delete_request(parse_json_object(body))
    reason = trash.check_reason(reason)
    return _trash_or_purge(session, storage, principal, project_id, image_id, reason, force)


def _trash_or_purge(
    session: Session,
    storage: ObjectStorage,
    principal: Principal,
    project_id: uuid.UUID | None,
    image_id: uuid.UUID,
    reason: str | None,
    force: bool,
) -> Response:
    """The answer of both deletes: the image now in the trash, or 204 once purged."""
    image = trash.delete(
        session,
        storage,
        principal=principal,
        project_id=project_id,
        image_id=image_id,
        reason=reason,
        force=force,
    )
    if image is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return json_response(image_json(image))


@router.post("/api/projects/{project_id}/images/{image_id}/restore", response_model=ImageRead)
def restore_image(
    project_id: uuid.UUID,
    image_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> Response:
    """Take an image out of the trash: 409 once purged, 410 after the retention period."""
    image = trash.restore(
        session,
        principal=principal,
        project_id=project_id,
        image_id=image_id,
        retention_days=settings.trash_retention_days,
    )
    return json_response(image_json(image))


@router.get("/api/projects/{project_id}/images/deletion-events", response_model=DeletionEvents)
def deletion_events(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    skip: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    image_id: Annotated[uuid.UUID | None, Query(description="One image's events")] = None,
) -> Response:
    """The trash's log of images, newest first: who deleted, restored or purged which image,
    and why (`/api/projects/{project_id}/deletion-events` has the sequences' too)."""
    rows, total = trash.events(
        session,
        principal=principal,
        project_id=project_id,
        image_id=image_id,
        kind="image",
        skip=skip,
        limit=limit,
    )
    return json_response({"events": [_event_json(row) for row in rows], "total": total})


@router.get("/api/projects/{project_id}/deletion-events", response_model=DeletionEvents)
def project_deletion_events(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    skip: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    kind: Annotated[
        Literal["image", "sequence"] | None, Query(description="Only images' or sequences' events")
    ] = None,
    image_id: Annotated[uuid.UUID | None, Query(description="One image's events")] = None,
    sequence_id: Annotated[uuid.UUID | None, Query(description="One sequence's events")] = None,
) -> Response:
    """The project's trash log, newest first: who deleted, restored or purged which image or
    sequence, and why."""
    rows, total = trash.events(
        session,
        principal=principal,
        project_id=project_id,
        image_id=image_id,
        sequence_id=sequence_id,
        kind=kind,
        skip=skip,
        limit=limit,
    )
    return json_response({"events": [_event_json(row) for row in rows], "total": total})


def _event_json(row: trash.EventRow) -> dict[str, Any]:
    event = row.event
    return {
        "id": str(event.id),
        "project_id": str(event.project_id),
        "kind": "image" if event.image_id is not None else "sequence",
        "image_id": str(event.image_id) if event.image_id else None,
        "sequence_id": str(event.sequence_id) if event.sequence_id else None,
        "actor_id": str(event.actor_id) if event.actor_id else None,
        "actor_email": row.actor_email,
        "action": event.action,
        "reason": event.reason,
        "created_at": iso(event.created_at),
    }
