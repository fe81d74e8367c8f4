"""JSON of comments (VISTA's field names: `text`, `author_id`, `author`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field, field_validator

from lookout.comments.models import MAX_COMMENT_CHARS
from lookout.schema import Schema

_ALLOWED_CONTROLS = {"\n", "\r", "\t"}


class CommentWrite(Schema):
    """A new comment, or the new text of one: plain text, shown as typed (no markup)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description=f"1 to {MAX_COMMENT_CHARS} characters of plain text")

    @field_validator("text")
    @classmethod
    def _plain_text(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        if len(value) > MAX_COMMENT_CHARS:
            raise ValueError(
                f"holds at most {MAX_COMMENT_CHARS} characters (this one {len(value)})"
            )
        if any((ord(ch) < 32 or ord(ch) == 127) and ch not in _ALLOWED_CONTROLS for ch in value):
            raise ValueError("must not hold control characters (new lines and tabs may)")
        return value


class CommentAuthor(Schema):
    id: uuid.UUID
    email: str
    display_name: str | None


class CommentRead(Schema):
    id: uuid.UUID
    project_id: uuid.UUID
    image_id: uuid.UUID | None
    sequence_id: uuid.UUID | None
    text: str
    author_id: uuid.UUID | None
    author: CommentAuthor | None = Field(description="Who wrote it (null: the user is gone)")
    created_at: datetime
    updated_at: datetime | None
    edited: bool = Field(description="The text was changed after it was posted")
