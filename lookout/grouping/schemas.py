"""Request and response shapes for groups of recurring objects."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from lookout.schema import Schema
from lookout.sequences.models import FALSE_POSITIVE_TYPES, SMOKE_TYPES

GroupDecisionName = Literal["false_positive", "smoke"]


class GroupDecision(Schema):
    """A decision for every member of a group: the review's vocabulary (smoke with its type,
    or a false positive with its types)."""

    decision: GroupDecisionName = Field(description="false_positive or smoke")
    smoke_type: Literal[SMOKE_TYPES] | None = Field(  # type: ignore[valid-type]
        None, description="With smoke: wildfire, industrial or other"
    )
    false_positive_types: list[Literal[FALSE_POSITIVE_TYPES]] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=len(FALSE_POSITIVE_TYPES)
    )


class GroupSettings(Schema):
    auto_apply_group_decisions: bool = Field(
        description="A track joining a decided group takes its decision without a person"
    )


class GroupSettingsRead(GroupSettings):
    project_id: uuid.UUID


class GroupRead(Schema):
    id: uuid.UUID
    project_id: uuid.UUID
    number: int = Field(
        description="The group's number in its project (1, 2, 3... in creation order; a "
        'removed group\'s number is not given again), shown as "Group 12"'
    )
    camera_id: uuid.UUID
    camera_name: str | None = None
    pose: str | None = Field(None, description="The platform's camera pose, when it gives one")
    camera_azimuth: float | None = None
    box: list[float] = Field(description="The group's box: its members' median boxes averaged")
    member_count: int
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    decision: str | None = Field(description="false_positive, smoke, or null (undecided)")
    smoke_type: str | None
    false_positive_types: list[str]
    decided_by: str | None = Field(None, description="Who decided (email)")
    decided_at: datetime | None
    created_at: datetime


class GroupPage(Schema):
    items: list[GroupRead]
    total: int
    limit: int
    offset: int


MemberStatus = Literal["following", "suggested", "undecided", "own_decision", "gone"]


class MemberRead(Schema):
    id: uuid.UUID = Field(description="The member's id (for DELETE .../members/{member})")
    sequence_id: uuid.UUID
    sequence_source_id: str
    track_index: int = Field(description="The track's position in the review when it joined")
    started_at: datetime
    last_seen_at: datetime | None
    platform_score: float | None
    platform_label: str | None
    box: list[float] = Field(description="The track's median box (normalized xyxy)")
    crop: list[float] = Field(description="Where to crop a frame to show the object, normalized")
    iou: float = Field(description="IoU with the group's box when it joined")
    joined_at: datetime
    frame_id: uuid.UUID | None = Field(None, description="A frame showing the object")
    frame_url: str | None = None
    decision: str | None = Field(None, description="The track's decision now")
    smoke_type: str | None = None
    false_positive_types: list[str] = Field(default_factory=list)
    status: MemberStatus = Field(
        description="following (decided by the group), suggested (the group's decision waits "
        "for a person), undecided, own_decision (a person decided it), or gone (the track was "
        "removed from the review)"
    )
    processing_stage: str | None = None


class GroupDetail(GroupRead):
    members: list[MemberRead]


class DecisionResult(Schema):
    group: GroupRead
    applied: int = Field(description="Member tracks that took the decision now")
    kept: int = Field(description="Member tracks left alone: decided by a person")
