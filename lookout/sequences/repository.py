"""Cameras and sequences as the caller may read them: every such read starts here.

Sequences in the trash (`deleted_at` set) are left out of every read unless the caller asks
for them by name: `readable(trash="all")`, `readable(trash="only")` or
`get(..., include_deleted=True)`.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.auth.principal import AccessScope, Principal
from lookout.errors import NotFound
from lookout.images.repository import Trash
from lookout.projects.models import Project
from lookout.sequences.models import Camera, Sequence


class SequenceRepository:
    """Reads of sequences and cameras scoped to one caller, built once per request."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def readable(self, trash: Trash = "hidden") -> sa.Select[Sequence]:
        """Sequences of projects in the caller's groups (those in the trash only when asked)."""
        query = (
            sa.select(Sequence)
            .join(Project, Project.id == Sequence.project_id)
            .where(self.principal.scope.clause(Project.group_id))
        )
        condition = sequence_trash_clause(trash)
        return query if condition is None else query.where(condition)

    def get(self, sequence_id: uuid.UUID, *, include_deleted: bool = False) -> Sequence:
        """The sequence, or NotFound whether it is missing, in the trash (unless
        `include_deleted`) or outside the caller's groups."""
        scope = self.principal.scope
        params = {"sequence_id": sequence_id, **scope.params}
        query = sequence_by_id(scope.kind, include_deleted)
        sequence = self.session.scalar(query, params)
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


def sequence_trash_clause(trash: Trash = "hidden") -> sa.ColumnElement[bool] | None:
    """The condition on Sequence for a view of the trash: none for "all"."""
    if trash == "hidden":
        return Sequence.deleted_at.is_(None)
    if trash == "only":
        return Sequence.deleted_at.is_not(None)
    return None


@functools.cache
def sequence_by_id(kind: str, include_deleted: bool = False) -> sa.Select[Sequence]:
    """One sequence by id (parameter `sequence_id`, and the caller's `AccessScope.params`),
    built once per kind of access (reads of it are hot)."""
    query = (
        sa.select(Sequence)
        .join(Project, Project.id == Sequence.project_id)
        .where(
            AccessScope.template(kind).clause(Project.group_id),
            Sequence.id == sa.bindparam("sequence_id"),
        )
    )
    return query if include_deleted else query.where(Sequence.deleted_at.is_(None))
