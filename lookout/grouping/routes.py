"""HTTP endpoints for groups of recurring objects."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, status

from lookout.db import MAX_OFFSET
from lookout.deps import PrincipalDep, SessionDep
from lookout.grouping import service
from lookout.grouping.reads import group_detail, group_read
from lookout.grouping.repository import GroupFilters
from lookout.grouping.schemas import (
    DecisionResult,
    GroupDecision,
    GroupDetail,
    GroupPage,
    GroupSettings,
    GroupSettingsRead,
)
from lookout.jsonbody import CheckedJSONRoute
from lookout.route_table import RouteTable

router = RouteTable(tags=["groups"], route_class=CheckedJSONRoute)


@router.get("/api/groups", response_model=GroupPage)
def list_groups(
    session: SessionDep,
    principal: PrincipalDep,
    project_id: uuid.UUID | None = None,
    camera_id: uuid.UUID | None = None,
    number: Annotated[
        int | None,
        Query(ge=1, le=2**31 - 1, description="The group of this number (with project_id)"),
    ] = None,
    decided: bool | None = Query(None, description="true: decided groups only; false: undecided"),
    min_members: Annotated[
        int, Query(ge=1, le=1_000_000, description="2: objects seen in several sequences only")
    ] = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> GroupPage:
    """Groups of recurring objects (tracks of one camera at the same place), most recent first."""
    filters = GroupFilters(
        project_id=project_id,
        camera_id=camera_id,
        number=number,
        decided=decided,
        min_members=min_members,
    )
    rows, total = service.list_groups(
        session, principal=principal, filters=filters, limit=limit, offset=offset
    )
    items = [group_read(group, camera, email) for group, camera, email in rows]
    return GroupPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/api/groups/{group_id}", response_model=GroupDetail)
def get_group(group_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> GroupDetail:
    """A group with its members: sequence, track, dates, the platform's score, a crop box."""
    group = service.get_group(session, principal=principal, group_id=group_id)
    return group_detail(session, principal, group)


@router.post("/api/groups/{group_id}/decision", response_model=DecisionResult)
def decide_group(
    group_id: uuid.UUID, body: GroupDecision, session: SessionDep, principal: PrincipalDep
) -> DecisionResult:
    """Label every member track at once: those undecided (or following the group) take the
    decision, each as a new version of its review; tracks a person decided are kept."""
    group, applied, kept = service.decide_group(
        session, principal=principal, group_id=group_id, body=body
    )
    camera, email = service.names_of(session, principal=principal, group=group)
    return DecisionResult(group=group_read(group, camera, email), applied=applied, kept=kept)


@router.delete("/api/groups/{group_id}/members/{member_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(
    group_id: uuid.UUID, member_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> None:
    """Take a track out of the group; a decision it had from the group is undone."""
    service.remove_member(session, principal=principal, group_id=group_id, member_id=member_id)


@router.put("/api/projects/{project_id}/group-settings", response_model=GroupSettingsRead)
def set_group_settings(
    project_id: uuid.UUID, body: GroupSettings, session: SessionDep, principal: PrincipalDep
) -> GroupSettingsRead:
    """Whether a track joining a decided group takes the decision without a person (off: it
    arrives as a suggestion to confirm)."""
    project = service.set_auto_apply(
        session,
        principal=principal,
        project_id=project_id,
        value=body.auto_apply_group_decisions,
    )
    return GroupSettingsRead(
        project_id=project.id, auto_apply_group_decisions=project.auto_apply_group_decisions
    )
