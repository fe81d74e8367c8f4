"""HTTP endpoints for projects."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from lookout.deps import PrincipalDep, SessionDep
from lookout.projects import service
from lookout.projects.schemas import ProjectCreate, ProjectRead

router = APIRouter(prefix="/api/projects", tags=["projects"])


@router.get("", response_model=list[ProjectRead])
def list_projects(session: SessionDep, principal: PrincipalDep) -> list[ProjectRead]:
    """Projects of the caller's groups."""
    projects = service.list_projects(session, principal=principal)
    return [ProjectRead.model_validate(p) for p in projects]


@router.post("", response_model=ProjectRead, status_code=status.HTTP_201_CREATED)
def create_project(
    body: ProjectCreate, session: SessionDep, principal: PrincipalDep
) -> ProjectRead:
    project = service.create_project(
        session, principal=principal, name=body.name, description=body.description,
        group=body.group,
    )  # fmt: skip
    return ProjectRead.model_validate(project)


@router.get("/{project_id}", response_model=ProjectRead)
def get_project(project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ProjectRead:
    project = service.get_project(session, principal=principal, project_id=project_id)
    return ProjectRead.model_validate(project)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_project(project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> None:
    """Delete a project with its cameras, sequences, images and analyses."""
    service.delete_project(session, principal=principal, project_id=project_id)
