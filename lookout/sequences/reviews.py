"""Sequence reviews: drafted from model boxes, then confirmed or corrected by people."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lookout.analyses.models import Analysis, Prediction
from lookout.auth.principal import Principal
from lookout.db import AnySelect, affected_rows, utcnow
from lookout.errors import Conflict, InvalidInput, NotFound
from lookout.images.models import Image
from lookout.sequences.drafting import DraftParams, FrameBox, cluster_tracks, track_to_dict
from lookout.sequences.models import ProcessingStage, SequenceReview
from lookout.sequences.schemas import ReviewWrite
from lookout.sequences.service import frames_of, get_sequence


def is_human(review: SequenceReview) -> bool:
    """Has a person started or finished this review? Drafts never overwrite those."""
    return review.reviewed_at is not None or review.processing_stage in ProcessingStage.HUMAN


def get_review(session: Session, *, principal: Principal, sequence_id: uuid.UUID) -> SequenceReview:
    sequence = get_sequence(session, principal=principal, sequence_id=sequence_id)
    review = review_of(session, sequence.id)
    if review is None:
        raise NotFound(f"sequence {sequence_id} has no review yet")
    return review


def review_of(session: Session, sequence_id: uuid.UUID) -> SequenceReview | None:
    return session.scalar(
        sa.select(SequenceReview).where(SequenceReview.sequence_id == sequence_id)
    )


# Reads and writes of one draft request when other writers keep getting in between.
DRAFT_ATTEMPTS = 3


@dataclass(frozen=True)
class DraftOutcome:
    status: str  # created, updated or skipped
    review: SequenceReview
    reason: str | None = None


# Only the columns drafting needs, as plain rows (no ORM objects): frames in time order, and
# each frame's boxes of the model in the order they were stored (as `predictions_by_frame`).
_FRAME_IDS = (
    sa.select(Image.id)
    .where(Image.sequence_id == sa.bindparam("sequence_id"))
    .order_by(Image.captured_at.asc().nulls_last(), Image.created_at, Image.id)
)


@functools.cache
def _draft_boxes(by_model: bool) -> AnySelect:
    query = (
        sa.select(
            Analysis.image_id,
            Prediction.x1,
            Prediction.y1,
            Prediction.x2,
            Prediction.y2,
            Prediction.confidence,
            Prediction.class_name,
        )
        .join(Prediction, Prediction.analysis_id == Analysis.id)
        .join(Image, Image.id == Analysis.image_id)
        .where(
            Image.sequence_id == sa.bindparam("sequence_id"),
            Prediction.annotation_type == "bounding_box",
            Prediction.x1.is_not(None),
        )
        .order_by(Analysis.created_at, Prediction.created_at)
    )
    return query.where(Analysis.model_name == sa.bindparam("model_name")) if by_model else query


def draft_tracks(
    session: Session, sequence_id: uuid.UUID, params: DraftParams, model_name: str
) -> list[dict[str, Any]]:
    """Cluster one model's boxes across the sequence's frames into tracks."""
    connection = session.connection()
    frame_ids = connection.execute(_FRAME_IDS, {"sequence_id": sequence_id}).scalars().all()
    by_frame: dict[uuid.UUID, list[Any]] = defaultdict(list)
    values = {"sequence_id": sequence_id, "model_name": model_name}
    for row in connection.execute(_draft_boxes(bool(model_name)), values):
        by_frame[row.image_id].append(row)
    boxes = [
        FrameBox(index, str(frame_id), (p.x1, p.y1, p.x2, p.y2), p.confidence or 0.0, p.class_name)
        for index, frame_id in enumerate(frame_ids)
        for p in by_frame.get(frame_id, ())
    ]
    return [track_to_dict(track) for track in cluster_tracks(boxes, params)]


def draft_review(
    session: Session,
    *,
    principal: Principal,
    sequence_id: uuid.UUID,
    params: DraftParams,
    model_name: str = "platform",
    force: bool = False,
) -> DraftOutcome:
    """Draft the review from a model's boxes, stage ready_to_annotate; people's work is kept.

    A review written by someone else between our read and our write (two importers drafting
    the same sequence) is read again: a draft is drafted over, a person's review is kept.
    """
    target = get_sequence(session, principal=principal, sequence_id=sequence_id).id
    for attempt in range(DRAFT_ATTEMPTS):
        try:
            return _draft_once(session, target, params, model_name, force)
        except Conflict:
            # With force the caller overwrites on purpose: a write meanwhile is worth a 409.
            if force or attempt == DRAFT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _draft_once(
    session: Session, sequence_id: uuid.UUID, params: DraftParams, model_name: str, force: bool
) -> DraftOutcome:
    review = review_of(session, sequence_id)
    if review is not None and is_human(review) and not force:
        return DraftOutcome("skipped", review, "a person has started or finished this review")
    tracks = draft_tracks(session, sequence_id, params, model_name)
    values = {
        "tracks": tracks,
        "has_smoke": bool(tracks),
        "has_false_positives": False,
        "false_positive_types": [],
        "smoke_types": [],
        "has_missed_smoke": False,
        "processing_stage": ProcessingStage.READY_TO_ANNOTATE,
        "reviewed_by_id": None,
        "reviewed_at": None,
        "draft_params": {
            "model_name": model_name,
            "confidence_threshold": params.confidence_threshold,
            "iou_threshold": params.iou_threshold,
            "min_cluster_size": params.min_cluster_size,
            "generated_at": utcnow().isoformat(),
        },
    }
    if review is None:
        return DraftOutcome("created", _insert_review(session, sequence_id, values))
    _update_versioned(session, review, values)
    return DraftOutcome("updated", review)


def _insert_review(
    session: Session, sequence_id: uuid.UUID, values: dict[str, Any]
) -> SequenceReview:
    review = SequenceReview(sequence_id=sequence_id, version=1, **values)
    session.add(review)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("the review was created by someone else meanwhile; reload it") from exc
    return review


def _update_versioned(session: Session, review: SequenceReview, values: dict[str, Any]) -> None:
    """Write only if nobody saved since we read it (compare-and-set on the version)."""
    statement = (
        sa.update(SequenceReview)
        .where(SequenceReview.id == review.id, SequenceReview.version == review.version)
        .values(**values, version=review.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if affected_rows(session.execute(statement)) != 1:
        session.rollback()
        raise Conflict(
            "the review was saved by someone else meanwhile; reload it to see their changes"
        )
    session.commit()
    session.refresh(review)


def _derived(write: ReviewWrite) -> dict[str, Any]:
    """Sequence-level flags follow from the tracks, so they can never disagree."""
    smoke = [t for t in write.tracks if t.is_smoke]
    false = [t for t in write.tracks if not t.is_smoke]
    fp_types = sorted({fp for t in false for fp in t.false_positive_types})
    smoke_types = sorted({t.smoke_type for t in smoke if t.smoke_type})
    return {
        "tracks": [t.model_dump(mode="json") for t in write.tracks],
        "has_smoke": bool(smoke),
        "has_false_positives": bool(false),
        "false_positive_types": fp_types,
        "smoke_types": smoke_types,
        "has_missed_smoke": write.has_missed_smoke,
        "processing_stage": write.processing_stage,
    }


def save_review(
    session: Session, *, principal: Principal, sequence_id: uuid.UUID, write: ReviewWrite
) -> SequenceReview:
    """Save a person's review; a stale `version` answers 409 instead of overwriting."""
    sequence = get_sequence(session, principal=principal, sequence_id=sequence_id)
    frame_ids = {frame.id for frame in frames_of(session, sequence.id)}
    for index, track in enumerate(write.tracks):
        for box in track.boxes:
            if box.frame_id not in frame_ids:
                raise InvalidInput(
                    f"frame {box.frame_id} is not in this sequence", field=f"tracks[{index}].boxes"
                )
    values = _derived(write)
    values.update(reviewed_by_id=principal.user_id, reviewed_at=utcnow())
    review = review_of(session, sequence.id)
    if review is None:
        return _insert_review(session, sequence.id, values)
    if write.version is None:
        raise Conflict(
            "this sequence already has a review: send the version you edited", field="version"
        )
    if write.version != review.version:
        raise Conflict(
            f"the review changed since you opened it (version {review.version}, yours "
            f"{write.version}); reload it to see the other changes",
            field="version",
        )
    _update_versioned(session, review, values)
    return review
