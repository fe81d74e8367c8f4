"""Projects, always read through the caller's access scope."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lookout.accounts import service as accounts
from lookout.accounts.models import Group
from lookout.auth.principal import Principal, project_scope
from lookout.errors import Conflict, Forbidden, InvalidInput, NotFound
from lookout.projects.models import Project


def visible_projects(principal: Principal) -> sa.Select[Project]:
    """Projects the caller may see; every project read starts here."""
    return sa.select(Project).where(project_scope(principal, Project.group_id))


def list_projects(session: Session, *, principal: Principal) -> list[Project]:
    return list(session.scalars(visible_projects(principal).order_by(Project.name)))


def get_project(session: Session, *, principal: Principal, project_id: uuid.UUID) -> Project:
    """The project, or NotFound whether it is missing or outside the caller's groups."""
    project = session.scalar(visible_projects(principal).where(Project.id == project_id))
    if project is None:
        raise NotFound(f"project {project_id} not found")
    return project


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
