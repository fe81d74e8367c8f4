"""HTTP endpoints for projects."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response, status

from lookout import metadata_values
from lookout.auth.dependencies import RawBodyDep
from lookout.deps import PrincipalDep, SessionDep, StorageDep
from lookout.errors import InvalidInput
from lookout.jsonbody import CheckedJSONRoute, openapi_body, parse_json_object, parse_model
from lookout.projects import service
from lookout.projects.schemas import (
    ProjectCreate,
    ProjectMetadataEntry,
    ProjectMetadataRead,
    ProjectRead,
    ProjectUpdate,
)
from lookout.route_table import RouteTable

router = RouteTable(prefix="/api/projects", tags=["projects"], route_class=CheckedJSONRoute)


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


# --- Metadata: VISTA's paths and shapes ----------------------------------------------------


def _entry(body: bytes, *, path_key: str | None = None) -> tuple[str, Any]:
    """`{"key", "value"}` checked; under a path naming the key, `key` may be left out."""
    data = parse_json_object(body)
    unknown = sorted(set(data) - {"key", "value"})
    if unknown:
        raise InvalidInput(f"{unknown[0]}: unknown field (send key and value)", field=unknown[0])
    if "key" not in data and path_key is None:
        raise InvalidInput("key: required", field="key")
    key = metadata_values.check_key(data.get("key", path_key))
    if path_key is not None and key != path_key:
        raise InvalidInput("key: the key in the body must be the one in the path", field="key")
    return key, metadata_values.check_value(data.get("value"), field="value")


def _metadata_read(row: Any) -> ProjectMetadataRead:
    return ProjectMetadataRead.model_validate(row)


@router.get("/{project_id}/metadata", response_model=list[ProjectMetadataRead])
def list_metadata(
    project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> list[ProjectMetadataRead]:
    """The project's metadata, one entry per key, by key."""
    rows = service.list_metadata(session, principal=principal, project_id=project_id)
    return [_metadata_read(row) for row in rows]


@router.post(
    "/{project_id}/metadata",
    response_model=ProjectMetadataRead,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=openapi_body(ProjectMetadataEntry),
)
def create_metadata(
    project_id: uuid.UUID, body: RawBodyDep, session: SessionDep, principal: PrincipalDep
) -> ProjectMetadataRead:
    """Set one key (`{"key", "value"}`), created or replaced as in VISTA."""
    key, value = _entry(body)
    rows = service.set_metadata(
        session, principal=principal, project_id=project_id, values={key: value}
    )
    return _metadata_read(rows[0])


@router.get("/{project_id}/metadata-dict", response_model=dict[str, Any])
def metadata_dict(
    project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """The project's metadata as one object of keys to values."""
    rows = service.list_metadata(session, principal=principal, project_id=project_id)
    return {row.key: row.value for row in rows}


@router.put(
    "/{project_id}/metadata-dict",
    response_model=dict[str, Any],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def put_metadata_dict(
    project_id: uuid.UUID, body: RawBodyDep, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Set several keys at once (others are kept); the whole metadata is the answer."""
    values = metadata_values.check_metadata(parse_json_object(body), field="metadata")
    service.set_metadata(session, principal=principal, project_id=project_id, values=values)
    rows = service.list_metadata(session, principal=principal, project_id=project_id)
    return {row.key: row.value for row in rows}


@router.get("/{project_id}/metadata/{key}", response_model=ProjectMetadataRead)
def get_metadata(
    project_id: uuid.UUID, key: str, session: SessionDep, principal: PrincipalDep
) -> ProjectMetadataRead:
    metadata_values.check_key(key)
    row = service.get_metadata(session, principal=principal, project_id=project_id, key=key)
    return _metadata_read(row)


@router.put(
    "/{project_id}/metadata/{key}",
    response_model=ProjectMetadataRead,
    openapi_extra=openapi_body(ProjectMetadataEntry),
)
def put_metadata(
    project_id: uuid.UUID,
    key: str,
    body: RawBodyDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> ProjectMetadataRead:
    """Set the key of the path (`{"value"}`, or VISTA's `{"key", "value"}` with that key)."""
    metadata_values.check_key(key)
    key, value = _entry(body, path_key=key)
    rows = service.set_metadata(
        session, principal=principal, project_id=project_id, values={key: value}
    )
    return _metadata_read(rows[0])


@router.delete("/{project_id}/metadata/{key}", status_code=status.HTTP_204_NO_CONTENT)
def delete_metadata(
    project_id: uuid.UUID, key: str, session: SessionDep, principal: PrincipalDep
) -> None:
    """Remove one key (404 when the project has no such key)."""
    metadata_values.check_key(key)
    service.delete_metadata(session, principal=principal, project_id=project_id, key=key)
