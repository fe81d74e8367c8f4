"""Storing, listing, serving and deleting images, scoped to the caller's projects."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lookout.analyses.models import Analysis, Artifact
from lookout.auth.principal import Principal, project_scope
from lookout.errors import InvalidInput, NotFound
from lookout.images.inspect import EXTENSIONS, inspect_image, make_thumbnail
from lookout.images.models import Image
from lookout.projects import service as projects
from lookout.projects.models import Project
from lookout.sequences.models import Sequence
from lookout.storage import ObjectNotFound, ObjectStorage

log = logging.getLogger(__name__)


def visible_images(principal: Principal) -> sa.Select[tuple[Image]]:
    """Images of projects the caller may see; every image read starts here."""
    return (
        sa.select(Image)
        .join(Project, Project.id == Image.project_id)
        .where(project_scope(principal, Project.group_id))
    )


def get_image(session: Session, *, principal: Principal, image_id: uuid.UUID) -> Image:
    image = session.scalar(visible_images(principal).where(Image.id == image_id))
    if image is None:
        raise NotFound(f"image {image_id} not found")
    return image


@dataclass(frozen=True)
class StoredImage:
    image: Image
    existing: bool


@dataclass(frozen=True)
class ImageUpload:
    stream: BinaryIO
    filename: str | None = None
    captured_at: datetime | None = None
    sequence_id: uuid.UUID | None = None
    source: str | None = None
    source_id: str | None = None


def _find_by_source(session: Session, source: str, source_id: str) -> Image | None:
    return session.scalar(
        sa.select(Image).where(Image.source == source, Image.source_id == source_id)
    )


def _check_sequence(session: Session, project_id: uuid.UUID, sequence_id: uuid.UUID | None) -> None:
    if sequence_id is None:
        return
    found = session.scalar(
        sa.select(Sequence.id).where(Sequence.id == sequence_id, Sequence.project_id == project_id)
    )
    if found is None:
        raise InvalidInput(f"sequence {sequence_id} is not in this project", field="sequence_id")


def store_image(
    session: Session,
    storage: ObjectStorage,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    upload: ImageUpload,
    max_pixels: int,
    on_stored: Callable[[Image], None] | None = None,
) -> StoredImage:
    """Check and store an image; an existing (source, source_id) answers with the stored one.

    `on_stored` adds rows that belong with the image (e.g. its predictions) in the same
    transaction, so either all of it is stored or none of it, object included.
    """
    project = projects.get_project(session, principal=principal, project_id=project_id)
    if (upload.source is None) != (upload.source_id is None):
        raise InvalidInput("source and source_id go together", field="source_id")
    if upload.source and (
        existing := _find_by_source(session, upload.source, upload.source_id or "")
    ):
        _check_same_project(existing, project.id)
        return StoredImage(existing, existing=True)
    _check_sequence(session, project.id, upload.sequence_id)
    facts = inspect_image(upload.stream, max_pixels=max_pixels)
    image_id = uuid.uuid4()
    key = f"projects/{project.id}/images/{image_id}.{EXTENSIONS[facts.content_type]}"
    storage.put_file(key, upload.stream, facts.content_type)
    image = Image(
        id=image_id,
        project_id=project.id,
        sequence_id=upload.sequence_id,
        object_key=key,
        filename=_clean_filename(upload.filename),
        content_type=facts.content_type,
        size_bytes=facts.size_bytes,
        width=facts.width,
        height=facts.height,
        sha256=facts.sha256,
        captured_at=upload.captured_at,
        source=upload.source,
        source_id=upload.source_id,
        uploaded_by_id=principal.user_id if principal.via != "local" else None,
    )
    session.add(image)
    try:
        if on_stored is not None:
            session.flush()
            on_stored(image)
        session.commit()
    except BaseException as exc:
        # No object without its row: undo the write, then answer with the winner if it raced.
        session.rollback()
        _delete_quietly(storage, key)
        if isinstance(exc, IntegrityError) and upload.source:
            existing = _find_by_source(session, upload.source, upload.source_id or "")
            if existing is not None:
                _check_same_project(existing, project.id)
                return StoredImage(existing, existing=True)
        raise
    return StoredImage(image, existing=False)


def _check_same_project(image: Image, project_id: uuid.UUID) -> None:
    if image.project_id != project_id:
        raise InvalidInput(
            f"source_id {image.source_id} already belongs to another project", field="source_id"
        )


def _clean_filename(name: str | None) -> str | None:
    """Keep only a display name: no folders, no control characters."""
    if not name:
        return None
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:255] or None


def _delete_quietly(storage: ObjectStorage, key: str) -> None:
    try:
        storage.delete(key)
    except Exception:  # the original error matters more; the orphan is logged
        log.exception("could not remove object %s after a failed upload", key)


def encode_cursor(image: Image) -> str:
    raw = f"{image.created_at.isoformat()}|{image.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, image_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), uuid.UUID(image_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("invalid cursor", field="cursor") from exc


@dataclass(frozen=True)
class ImageFilters:
    sequence_id: uuid.UUID | None = None
    captured_after: datetime | None = None
    captured_before: datetime | None = None
    model_name: str | None = None
    analysis_status: str | None = None


def list_images(
    session: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    filters: ImageFilters,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Image], str | None]:
    """A page of a project's images, newest first, with a cursor to the next page."""
    projects.get_project(session, principal=principal, project_id=project_id)
    query = sa.select(Image).where(Image.project_id == project_id)
    query = _apply_filters(query, filters)
    if cursor:
        created, image_id = decode_cursor(cursor)
        query = query.where(sa.tuple_(Image.created_at, Image.id) < sa.tuple_(created, image_id))
    query = query.order_by(Image.created_at.desc(), Image.id.desc()).limit(limit + 1)
    rows = list(session.scalars(query))
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def _apply_filters(
    query: sa.Select[tuple[Image]], filters: ImageFilters
) -> sa.Select[tuple[Image]]:
    if filters.sequence_id:
        query = query.where(Image.sequence_id == filters.sequence_id)
    if filters.captured_after:
        query = query.where(Image.captured_at >= filters.captured_after)
    if filters.captured_before:
        query = query.where(Image.captured_at < filters.captured_before)
    if filters.model_name or filters.analysis_status:
        has_analysis = sa.select(Analysis.id).where(Analysis.image_id == Image.id)
        if filters.model_name:
            has_analysis = has_analysis.where(Analysis.model_name == filters.model_name)
        if filters.analysis_status:
            has_analysis = has_analysis.where(Analysis.status == filters.analysis_status)
        query = query.where(has_analysis.exists())
    return query


def image_chunks(storage: ObjectStorage, image: Image) -> Iterator[bytes]:
    try:
        return storage.iter_chunks(image.object_key)
    except ObjectNotFound as exc:
        raise NotFound(f"the content of image {image.id} is missing from storage") from exc


def thumbnail_bytes(session: Session, storage: ObjectStorage, *, image: Image, size: int) -> bytes:
    """The stored thumbnail, computed and stored on first request."""
    if image.thumbnail_key:
        try:
            return storage.get_bytes(image.thumbnail_key)
        except ObjectNotFound:
            log.warning("thumbnail of image %s vanished; computing it again", image.id)
    try:
        original = storage.get_bytes(image.object_key)
    except ObjectNotFound as exc:
        raise NotFound(f"the content of image {image.id} is missing from storage") from exc
    thumb = make_thumbnail(original, size)
    key = f"projects/{image.project_id}/thumbnails/{image.id}.jpg"
    storage.put_bytes(key, thumb, "image/jpeg")
    image.thumbnail_key = key
    session.commit()
    return thumb


def stored_keys(session: Session, condition: sa.ColumnElement[bool]) -> list[str]:
    """Every object kept for the images matching `condition`: originals, thumbnails, artifacts."""
    keys: list[str] = []
    for original, thumbnail in session.execute(
        sa.select(Image.object_key, Image.thumbnail_key).where(condition)
    ):
        keys += [key for key in (original, thumbnail) if key]
    artifacts = (
        sa.select(Artifact.object_key)
        .join(Analysis, Analysis.id == Artifact.analysis_id)
        .join(Image, Image.id == Analysis.image_id)
        .where(condition)
    )
    return keys + list(session.scalars(artifacts))


def delete_image(
    session: Session, storage: ObjectStorage, *, principal: Principal, image_id: uuid.UUID
) -> None:
    """Remove the row first (the truth, cascading to analyses), then its objects."""
    image = get_image(session, principal=principal, image_id=image_id)
    keys = stored_keys(session, Image.id == image.id)
    session.delete(image)
    session.commit()
    for key in keys:
        _delete_quietly(storage, key)


def delete_project(
    session: Session, storage: ObjectStorage, *, principal: Principal, project_id: uuid.UUID
) -> None:
    """Delete a project with everything in it, then the objects its images left in storage."""
    project = projects.get_project(session, principal=principal, project_id=project_id)
    keys = stored_keys(session, Image.project_id == project.id)
    session.delete(project)
    session.commit()
    for key in keys:
        _delete_quietly(storage, key)
