"""The group pages: recurring objects of a camera, side by side, labelled once.

`/groups` lists the groups the caller may see (filters: project, camera, decided);
`/groups/{id}` shows a group's members as a strip of enlarged crops of the object, with their
dates and the platform's scores, and a decision form usable from the keyboard (group.js). The
pages read through the grouping service with the caller's principal, so another group's
groups are a 404 page in words; decisions go through the JSON API.
"""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.responses import HTMLResponse

from lookout.deps import PrincipalDep, SessionDep
from lookout.grouping import service as grouping
from lookout.grouping.reads import group_detail
from lookout.grouping.repository import GroupFilters
from lookout.projects import service as projects
from lookout.route_table import RouteTable
from lookout.sequences.models import FALSE_POSITIVE_TYPES, SMOKE_TYPES
from lookout.web import queries
from lookout.web.routes import (
    LIST_PAGE,
    PageRoute,
    _bool,
    _int,
    _query,
    _uuid,
    group_label,
    render_page,
)

router = RouteTable(route_class=PageRoute, include_in_schema=False)


@router.get("/groups", response_class=HTMLResponse)
def groups_page(request: Request, session: SessionDep, principal: PrincipalDep) -> HTMLResponse:
    """Groups of recurring objects, most recently seen first."""
    problems: list[str] = []
    raw = {k: request.query_params.get(k) or "" for k in ("project_id", "camera_id", "decided")}
    # Recurring objects by default: groups of one sequence are shown when asked for.
    raw["min_members"] = "1" if request.query_params.get("min_members") == "1" else "2"
    filters = GroupFilters(
        project_id=_uuid(raw["project_id"], "project", problems),
        camera_id=_uuid(raw["camera_id"], "camera", problems),
        decided=_bool(raw["decided"]),
        min_members=int(raw["min_members"]),
    )
    offset = _int(request.query_params.get("offset"), 0)
    rows, total = grouping.list_groups(
        session, principal=principal, filters=filters, limit=LIST_PAGE, offset=offset
    )
    items = [
        {
            "group": group,
            "label": group_label(group.number),
            "camera": camera,
            "decided_by": email,
            "decision": grouping.describe(
                group.decision, group.smoke_type, group.false_positive_types or []
            ),
        }
        for group, camera, email in rows
    ]
    return render_page(
        request,
        "groups.html",
        session=session,
        principal=principal,
        nav="sequences",
        items=items,
        total=total,
        offset=offset,
        params=raw,
        problems=problems,
        projects=projects.list_projects(session, principal=principal),
        cameras=queries.visible_cameras(session, principal),
        prev_url=(
            f"/groups?{_query(raw, offset=max(0, offset - LIST_PAGE))}" if offset > 0 else None
        ),
        next_url=(
            f"/groups?{_query(raw, offset=offset + LIST_PAGE)}"
            if offset + LIST_PAGE < total
            else None
        ),
    )


@router.get("/groups/{group_id}", response_class=HTMLResponse)
def group_page(
    request: Request, group_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> HTMLResponse:
    """One group: its members' crops side by side and one decision for all of them."""
    group = grouping.get_group(session, principal=principal, group_id=group_id)
    detail = group_detail(session, principal, group)
    project = projects.get_project(session, principal=principal, project_id=group.project_id)
    data = {
        "group": detail.model_dump(mode="json"),
        "api": f"/api/groups/{group.id}",
        "smoke_types": list(SMOKE_TYPES),
        "false_positive_types": list(FALSE_POSITIVE_TYPES),
    }
    return render_page(
        request,
        "group.html",
        session=session,
        principal=principal,
        nav="sequences",
        group=detail,
        label=group_label(group.number),
        project=project,
        decision=grouping.describe(group.decision, group.smoke_type, group.false_positive_types),
        fp_types=FALSE_POSITIVE_TYPES,
        smoke_types=SMOKE_TYPES,
        data=data,
    )
