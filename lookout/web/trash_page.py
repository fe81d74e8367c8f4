"""A project's trash page: the images and sequences in its trash, who put them there, when,
why and how long before a purge; restore them, or (admins) delete them now, through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from fastapi.responses import HTMLResponse

from lookout.db import utcnow
from lookout.deps import PrincipalDep, SessionDep, SettingsDep
from lookout.images import trash as image_trash
from lookout.projects import service as projects
from lookout.route_table import RouteTable
from lookout.sequences import trash as sequence_trash
from lookout.web.routes import PageRoute, render_page

router = RouteTable(route_class=PageRoute, include_in_schema=False)

LOG_ROWS = 20


@dataclass(frozen=True)
class TrashRow:
    """One line of the page: an image or a sequence in the trash."""

    kind: str  # image or sequence
    id: uuid.UUID
    label: str
    detail: str
    deleted_at: datetime | None
    deleted_by: str | None
    reason: str | None
    days_left: int
    thumbnail_url: str | None = None


@router.get("/projects/{project_id}/trash", response_class=HTMLResponse)
def trash_page(
    request: Request,
    project_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> HTMLResponse:
    """The project's trash (404 for a project of another group)."""
    project = projects.get_project(session, principal=principal, project_id=project_id)
    retention = settings.trash_retention_days
    now = utcnow()

    def left(when: datetime | None) -> int:
        return image_trash.days_left(when, retention, now) if when else 0

    images = [
        TrashRow(
            kind="image",
            id=image.id,
            label=image.filename or f"image {str(image.id)[:8]}",
            detail=f"{image.width}×{image.height}",
            deleted_at=image.deleted_at,
            deleted_by=email,
            reason=image.delete_reason,
            days_left=left(image.deleted_at),
            thumbnail_url=f"/api/images/{image.id}/thumbnail?include_deleted=true",
        )
        for image, email in image_trash.trashed(session, principal=principal, project_id=project.id)
    ]
    sequences = [
        TrashRow(
            kind="sequence",
            id=row.sequence.id,
            label=f"{row.camera_name or 'no camera'}, {row.sequence.started_at:%Y-%m-%d %H:%M}",
            detail=f"{row.frame_count} frames · {row.sequence.source_id}",
            deleted_at=row.sequence.deleted_at,
            deleted_by=row.deleted_by,
            reason=row.sequence.delete_reason,
            days_left=left(row.sequence.deleted_at),
        )
        for row in sequence_trash.trashed(session, principal=principal, project_id=project.id)
    ]
    events, total = image_trash.events(
        session, principal=principal, project_id=project.id, limit=LOG_ROWS
    )
    return render_page(
        request,
        "trash.html",
        session=session,
        principal=principal,
        nav="projects",
        project=project,
        images=images,
        sequences=sequences,
        events=events,
        events_total=total,
        retention_days=retention,
        data={"project_id": str(project.id)},
    )
