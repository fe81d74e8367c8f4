"""Projects, always read through the caller's access scope."""

from __future__ import annotations

import uuid

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
