"""Request and response shapes for images."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from lookout.rendering import SchemaRenderer
from lookout.schema import Schema


class ImageRead(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    sequence_id: uuid.UUID | None
    filename: str | None
    content_type: str
    size_bytes: int
    width: int
    height: int
    sha256: str
    captured_at: datetime | None
    source: str | None
    source_id: str | None
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Free-form key/value metadata (VISTA's `metadata`)"
    )
    created_at: datetime
    content_url: str
    thumbnail_url: str
    existing: bool = False
    deleted_at: datetime | None = Field(None, description="When it went to the trash")
    deleted_by_id: uuid.UUID | None = Field(None, description="Who put it in the trash")
    delete_reason: str | None = Field(None, description="Why it went to the trash")
    uploaded_by_id: uuid.UUID | None = Field(
        None, description="Who uploaded it (none for local mode and commands)"
    )

    @classmethod
    def of(cls, image: object, *, existing: bool = False) -> ImageRead:
        return cls.model_validate(image_json(image, existing=existing))


def _image_url(what: str) -> Any:
    return lambda image: f"/api/images/{image.id}/{what}"


# The JSON of an image, defined once by ImageRead: rendered in Python for single images and
# pages, built by PostgreSQL (`IMAGE_JSON.pg_object`) for pages there.
IMAGE_JSON = SchemaRenderer(
    ImageRead,
    computed={
        "content_url": _image_url("content"),
        "thumbnail_url": _image_url("thumbnail"),
        "existing": lambda _image: False,
        "metadata": lambda image: image.metadata_json or {},
    },
)


def image_json(image: Any, *, existing: bool = False) -> dict[str, Any]:
    """ImageRead's JSON values of an image (or a row of the images table)."""
    body = IMAGE_JSON(image)
    body["existing"] = existing
    return body


class ImageDownload(Schema):
    """VISTA's answer to `GET /images/{id}/download`."""

    url: str = Field(description="The bytes' address, relative to the API prefix")
    object_key: str


class ImageTrashRequest(Schema):
    """The optional body of `DELETE /api/images/{image_id}`."""

    reason: str | None = Field(None, description="Why: 3 to 1000 characters")
    force: bool = Field(
        False, description="Purge at once (admins only): the image and its objects are gone"
    )


class ImageDelete(Schema):
    """VISTA's body of `DELETE /projects/{project_id}/images/{image_id}`."""

    reason: str = Field(description="Why: 3 to 1000 characters")
    force: bool = Field(
        False, description="Purge at once (admins only): the image and its objects are gone"
    )


class DeletionEvent(Schema):
    id: uuid.UUID
    project_id: uuid.UUID
    kind: str = Field(description="image or sequence: what the event is about")
    image_id: uuid.UUID | None = Field(description="The image (an image's event)")
    sequence_id: uuid.UUID | None = Field(None, description="The sequence (a sequence's event)")
    actor_id: uuid.UUID | None
    actor_email: str | None
    action: str = Field(description="soft_delete, restore or purge")
    reason: str | None
    created_at: datetime


class DeletionEvents(Schema):
    events: list[DeletionEvent]
    total: int


class ImagePage(Schema):
    items: list[ImageRead]
    next_cursor: str | None


class MetadataEntry(Schema):
    """VISTA's body of `PUT /images/{id}/metadata`: one key and its value."""

    key: str = Field(description="1 to 200 characters")
    value: Any = Field(None, description="Text, a number, true, false or null")
