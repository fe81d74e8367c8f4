"""Cameras, sequences, their frames and reviews; every read is scoped to the caller."""

from __future__ import annotations

import uuid
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from lookout.accounts.models import User
from lookout.auth.principal import Principal
from lookout.errors import InvalidInput
from lookout.images.models import Image
from lookout.images.repository import Trash
from lookout.projects import service as projects
from lookout.sequences.models import (
    FALSE_POSITIVE_TYPES,
    PLATFORM_LABELS,
    Camera,
    ProcessingStage,
    Sequence,
    SequenceReview,
    normalize_platform_label,
)
from lookout.sequences.repository import SequenceRepository

Row = TypeVar("Row", Camera, Sequence)


def get_sequence(
    session: Session, *, principal: Principal, sequence_id: uuid.UUID, include_deleted: bool = False
) -> Sequence:
    """The sequence (one in the trash only with `include_deleted`)."""
    return SequenceRepository(session, principal).get(sequence_id, include_deleted=include_deleted)


def _get_or_create(
    session: Session, model: type[Row], values: dict[str, Any], refresh: Seq[str] = ()
) -> tuple[Row, bool]:
    """Insert a row unique in its project by (source, source_id), or return the one there.

    The database's unique constraint decides, so concurrent importers never duplicate.
    `refresh` names fields the source may have updated since (e.g. last_seen_at).
    """
    query = sa.select(model).where(
        model.project_id == values["project_id"],
        model.source == values["source"],
        model.source_id == values["source_id"],
    )
    existing = session.scalar(query)
    if existing is None:
        try:
            with session.begin_nested():
                row = model(**values)
                session.add(row)
            session.commit()
            return row, False
        except IntegrityError:
            existing = session.scalars(query).one()
    for name in refresh:
        if values.get(name) is not None:
            setattr(existing, name, values[name])
    session.commit()
    return existing, True


def get_or_create_camera(
    session: Session, *, principal: Principal, values: dict[str, Any]
) -> tuple[Camera, bool]:
    projects.get_project(session, principal=principal, project_id=values["project_id"])
    return _get_or_create(session, Camera, values)


def get_or_create_sequence(
    session: Session, *, principal: Principal, values: dict[str, Any]
) -> tuple[Sequence, bool]:
    projects.get_project(session, principal=principal, project_id=values["project_id"])
    camera_id = values.get("camera_id")
    if camera_id is not None:
        camera = session.get(Camera, camera_id)
        if camera is None or camera.project_id != values["project_id"]:
            raise InvalidInput(f"camera {camera_id} is not in this project", field="camera_id")
    values = values | {"platform_label": normalize_platform_label(values.get("source_label"))}
    return _get_or_create(session, Sequence, values, refresh=REFRESHED_SEQUENCE_FIELDS)


# What a re-import may update: the platform keeps a sequence open and re-scores it.
REFRESHED_SEQUENCE_FIELDS = (
    "last_seen_at",
    "source_label",
    "platform_label",
    "platform_score",
    "azimuth",
    "camera_azimuth",
    "smoke_azimuth",
    "extra",
)


@dataclass(frozen=True)
class SequenceFilters:
    project_id: uuid.UUID | None = None
    camera_id: uuid.UUID | None = None
    organization: str | None = None
    source: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    processing_stage: str | None = None
    has_smoke: bool | None = None
    has_false_positives: bool | None = None
    false_positive_type: str | None = None
    has_missed_smoke: bool | None = None
    is_unsure: bool | None = None
    reviewed_by: str | None = None  # email or user id of who last saved the review
    # Sequences sharing a frame's picture with this one (the 2026 platform's one sequence
    # per smoke object: the same frame in several sequences).
    sibling_of: uuid.UUID | None = None
    min_platform_score: float | None = None
    platform_label: str | None = None  # one of PLATFORM_LABELS, or "none" for no label


# Sort orders of a sequence list or queue; `score`: the platform's most confident first
# (unscored last), then by start time in the list's usual direction.
SEQUENCE_ORDERS = ("newest", "oldest", "score")


def order_by(
    order: str,
    *,
    oldest_first: bool,
    started_at: Any = Sequence.started_at,
    sequence_id: Any = Sequence.id,
) -> tuple[Any, ...]:
    """ORDER BY terms for `order`; `oldest_first` is the time direction of ties, `started_at`
    and `sequence_id` the columns sorted by (the review's copies, for the queue's index)."""
    if order not in SEQUENCE_ORDERS:
        raise InvalidInput(f"unknown order {order}", field="order")
    if order != "score":
        oldest_first = order == "oldest"
    by_time = (
        (started_at.asc(), sequence_id.asc())
        if oldest_first
        else (started_at.desc(), sequence_id.desc())
    )
    if order == "score":
        return (Sequence.platform_score.desc().nulls_last(), *by_time)
    return by_time


def _platform_filters(query: sa.Select[Any], f: SequenceFilters) -> sa.Select[Any]:
    """The platform's score and label."""
    if f.min_platform_score is not None:
        query = query.where(Sequence.platform_score >= f.min_platform_score)
    if f.platform_label == "none":
        query = query.where(Sequence.platform_label.is_(None))
    elif f.platform_label:
        if f.platform_label not in PLATFORM_LABELS:
            raise InvalidInput(f"unknown platform label {f.platform_label}", field="platform_label")
        query = query.where(Sequence.platform_label == f.platform_label)
    return query


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min).replace(tzinfo=None)


def _siblings_of(sequence_id: uuid.UUID) -> sa.ColumnElement[bool]:
    """Another sequence of the same project with a frame of the same picture (sha256)."""
    own = sa.select(Image.project_id, Image.sha256).where(Image.sequence_id == sequence_id)
    shared = sa.select(Image.sequence_id).where(
        sa.tuple_(Image.project_id, Image.sha256).in_(own), Image.sequence_id != sequence_id
    )
    return Sequence.id.in_(shared)


def apply_filters(query: sa.Select[Any], f: SequenceFilters) -> sa.Select[Any]:
    """The filters on a select of sequences joined with their camera and review."""
    if f.sibling_of:
        query = query.where(_siblings_of(f.sibling_of))
    if f.project_id:
        query = query.where(Sequence.project_id == f.project_id)
    if f.camera_id:
        query = query.where(Sequence.camera_id == f.camera_id)
    if f.source:
        query = query.where(Sequence.source == f.source)
    if f.organization:
        query = query.where(
            sa.or_(
                Camera.organization_name == f.organization, Camera.organization_id == f.organization
            )
        )
    if f.date_from:
        query = query.where(Sequence.started_at >= _day_start(f.date_from))
    if f.date_to:
        query = query.where(Sequence.started_at < _day_start(f.date_to + timedelta(days=1)))
    if f.processing_stage == "none":
        query = query.where(SequenceReview.id.is_(None))
    elif f.processing_stage:
        if f.processing_stage not in ProcessingStage.ALL:
            raise InvalidInput(
                f"unknown processing stage {f.processing_stage}", field="processing_stage"
            )
        query = query.where(stage_is(f.processing_stage))
    for column, wanted in (
        (SequenceReview.has_smoke, f.has_smoke),
        (SequenceReview.has_false_positives, f.has_false_positives),
        (SequenceReview.has_missed_smoke, f.has_missed_smoke),
        (SequenceReview.is_unsure, f.is_unsure),
    ):
        if wanted is not None:
            query = query.where(column.is_(wanted))
    query = _platform_filters(query, f)
    if f.reviewed_by:
        query = query.where(_reviewed_by(f.reviewed_by))
    if f.false_positive_type:
        if f.false_positive_type not in FALSE_POSITIVE_TYPES:
            raise InvalidInput(
                f"unknown false positive type {f.false_positive_type}", field="false_positive_type"
            )
        # The vocabulary is plain words, so a quoted match in the JSON text is exact.
        text = sa.cast(SequenceReview.false_positive_types, sa.Text)
        query = query.where(text.like(f'%"{f.false_positive_type}"%'))
    return query


def _reviewed_by(value: str) -> Any:
    """Reviews last saved by a user given by id or email (any case)."""
    try:
        return SequenceReview.reviewed_by_id == uuid.UUID(value)
    except ValueError:
        email = sa.func.lower(User.email) == value.strip().lower()
        return SequenceReview.reviewed_by_id.in_(sa.select(User.id).where(email))


def stage_is(stage: str) -> sa.ColumnElement[bool]:
    """Reviews at a stage, the stage written into the SQL rather than bound.

    psycopg prepares a statement run often, and PostgreSQL's generic plan for a prepared one
    cannot know how rare a stage is: with the stage bound, a claim's count of the waiting
    reviews scanned every sequence (146 ms instead of 3 with 100,000 sequences, 1,000 of
    them waiting). Callers pass a stage of `ProcessingStage.ALL` (requests are checked before).
    """
    return SequenceReview.processing_stage == sa.literal(stage, literal_execute=True)


def frame_count_column() -> sa.ScalarSelect[int]:
    return (
        sa.select(sa.func.count(Image.id))
        .where(Image.sequence_id == Sequence.id, Image.deleted_at.is_(None))
        .correlate(Sequence)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class SequenceRow:
    sequence: Sequence
    camera: Camera | None
    review: SequenceReview | None
    frame_count: int
    reviewer: str | None = None  # email of who last saved the review


def list_sequences(
    session: Session,
    *,
    principal: Principal,
    filters: SequenceFilters,
    limit: int,
    offset: int = 0,
    order: str = "newest",
    trash: Trash = "hidden",
) -> tuple[list[SequenceRow], int]:
    """A page of sequences with their camera, review and frame count, plus the total (those
    in the trash only when `trash` says so)."""
    if filters.sibling_of:
        SequenceRepository(session, principal).get(filters.sibling_of)  # 404 if not theirs
    base = (
        SequenceRepository(session, principal)
        .readable(trash)
        .outerjoin(Camera, Camera.id == Sequence.camera_id)
        .outerjoin(SequenceReview, SequenceReview.sequence_id == Sequence.id)
    )
    base = apply_filters(base, filters)
    total = session.scalar(sa.select(sa.func.count()).select_from(base.subquery())) or 0
    terms = order_by(order, oldest_first=False)
    reviewer = aliased(User)
    query = (
        base.outerjoin(reviewer, reviewer.id == SequenceReview.reviewed_by_id)
        .add_columns(Camera, SequenceReview, frame_count_column(), reviewer.email)
        .order_by(*terms)
        .limit(limit)
        .offset(offset)
    )
    rows = [
        SequenceRow(seq, cam, review, count, email)
        for seq, cam, review, count, email in session.execute(query)
    ]
    return rows, total


def frames_of(session: Session, sequence_id: uuid.UUID) -> list[Image]:
    """Frames in time order (capture time, then upload order); none in the trash."""
    query = (
        sa.select(Image)
        .where(Image.sequence_id == sequence_id, Image.deleted_at.is_(None))
        .order_by(Image.captured_at.asc().nulls_last(), Image.created_at, Image.id)
    )
    return list(session.scalars(query))


def reviewer_email(
    session: Session, review: SequenceReview | None, caller: Principal | None = None
) -> str | None:
    """Who saved the review last; the caller's own email needs no read (they just saved)."""
    if review is None or review.reviewed_by_id is None:
        return None
    if caller is not None and caller.user_id == review.reviewed_by_id:
        return caller.email
    user = session.get(User, review.reviewed_by_id)
    return user.email if user else None
