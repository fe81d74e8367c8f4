"""Request and response shapes for projects."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ProjectCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    group: str | None = Field(
        None, description="Group name or id; may be left out when the caller has exactly one group."
    )
    create_group: bool = Field(False, description="Create the group if it does not exist (admins).")
    exist_ok: bool = Field(
        False,
        description="Answer 200 with the existing project instead of 409 when the name is taken.",
    )


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    group_id: uuid.UUID
    created_at: datetime
    existing: bool = False
