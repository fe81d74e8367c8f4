"""Projects as the caller may read them: every project read starts here."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.auth.principal import Principal
from lookout.errors import InvalidInput, NotFound
from lookout.projects.models import Project


class ProjectRepository:
    """Reads of projects scoped to one caller, built once per request or command."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def readable(self) -> sa.Select[Project]:
        """Projects of the caller's groups (every project for an admin)."""
        return sa.select(Project).where(self.principal.scope.clause(Project.group_id))

    def all(self) -> list[Project]:
        return list(self.session.scalars(self.readable().order_by(Project.name)))

    def get(self, project_id: uuid.UUID) -> Project:
        """The project, or NotFound whether it is missing or outside the caller's groups."""
        project = self.session.scalar(self.readable().where(Project.id == project_id))
        if project is None:
            raise NotFound(f"project {project_id} not found")
        return project

    def readable_ids(self, project_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        """Those of `project_ids` the caller may read."""
        return list(
            self.session.scalars(
                sa.select(Project.id).where(
                    Project.id.in_(project_ids), self.principal.scope.clause(Project.group_id)
                )
            )
        )

    def find(self, value: str) -> Project:
        """A project by id, or by name when the name is unique among the caller's projects."""
        try:
            return self.get(uuid.UUID(value))
        except ValueError:
            pass
        query = self.readable().where(Project.name == value).order_by(Project.id)
        found = list(self.session.scalars(query))
        if not found:
            raise InvalidInput(f"project: no project named {value!r}", field="project")
        if len(found) > 1:
            ids = ", ".join(str(p.id) for p in found)
            raise InvalidInput(
                f"project: several projects are named {value!r}; use an id: {ids}", field="project"
            )
        return found[0]
