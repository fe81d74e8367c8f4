"""Small read-only queries the pages need beyond the services (counts, pickers, neighbours).

Every query takes the caller and starts from a repository's scoped select (or filters by
the caller's scope itself), so a page can never show a row the caller may not see, whatever
ids it is handed.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.accounts.models import User
from lookout.analyses.models import Analysis
from lookout.auth.principal import Principal
from lookout.db import AnySelect, utcnow
from lookout.images.models import Image
from lookout.images.repository import ImageRepository, live_image
from lookout.projects.models import Project
from lookout.projects.repository import ProjectRepository
from lookout.reviewing.models import ReviewClaim
from lookout.reviewing.repository import ReviewQueueRepository
from lookout.sequences.models import Camera, ProcessingStage, Sequence, SequenceReview
from lookout.sequences.repository import SequenceRepository
from lookout.sequences.service import SequenceFilters


@dataclass(frozen=True)
class ProjectStats:
    images: int = 0
    sequences: int = 0
    ready: int = 0
    annotated: int = 0


def project_stats(
    session: Session, principal: Principal, project_ids: list[uuid.UUID]
) -> dict[uuid.UUID, ProjectStats]:
    """Image, sequence and review counts per visible project (one grouped query each)."""
    if not project_ids:
        return {}
    visible = ProjectRepository(session, principal).readable_ids(project_ids)
    image_counts = dict(
        session.execute(
            sa.select(Image.project_id, sa.func.count())
            .where(Image.project_id.in_(visible), live_image())
            .group_by(Image.project_id)
        ).all()
    )
    sequence_counts = dict(
        session.execute(
            sa.select(Sequence.project_id, sa.func.count())
            .where(Sequence.project_id.in_(visible), Sequence.deleted_at.is_(None))
            .group_by(Sequence.project_id)
        ).all()
    )
    stage_counts: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    for project_id, stage, count in session.execute(
        sa.select(Sequence.project_id, SequenceReview.processing_stage, sa.func.count())
        .join(SequenceReview, SequenceReview.sequence_id == Sequence.id)
        .where(Sequence.project_id.in_(visible), Sequence.deleted_at.is_(None))
        .group_by(Sequence.project_id, SequenceReview.processing_stage)
    ):
        stage_counts[project_id][stage] = count
    return {
        pid: ProjectStats(
            images=image_counts.get(pid, 0),
            sequences=sequence_counts.get(pid, 0),
            ready=stage_counts[pid].get(ProcessingStage.READY_TO_ANNOTATE, 0),
            annotated=stage_counts[pid].get(ProcessingStage.ANNOTATED, 0),
        )
        for pid in visible
    }


def queue_size(session: Session, principal: Principal, project_id: uuid.UUID | None = None) -> int:
    """Sequences of the caller's review queue: waiting, not held by another, not skipped."""
    query = _queue(session, principal, project_id).with_only_columns(Sequence.id)
    return session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0


@dataclass(frozen=True)
class ClaimNote:
    email: str
    expires_at: datetime


def claims_on(session: Session, sequence_ids: list[uuid.UUID]) -> dict[uuid.UUID, ClaimNote]:
    """Who holds each of these sequences (ids the caller could already read), unexpired."""
    if not sequence_ids:
        return {}
    query = (
        sa.select(ReviewClaim.sequence_id, User.email, ReviewClaim.expires_at)
        .join(User, User.id == ReviewClaim.user_id)
        .where(ReviewClaim.sequence_id.in_(sequence_ids), ReviewClaim.expires_at > utcnow())
    )
    return {row[0]: ClaimNote(row[1], row[2]) for row in session.execute(query)}


def _queue(session: Session, principal: Principal, project_id: uuid.UUID | None) -> AnySelect:
    filters = SequenceFilters(project_id=project_id)
    return ReviewQueueRepository(session, principal).queue(filters, now=utcnow())


def model_names(session: Session, principal: Principal, project_id: uuid.UUID) -> list[str]:
    """Model names with analyses in a project the caller may read."""
    query = (
        sa.select(Analysis.model_name)
        .join(Image, Image.id == Analysis.image_id)
        .join(Project, Project.id == Image.project_id)
        .where(Image.project_id == project_id, principal.scope.clause(Project.group_id))
        .distinct()
        .order_by(Analysis.model_name)
        .limit(200)
    )
    return list(session.scalars(query))


def analyses_by_image(
    session: Session, principal: Principal, image_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, str]]]:
    """(model name, status) of each image's analyses, for gallery badges."""
    if not image_ids:
        return {}
    found: dict[uuid.UUID, list[tuple[str, str]]] = defaultdict(list)
    query = (
        sa.select(Analysis.image_id, Analysis.model_name, Analysis.status)
        .join(Image, Image.id == Analysis.image_id)
        .join(Project, Project.id == Image.project_id)
        .where(Analysis.image_id.in_(image_ids), principal.scope.clause(Project.group_id))
        .order_by(Analysis.created_at)
    )
    for image_id, model_name, status in session.execute(query):
        entry = (model_name, status)
        if entry not in found[image_id]:
            found[image_id].append(entry)
    return found


def project_sequences(
    session: Session, principal: Principal, project_id: uuid.UUID, limit: int = 300
) -> list[Any]:
    """Recent sequences of a project with their camera name, for the gallery's picker."""
    query = (
        SequenceRepository(session, principal)
        .readable()
        .with_only_columns(Sequence.id, Sequence.started_at, Camera.name)
        .outerjoin(Camera, Camera.id == Sequence.camera_id)
        .where(Sequence.project_id == project_id)
        .order_by(Sequence.started_at.desc())
        .limit(limit)
    )
    return list(session.execute(query))


def visible_cameras(session: Session, principal: Principal, limit: int = 500) -> list[Any]:
    return SequenceRepository(session, principal).cameras(limit)


def first_frames(
    session: Session, principal: Principal, sequence_ids: list[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """The first frame of each sequence (by capture time), for list thumbnails."""
    if not sequence_ids:
        return {}
    ranked = (
        sa.select(
            Image.id.label("image_id"),
            Image.sequence_id.label("sequence_id"),
            sa.func.row_number()
            .over(
                partition_by=Image.sequence_id,
                order_by=(Image.captured_at.asc().nulls_last(), Image.created_at, Image.id),
            )
            .label("rank"),
        )
        .join(Project, Project.id == Image.project_id)
        .where(Image.sequence_id.in_(sequence_ids), principal.scope.clause(Project.group_id))
        .subquery()
    )
    rows = session.execute(
        sa.select(ranked.c.sequence_id, ranked.c.image_id).where(ranked.c.rank == 1)
    )
    return {sequence_id: image_id for sequence_id, image_id in rows}


def image_neighbours(
    session: Session, principal: Principal, image: Image
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """The newer and the older image of the same project, in gallery order."""
    base = (
        ImageRepository(session, principal).readable().where(Image.project_id == image.project_id)
    )
    key = sa.tuple_(Image.created_at, Image.id)
    here = sa.tuple_(
        sa.literal(image.created_at, Image.created_at.type), sa.literal(image.id, Image.id.type)
    )
    newer = session.scalar(
        base.with_only_columns(Image.id)
        .where(key > here)
        .order_by(Image.created_at.asc(), Image.id.asc())
        .limit(1)
    )
    older = session.scalar(
        base.with_only_columns(Image.id)
        .where(key < here)
        .order_by(Image.created_at.desc(), Image.id.desc())
        .limit(1)
    )
    return newer, older


def next_in_queue(
    session: Session,
    principal: Principal,
    *,
    after: Sequence | None,
    project_id: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """The next sequence of the caller's queue, oldest first, after `after` (wrapping around):
    sequences held by another reviewer or skipped by the caller are not offered."""
    # On the review's copies of the start and id: the queue's index holds them in order.
    started_at, sequence_id = SequenceReview.sequence_started_at, SequenceReview.sequence_id
    query = (
        _queue(session, principal, project_id)
        .with_only_columns(Sequence.id)
        .order_by(started_at.asc(), sequence_id.asc())
    )
    if after is not None:
        key = sa.tuple_(started_at, sequence_id)
        here = sa.tuple_(
            sa.literal(after.started_at, started_at.type), sa.literal(after.id, sequence_id.type)
        )
        found = session.scalar(query.where(key > here).limit(1))
        if found is not None:
            return found
        query = query.where(Sequence.id != after.id)
    return session.scalar(query.limit(1))
