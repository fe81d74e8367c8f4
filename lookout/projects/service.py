"""Projects, always read through the caller's access scope."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lookout import metadata_values, stored_objects
from lookout.accounts import service as accounts
from lookout.accounts.models import Group
from lookout.auth.principal import Principal
from lookout.db import utcnow
from lookout.errors import Conflict, Forbidden, InvalidInput, NotFound
from lookout.images.models import Image
from lookout.projects.models import Project, ProjectMetadata
from lookout.projects.repository import ProjectRepository
from lookout.scoring.models import MODEL_ORDERS, QUEUE_ORDERS
from lookout.storage import ObjectStorage, cleanup


def list_projects(session: Session, *, principal: Principal) -> list[Project]:
    return ProjectRepository(session, principal).all()


def get_project(session: Session, *, principal: Principal, project_id: uuid.UUID) -> Project:
    """The project, or NotFound whether it is missing or outside the caller's groups."""
    return ProjectRepository(session, principal).get(project_id)


def _target_group(
    session: Session, principal: Principal, group: str | None, create_group: bool
) -> Group:
    if group is not None and create_group:
        if not principal.is_admin:
            raise Forbidden("only admins may create groups", field="create_group")
        return accounts.get_or_create_group(session, name=group)
    if group is not None:
        found = accounts.get_group(session, name_or_id=group)
        if not principal.can_see_group(found.id):
            raise Forbidden(f"you are not a member of group {group}", field="group")
        return found
    if len(principal.group_ids) == 1:
        return session.get_one(Group, next(iter(principal.group_ids)))
    raise InvalidInput("name the group the project belongs to", field="group")


def create_project(
    session: Session,
    *,
    principal: Principal,
    name: str,
    description: str | None = None,
    group: str | None = None,
    create_group: bool = False,
    exist_ok: bool = False,
) -> tuple[Project, bool]:
    """Create a project; returns it and whether it already existed (only with exist_ok)."""
    target = _target_group(session, principal, group, create_group)
    name = name.strip()
    query = sa.select(Project).where(Project.group_id == target.id, Project.name == name)
    if exist_ok and (existing := session.scalar(query)) is not None:
        session.commit()
        return existing, True
    project = Project(name=name, description=description, group_id=target.id)
    session.add(project)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if exist_ok and (existing := session.scalar(query)) is not None:
            return existing, True
        raise Conflict(f"group {target.name} already has a project {name}", field="name") from exc
    return project, False


# What `update_project` may change.
UPDATABLE = ("description", "queue_order", "queue_model", "queue_against", "queue_threshold")


def update_project(
    session: Session, *, principal: Principal, project_id: uuid.UUID, changes: dict[str, Any]
) -> Project:
    """Change a project's description or review-queue defaults (only the fields given).

    A value order (disagreement, uncertainty) as the default needs a default model. Changing
    the threshold applies to uncertainty scores computed from then on (`lookout rescore-queue`
    recomputes the stored ones).
    """
    project = ProjectRepository(session, principal).get(project_id)
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise InvalidInput(f"{unknown[0]}: not a field a project update changes", field=unknown[0])
    if "queue_order" in changes and changes["queue_order"] is None:
        raise InvalidInput("queue_order: name an order, e.g. oldest", field="queue_order")
    if changes.get("queue_order") not in (None, *QUEUE_ORDERS):
        raise InvalidInput(
            f"queue_order: use one of {', '.join(QUEUE_ORDERS)}", field="queue_order"
        )
    if "queue_threshold" in changes and changes["queue_threshold"] is None:
        raise InvalidInput("queue_threshold: give a number in [0, 1]", field="queue_threshold")
    for name, value in changes.items():
        setattr(
            project,
            name,
            value.strip() if isinstance(value, str) and name != "description" else value,
        )
    if project.queue_order in MODEL_ORDERS and not project.queue_model:
        session.rollback()
        raise InvalidInput(
            f"queue_model: the {project.queue_order} order needs a model; set queue_model too",
            field="queue_model",
        )
    session.commit()
    return project


def delete_project(
    session: Session, storage: ObjectStorage, *, principal: Principal, project_id: uuid.UUID
) -> None:
    """Delete a project with everything in it, then the objects its rows held in storage."""
    project = ProjectRepository(session, principal).get(project_id)
    keys = stored_objects.stored_keys(session, Image.project_id == project.id)
    session.delete(project)
    session.commit()
    for key in keys:
        cleanup.discard(session, storage, key)


# --- Metadata (VISTA's project metadata: one row per key) ---------------------------------


def list_metadata(
    session: Session, *, principal: Principal, project_id: uuid.UUID
) -> list[ProjectMetadata]:
    """The project's metadata keys, by key."""
    project = get_project(session, principal=principal, project_id=project_id)
    query = sa.select(ProjectMetadata).where(ProjectMetadata.project_id == project.id)
    return list(session.scalars(query.order_by(ProjectMetadata.key)))


def get_metadata(
    session: Session, *, principal: Principal, project_id: uuid.UUID, key: str
) -> ProjectMetadata:
    """One key, or NotFound naming it."""
    project = get_project(session, principal=principal, project_id=project_id)
    found = _metadata_row(session, project.id, key)
    if found is None:
        raise NotFound(f"metadata with key {key!r} not found", field="key")
    return found


def _metadata_row(session: Session, project_id: uuid.UUID, key: str) -> ProjectMetadata | None:
    return session.scalar(
        sa.select(ProjectMetadata).where(
            ProjectMetadata.project_id == project_id, ProjectMetadata.key == key
        )
    )


def set_metadata(
    session: Session, *, principal: Principal, project_id: uuid.UUID, values: dict[str, Any]
) -> list[ProjectMetadata]:
    """Create or update these keys (checked by lookout.metadata_values); the rows set."""
    project = get_project(session, principal=principal, project_id=project_id)
    existing = {
        row.key: row for row in list_metadata(session, principal=principal, project_id=project.id)
    }
    merged = {key: row.value for key, row in existing.items()} | values
    metadata_values.check_size(merged)
    rows = []
    for key, value in values.items():
        row = existing.get(key)
        if row is None:
            row = ProjectMetadata(project_id=project.id, key=key, value=value)
            session.add(row)
        else:
            row.value = value
            row.updated_at = utcnow()  # a JSON value set to an equal one is no change to flush
        rows.append(row)
    try:
        session.commit()
    except IntegrityError as exc:  # the same key added by another request at this moment
        session.rollback()
        raise Conflict("metadata changed meanwhile; send it again", field="key") from exc
    return rows


def delete_metadata(
    session: Session, *, principal: Principal, project_id: uuid.UUID, key: str
) -> None:
    """Remove one key; a missing key is NotFound (as in VISTA)."""
    row = get_metadata(session, principal=principal, project_id=project_id, key=key)
    session.delete(row)
    session.commit()
