"""JSON of image classes and classifications (VISTA's field names)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field, field_validator

from lookout.schema import Schema

MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 2000


def _clean_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    if not value.isprintable():
        raise ValueError("must not hold control characters")
    return value


class ImageClassCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION_CHARS)
    project_id: uuid.UUID | None = Field(
        None, description="VISTA sends the project again; when given it must be the path's"
    )

    _name = field_validator("name")(_clean_name)


class ImageClassUpdate(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=MAX_NAME_CHARS)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION_CHARS)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _clean_name(value)


class ImageClassRead(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime | None
    image_count: int = Field(0, description="Images given this class")


class ClassificationCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    class_id: uuid.UUID
    image_id: uuid.UUID | None = Field(
        None, description="VISTA sends the image again; when given it must be the path's"
    )
    created_by_id: uuid.UUID | None = Field(
        None, description="Ignored, as in VISTA: the classification is always the caller's"
    )


class ClassificationRead(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    image_id: uuid.UUID
    class_id: uuid.UUID
    class_name: str
    created_by_id: uuid.UUID | None
    created_by: str | None = Field(None, description="Email of who gave the class")
    created_at: datetime
    updated_at: datetime | None
