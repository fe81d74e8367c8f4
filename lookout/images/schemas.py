"""Request and response shapes for images."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from lookout.rendering import iso


class ImageRead(BaseModel):
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
    created_at: datetime
    content_url: str
    thumbnail_url: str
    existing: bool = False

    @classmethod
    def of(cls, image: object, *, existing: bool = False) -> ImageRead:
        image_id = image.id  # type: ignore[attr-defined]
        return cls.model_validate(
            {
                **{name: getattr(image, name) for name in _COLUMNS},
                "content_url": f"/api/images/{image_id}/content",
                "thumbnail_url": f"/api/images/{image_id}/thumbnail",
                "existing": existing,
            }
        )


def image_json(image: Any, *, existing: bool = False) -> dict[str, Any]:
    """ImageRead as plain JSON values, rendered without pydantic (pages of hundreds)."""
    image_id = str(image.id)
    return {
        "id": image_id,
        "project_id": str(image.project_id),
        "sequence_id": None if image.sequence_id is None else str(image.sequence_id),
        "filename": image.filename,
        "content_type": image.content_type,
        "size_bytes": image.size_bytes,
        "width": image.width,
        "height": image.height,
        "sha256": image.sha256,
        "captured_at": iso(image.captured_at),
        "source": image.source,
        "source_id": image.source_id,
        "created_at": iso(image.created_at),
        "content_url": f"/api/images/{image_id}/content",
        "thumbnail_url": f"/api/images/{image_id}/thumbnail",
        "existing": existing,
    }


_COLUMNS = (
    "id",
    "project_id",
    "sequence_id",
    "filename",
    "content_type",
    "size_bytes",
    "width",
    "height",
    "sha256",
    "captured_at",
    "source",
    "source_id",
    "created_at",
)


class ImagePage(BaseModel):
    items: list[ImageRead]
    next_cursor: str | None
