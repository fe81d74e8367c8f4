"""Cameras and sequences as the caller may read them: every such read starts here."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.auth.principal import AccessScope, Principal
from lookout.errors import NotFound
from lookout.projects.models import Project
from lookout.sequences.models import Camera, Sequence


class SequenceRepository:
    """Reads of sequences and cameras scoped to one caller, built once per request."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def readable(self) -> sa.Select[Sequence]:
        """Sequences of projects in the caller's groups."""
        return (
            sa.select(Sequence)
            .join(Project, Project.id == Sequence.project_id)
            .where(self.principal.scope.clause(Project.group_id))
        )

    def get(self, sequence_id: uuid.UUID) -> Sequence:
        """The sequence, or NotFound whether it is missing or outside the caller's groups."""
        scope = self.principal.scope
        params = {"sequence_id": sequence_id, **scope.params}
        sequence = self.session.scalar(_sequence_by_id(scope.kind), params)
        if sequence is None:
            raise NotFound(f"sequence {sequence_id} not found")
        return sequence

    def cameras(self, limit: int = 500) -> list[Any]:
        """(id, name, organization, project name) of the cameras the caller may see."""
        query = (
            sa.select(Camera.id, Camera.name, Camera.organization_name, Project.name)
            .join(Project, Project.id == Camera.project_id)
            .where(self.principal.scope.clause(Project.group_id))
            .order_by(Project.name, Camera.name)
            .limit(limit)
        )
        return list(self.session.execute(query))


@functools.cache
def _sequence_by_id(kind: str) -> sa.Select[Sequence]:
    """One sequence by id, built once per kind of access (reads of it are hot)."""
    return (
        sa.select(Sequence)
        .join(Project, Project.id == Sequence.project_id)
        .where(
            AccessScope.template(kind).clause(Project.group_id),
            Sequence.id == sa.bindparam("sequence_id"),
        )
    )
