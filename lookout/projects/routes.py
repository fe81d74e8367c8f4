"""HTTP endpoints for projects."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from lookout.auth.dependencies import RawBodyDep
from lookout.deps import PrincipalDep, SessionDep, StorageDep
from lookout.jsonbody import CheckedJSONRoute, openapi_body, parse_model
from lookout.projects import service
from lookout.projects.schemas import ProjectCreate, ProjectRead, ProjectUpdate

router = APIRouter(prefix="/api/projects", tags=["projects"], route_class=CheckedJSONRoute)


@router.get("", response_model=list[ProjectRead])
def list_projects(session: SessionDep, principal: PrincipalDep) -> list[ProjectRead]:
    """Projects of the caller's groups."""
    projects = service.list_projects(session, principal=principal)
    return [ProjectRead.model_validate(p) for p in projects]


@router.post(
    "",
    response_model=ProjectRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ProjectRead, "description": "With `exist_ok`: it already exists"}},
)
def create_project(
    body: ProjectCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> ProjectRead:
    """Create a project in one of the caller's groups (200 with `exist_ok` when it exists)."""
    project, existing = service.create_project(
        session,
        principal=principal,
        name=body.name,
        description=body.description,
        group=body.group,
        create_group=body.create_group,
        exist_ok=body.exist_ok,
    )
    if existing:
        response.status_code = status.HTTP_200_OK
    return ProjectRead.model_validate(project).model_copy(update={"existing": existing})


@router.get("/{project_id}", response_model=ProjectRead)
def get_project(project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ProjectRead:
    project = service.get_project(session, principal=principal, project_id=project_id)
    return ProjectRead.model_validate(project)


@router.patch(
    "/{project_id}", response_model=ProjectRead, openapi_extra=openapi_body(ProjectUpdate)
)
def update_project(
    project_id: uuid.UUID, body: RawBodyDep, session: SessionDep, principal: PrincipalDep
) -> ProjectRead:
    """Change a project's description or its review queue's defaults: `queue_order` (oldest,
    score, disagreement, uncertainty), `queue_model`, `queue_against`, `queue_threshold`.
    Only the fields sent change."""
    project = service.update_project(
        session,
        principal=principal,
        project_id=project_id,
        changes=parse_model(ProjectUpdate, body).model_dump(exclude_unset=True),
    )
    return ProjectRead.model_validate(project)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_project(
    project_id: uuid.UUID, session: SessionDep, storage: StorageDep, principal: PrincipalDep
) -> None:
    """Delete a project with its cameras, sequences, images and analyses."""
    service.delete_project(session, storage, principal=principal, project_id=project_id)
