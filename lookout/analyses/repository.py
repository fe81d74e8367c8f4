"""Analyses as the caller may read them: every user read of an analysis starts here.

Pipeline callbacks are authenticated by their signature, not by a caller, and read an
analysis by id through the separately named `locked_analysis` (or `locked_analysis_with_size`).
"""

from __future__ import annotations

import functools
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.analyses.models import Analysis
from lookout.auth.principal import AccessScope, Principal
from lookout.errors import NotFound
from lookout.images.models import Image
from lookout.projects.models import Project


class AnalysisRepository:
    """Reads of analyses scoped to one caller, built once per request."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def readable(self) -> sa.Select[Analysis]:
        """Analyses of images in projects of the caller's groups."""
        return (
            sa.select(Analysis)
            .join(Image, Image.id == Analysis.image_id)
            .join(Project, Project.id == Image.project_id)
            .where(self.principal.scope.clause(Project.group_id))
        )

    def get(self, analysis_id: uuid.UUID) -> Analysis:
        """The analysis, or NotFound whether it is missing or outside the caller's groups."""
        scope = self.principal.scope
        params = {"analysis_id": analysis_id, **scope.params}
        analysis = self.session.scalar(_analysis_by_id(scope.kind), params)
        if analysis is None:
            raise NotFound(f"analysis {analysis_id} not found")
        return analysis


@functools.cache
def _analysis_by_id(kind: str) -> sa.Select[Analysis]:
    """One analysis by id, built once per kind of access (reads of it are hot)."""
    return (
        sa.select(Analysis)
        .join(Image, Image.id == Analysis.image_id)
        .join(Project, Project.id == Image.project_id)
        .where(
            AccessScope.template(kind).clause(Project.group_id),
            Analysis.id == sa.bindparam("analysis_id"),
        )
    )


def locked_analysis(session: Session, analysis_id: uuid.UUID) -> Analysis:
    """The analysis a signed callback names, locked until commit (callbacks serialize per row)."""
    query = sa.select(Analysis).where(Analysis.id == analysis_id).with_for_update()
    analysis = session.scalar(query)
    if analysis is None:
        raise NotFound(f"analysis {analysis_id} not found")
    return analysis


_LOCKED_WITH_SIZE = (
    sa.select(Analysis, Image.width, Image.height)
    .join(Image, Image.id == Analysis.image_id)
    .where(Analysis.id == sa.bindparam("analysis_id"))
    .with_for_update(of=Analysis)
)


def locked_analysis_with_size(
    session: Session, analysis_id: uuid.UUID
) -> tuple[Analysis, int, int]:
    """`locked_analysis` with its image's width and height (which posted boxes are checked
    against), read in the same round trip; the image row is not locked."""
    row = session.execute(_LOCKED_WITH_SIZE, {"analysis_id": analysis_id}).one_or_none()
    if row is None:
        raise NotFound(f"analysis {analysis_id} not found")
    return row[0], row[1], row[2]
