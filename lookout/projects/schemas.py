"""Request and response shapes for projects."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from lookout.schema import Schema


class ProjectCreate(Schema):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    group: str | None = Field(
        None, description="Group name or id; may be left out when the caller has exactly one group."
    )
    meta_group_id: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="VISTA's name for `group`; send either, or the same in both.",
    )
    create_group: bool = Field(False, description="Create the group if it does not exist (admins).")
    exist_ok: bool = Field(
        False,
        description="Answer 200 with the existing project instead of 409 when the name is taken.",
    )

    @field_validator("meta_group_id")
    @classmethod
    def _one_group(cls, value: str | None, info: ValidationInfo) -> str | None:
        group = info.data.get("group")
        if value is not None and group is not None and value != group:
            raise ValueError(f"names group {value!r} but group names {group!r}: send one of them")
        return value

    @model_validator(mode="after")
    def _group_from_meta_group_id(self) -> ProjectCreate:
        if self.group is None:
            self.group = self.meta_group_id
        return self


QueueOrderName = Literal["oldest", "score", "disagreement", "uncertainty"]


class ProjectUpdate(Schema):
    """What PATCH changes: only the fields sent (null clears a model)."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=10_000)
    queue_order: QueueOrderName | None = Field(
        None, description="The review queue's order when a claim names none"
    )
    queue_model: str | None = Field(
        None,
        min_length=1,
        max_length=310,
        description="`name` or `name@version`: the model the disagreement and uncertainty "
        "orders use by default",
    )
    queue_against: str | None = Field(
        None,
        min_length=1,
        max_length=310,
        description="Disagreement between queue_model and this model (null: the platform)",
    )
    queue_threshold: float | None = Field(
        None, ge=0, le=1, description="The uncertainty order's threshold (scores are stored for it)"
    )


class ProjectRead(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    group_id: uuid.UUID
    created_at: datetime
    queue_order: str = "oldest"
    queue_model: str | None = None
    queue_against: str | None = None
    queue_threshold: float = 0.5
    auto_apply_group_decisions: bool = Field(
        False,
        description="Tracks joining a decided group take its decision without a person "
        "(PUT /api/projects/{id}/group-settings)",
    )
    existing: bool = False


class ProjectMetadataEntry(Schema):
    """VISTA's body for one key of a project's metadata."""

    key: str = Field(description="1 to 200 characters")
    value: Any = Field(None, description="Text, a number, true, false or null")


class ProjectMetadataRead(Schema):
    """One key of a project's metadata, as VISTA answers it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    key: str
    value: Any
    created_at: datetime
    updated_at: datetime | None
