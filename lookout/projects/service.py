"""Projects, always read through the caller's access scope."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lookout import stored_objects
from lookout.accounts import service as accounts
from lookout.accounts.models import Group
from lookout.auth.principal import Principal
from lookout.errors import Conflict, Forbidden, InvalidInput
from lookout.images.models import Image
from lookout.projects.models import Project
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
