"""Sequence reviews: drafted from model boxes, then confirmed or corrected by people."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lookout.accounts.models import User
from lookout.analyses.models import Analysis, Prediction
from lookout.auth.principal import Principal
from lookout.db import AnySelect, utcnow
from lookout.errors import Conflict, InvalidInput, NotFound, Unprocessable
from lookout.images.models import Image
from lookout.reviewing.models import ReviewClaim
from lookout.sequences.drafting import DraftParams, FrameBox, cluster_tracks, track_to_dict
from lookout.sequences.models import (
    ProcessingStage,
    ReviewVersion,
    Sequence,
    SequenceReview,
    TrackDecision,
)
from lookout.sequences.schemas import ReviewWrite, Track
from lookout.sequences.service import frames_of, get_sequence, reviewer_email


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
    .where(Image.sequence_id == sa.bindparam("sequence_id"), Image.deleted_at.is_(None))
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
            Prediction.data,
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


def is_context(data: Any) -> bool:
    """A box of another sequence's object on a shared frame (the 2026 platform's
    `others_bboxes`): drawn for context, never drafted as this sequence's track."""
    return isinstance(data, dict) and data.get("tracked") is False


def draft_tracks(
    session: Session, sequence_id: uuid.UUID, params: DraftParams, model_name: str
) -> list[dict[str, Any]]:
    """Cluster one model's boxes across the sequence's frames into tracks."""
    connection = session.connection()
    frame_ids = connection.execute(_FRAME_IDS, {"sequence_id": sequence_id}).scalars().all()
    by_frame: dict[uuid.UUID, list[Any]] = defaultdict(list)
    values = {"sequence_id": sequence_id, "model_name": model_name}
    for row in connection.execute(_draft_boxes(bool(model_name)), values):
        if not is_context(row.data):
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
        "is_unsure": False,
        "returned_reason": None,
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
        created = _insert_review(session, sequence_id, values)
        session.commit()
        return DraftOutcome("created", created)
    if is_human(review):
        _keep_in_history(session, review)  # forced over a person's work: theirs stays in history
    _update_versioned(session, review, values)
    session.commit()
    return DraftOutcome("updated", review)


def _insert_review(
    session: Session, sequence_id: uuid.UUID, values: dict[str, Any]
) -> SequenceReview:
    """Add the review (flushed, not committed); a concurrent insert is a Conflict."""
    # The sequence's start is copied in the INSERT itself (the queue's index sorts on it).
    started_at = sa.select(Sequence.started_at).where(Sequence.id == sequence_id)
    review = SequenceReview(
        sequence_id=sequence_id,
        sequence_started_at=started_at.scalar_subquery(),
        version=1,
        **values,
    )
    session.add(review)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("the review was created by someone else meanwhile; reload it") from exc
    return review


# An UPDATE ... RETURNING of a review puts the row as written into the session's copy.
_WRITTEN_BACK = {"synchronize_session": False, "populate_existing": True}


def _update_versioned(session: Session, review: SequenceReview, values: dict[str, Any]) -> None:
    """Write only if nobody saved since we read it (compare-and-set on the version)."""
    statement = (
        sa.update(SequenceReview)
        .where(SequenceReview.id == review.id, SequenceReview.version == review.version)
        .values(**values, version=review.version + 1, updated_at=utcnow())
        .returning(SequenceReview)
    )
    # RETURNING brings the row as written back into `review` (no second round trip to
    # refresh it); no row means someone saved since we read it.
    if session.execute(statement, execution_options=_WRITTEN_BACK).scalar() is None:
        session.rollback()
        raise Conflict(
            "the review was saved by someone else meanwhile; reload it to see their changes"
        )


def _decision_of(track: Track) -> str:
    return track.decision or TrackDecision.UNDECIDED


def _check_decided(write: ReviewWrite) -> None:
    """An annotated review has no undecided track: 422 naming the first, nothing stored."""
    if write.processing_stage != ProcessingStage.ANNOTATED:
        return
    undecided = [
        i for i, t in enumerate(write.tracks) if _decision_of(t) == TrackDecision.UNDECIDED
    ]
    if undecided:
        first = undecided[0]
        raise Unprocessable(
            f"{len(undecided)} track(s) still undecided (first: track {first + 1}); decide "
            "smoke, false positive or unsure for each before marking the sequence annotated",
            field=f"tracks[{first}]",
        )


# Track fields only Lookout sets (lookout.grouping): stored when present, never as sent.
GROUP_FIELDS = ("group_id", "decided_by_group", "suggestion")


def _track_json(track: Track) -> dict[str, Any]:
    data = track.model_dump(mode="json")
    for name in GROUP_FIELDS:
        if data.get(name) is None:
            data.pop(name, None)
    return data


def verdict(track: dict[str, Any]) -> tuple[Any, ...]:
    """A track's decision with its types: what a group decides and a person may override."""
    decision = track.get("decision") or TrackDecision.UNDECIDED
    smoke_type = track.get("smoke_type") if decision == TrackDecision.SMOKE else None
    types = track.get("false_positive_types") or []
    fp = tuple(sorted(types)) if decision == TrackDecision.FALSE_POSITIVE else ()
    return decision, smoke_type, fp


def keep_group_marks(
    stored: list[Any], incoming: list[dict[str, Any]], by: str | None
) -> list[dict[str, Any]]:
    """A person's tracks with the group marks Lookout had set on the stored ones.

    A track keeps its group (`group_id`, which must be one the stored review had); it keeps
    following the group's decision (`decided_by_group`) while its decision stays the one the
    group gave, and leaves it once a person decides otherwise. A suggestion stays while the
    track is undecided; deciding as suggested confirms it (the track then follows the group).
    """
    by_group = {str(t["group_id"]): t for t in stored if isinstance(t, dict) and t.get("group_id")}
    out: list[dict[str, Any]] = []
    for sent in incoming:
        track = {k: v for k, v in sent.items() if k not in GROUP_FIELDS}
        old = by_group.pop(str(sent.get("group_id")), None) if sent.get("group_id") else None
        if old is None:
            out.append(track)
            continue
        track["group_id"] = old["group_id"]
        mark = old.get("decided_by_group")
        if mark and verdict(track) == verdict(old):
            track["decided_by_group"] = mark
        suggestion = old.get("suggestion")
        if suggestion and not mark:
            if verdict(track)[0] == TrackDecision.UNDECIDED:
                track["suggestion"] = suggestion
            elif verdict(track) == verdict(suggestion):
                track["decided_by_group"] = {
                    "group_id": old["group_id"],
                    "by": by,
                    "at": utcnow().isoformat(),
                    "confirmed": True,
                }
        out.append(track)
    return out


def _derived(write: ReviewWrite) -> dict[str, Any]:
    """Sequence-level flags follow from the tracks, so they can never disagree."""
    decisions = [_decision_of(t) for t in write.tracks]
    smoke = [t for t, d in zip(write.tracks, decisions, strict=True) if d == TrackDecision.SMOKE]
    false = [
        t for t, d in zip(write.tracks, decisions, strict=True) if d == TrackDecision.FALSE_POSITIVE
    ]
    return {
        "tracks": [_track_json(t) for t in write.tracks],
        "has_smoke": bool(smoke),
        "has_false_positives": bool(false),
        "false_positive_types": sorted({fp for t in false for fp in t.false_positive_types}),
        "smoke_types": sorted({t.smoke_type for t in smoke if t.smoke_type}),
        "has_missed_smoke": write.has_missed_smoke,
        "is_unsure": write.is_unsure or TrackDecision.UNSURE in decisions,
        "processing_stage": write.processing_stage,
        "returned_reason": None,
    }


def save_review(
    session: Session, *, principal: Principal, sequence_id: uuid.UUID, write: ReviewWrite
) -> SequenceReview:
    """Save a person's review; a stale `version` answers 409 instead of overwriting."""
    sequence = get_sequence(session, principal=principal, sequence_id=sequence_id)
    frames = {frame.id: frame for frame in frames_of(session, sequence.id)}
    for index, track in enumerate(write.tracks):
        for number, box in enumerate(track.boxes):
            if box.frame_id not in frames:
                raise InvalidInput(
                    f"frame {box.frame_id} is not in this sequence", field=f"tracks[{index}].boxes"
                )
            _check_box_size(box.xyxyn, frames[box.frame_id], f"tracks[{index}].boxes[{number}]")
    _check_decided(write)
    values = _derived(write)
    values.update(reviewed_by_id=principal.user_id, reviewed_at=utcnow())
    review = review_of(session, sequence.id)
    values["tracks"] = keep_group_marks(
        review.tracks if review is not None else [], values["tracks"], principal.email
    )
    if review is not None:
        if write.version is None:
            raise Conflict(
                "this sequence already has a review: send the version you edited", field="version"
            )
        if write.version != review.version:
            raise Conflict(_moved_on(session, review, write.version), field="version")
    return _write_by_person(session, principal, sequence.id, review, values, action="save")


MIN_BOX_PIXELS = 1.0  # narrower boxes are empty to training tools (Datumaro reports them)


def _check_box_size(xyxyn: list[float], frame: Image, where: str) -> None:
    """A person's box is at least MIN_BOX_PIXELS wide and high on its frame."""
    width = (xyxyn[2] - xyxyn[0]) * frame.width
    height = (xyxyn[3] - xyxyn[1]) * frame.height
    if min(width, height) < MIN_BOX_PIXELS - 1e-6:
        raise Unprocessable(
            f"{where}.xyxyn: the box is {width:.2f} x {height:.2f} px on its "
            f"{frame.width} x {frame.height} frame; boxes must be at least "
            f"{MIN_BOX_PIXELS:g} px wide and high",
            field=f"{where}.xyxyn",
        )


def _moved_on(session: Session, review: SequenceReview, yours: int) -> str:
    """Who saved the review after the version a person started from, and when."""
    who = reviewer_email(session, review) or "an import (a new draft)"
    when = review.reviewed_at or review.updated_at
    return (
        f"the review changed since you opened it: {who} saved version {review.version} at "
        f"{when:%Y-%m-%d %H:%M} UTC (yours started from version {yours}); reload to see their "
        "changes, or keep your decisions for the tracks they did not change"
    )


def _write_by_person(
    session: Session,
    principal: Principal,
    sequence_id: uuid.UUID,
    review: SequenceReview | None,
    values: dict[str, Any],
    *,
    action: str,
    reason: str | None = None,
) -> SequenceReview:
    """One transaction: the state replaced kept in history, the new state, its history row,
    and the person's claim on the sequence released."""
    started_at = _release_claim(session, sequence_id, principal.user_id)
    if review is None:
        review = _insert_review(session, sequence_id, values)
    else:
        _keep_in_history(session, review)
        _update_versioned(session, review, values)
    _record_version(
        session, review, action, principal.user_id, started_at=started_at, reason=reason
    )
    session.commit()
    return review


def _release_claim(session: Session, sequence_id: uuid.UUID, user_id: uuid.UUID) -> datetime | None:
    """Drop the person's claim on the sequence; when it began (for time spent), if any."""
    # One DELETE ... RETURNING rather than reading the claim, then deleting it at flush.
    released = (
        sa.delete(ReviewClaim)
        .where(ReviewClaim.sequence_id == sequence_id, ReviewClaim.user_id == user_id)
        .returning(ReviewClaim.claimed_at)
    )
    # The session's default synchronization drops a claim it had loaded, in Python.
    return session.execute(released).scalar()


# The fields of a review a version keeps (and a restore brings back).
STATE_FIELDS = (
    "tracks",
    "has_smoke",
    "has_false_positives",
    "false_positive_types",
    "smoke_types",
    "has_missed_smoke",
    "is_unsure",
    "processing_stage",
)


def _state_of(review: SequenceReview) -> dict[str, Any]:
    return {name: getattr(review, name) for name in STATE_FIELDS}


def _record_version(
    session: Session,
    review: SequenceReview,
    action: str,
    saved_by_id: uuid.UUID | None,
    *,
    saved_at: datetime | None = None,
    started_at: datetime | None = None,
    reason: str | None = None,
) -> None:
    session.add(
        ReviewVersion(
            review_id=review.id,
            sequence_id=review.sequence_id,
            version=review.version,
            action=action,
            saved_by_id=saved_by_id,
            saved_at=saved_at or utcnow(),
            started_at=started_at,
            reason=reason,
            state=_state_of(review),
        )
    )
    session.flush()


def _keep_in_history(session: Session, review: SequenceReview) -> None:
    """Record the state about to be replaced unless it is already (drafts are recorded only
    once a person writes over them, so imports don't pay for a history nobody reads)."""
    recorded = sa.select(ReviewVersion.id).where(
        ReviewVersion.review_id == review.id, ReviewVersion.version == review.version
    )
    if session.scalar(recorded) is not None:
        return
    action = "save" if review.reviewed_at is not None else "draft"
    saved_at = review.reviewed_at or review.updated_at
    _record_version(session, review, action, review.reviewed_by_id, saved_at=saved_at)


def send_back(
    session: Session, *, principal: Principal, sequence_id: uuid.UUID, reason: str
) -> SequenceReview:
    """Return a reviewed sequence to the queue with a reason; its tracks and history stay."""
    review = get_review(session, principal=principal, sequence_id=sequence_id)
    if review.processing_stage == ProcessingStage.READY_TO_ANNOTATE:
        raise Conflict("this sequence is already waiting in the review queue")
    values = {
        "processing_stage": ProcessingStage.READY_TO_ANNOTATE,
        "returned_reason": reason,
        "reviewed_at": review.reviewed_at or utcnow(),
    }
    return _write_by_person(
        session, principal, review.sequence_id, review, values, action="send_back", reason=reason
    )


def review_history(
    session: Session, *, principal: Principal, sequence_id: uuid.UUID
) -> list[tuple[ReviewVersion, str | None]]:
    """Every recorded version of the review, newest first, with who saved it."""
    review = get_review(session, principal=principal, sequence_id=sequence_id)
    query = (
        sa.select(ReviewVersion, User.email)
        .outerjoin(User, User.id == ReviewVersion.saved_by_id)
        .where(ReviewVersion.review_id == review.id)
        .order_by(ReviewVersion.version.desc())
    )
    rows: list[tuple[ReviewVersion, str | None]] = [
        (version, email) for version, email in session.execute(query)
    ]
    if not rows or rows[0][0].version != review.version:
        # The current state is a draft not recorded yet: show it first, unsaved.
        current = ReviewVersion(
            review_id=review.id,
            sequence_id=review.sequence_id,
            version=review.version,
            action="draft" if review.reviewed_at is None else "save",
            saved_at=review.reviewed_at or review.updated_at,
            state=_state_of(review),
        )
        rows.insert(0, (current, reviewer_email(session, review)))
    return rows


def review_version(
    session: Session, *, principal: Principal, sequence_id: uuid.UUID, version: int
) -> tuple[ReviewVersion, str | None, ReviewVersion | None]:
    """One version of the review, who saved it, and the version before it (if any)."""
    rows = review_history(session, principal=principal, sequence_id=sequence_id)
    for index, (found, email) in enumerate(rows):
        if found.version == version:
            older = rows[index + 1][0] if index + 1 < len(rows) else None
            return found, email, older
    raise NotFound(f"the review of sequence {sequence_id} has no version {version}")


def restore_version(
    session: Session,
    *,
    principal: Principal,
    sequence_id: uuid.UUID,
    version: int,
    current: int | None,
) -> SequenceReview:
    """Make an earlier version the current one again (as a new version: nothing is lost)."""
    review = get_review(session, principal=principal, sequence_id=sequence_id)
    if current is not None and current != review.version:
        raise Conflict(_moved_on(session, review, current), field="version")
    old, _, _ = review_version(
        session, principal=principal, sequence_id=sequence_id, version=version
    )
    values: dict[str, Any] = {key: old.state[key] for key in STATE_FIELDS if key in old.state}
    values.update(returned_reason=None, reviewed_by_id=principal.user_id, reviewed_at=utcnow())
    return _write_by_person(
        session,
        principal,
        review.sequence_id,
        review,
        values,
        action="restore",
        reason=f"restored version {version}",
    )


def write_imported_review(
    session: Session,
    *,
    sequence_id: uuid.UUID,
    write: ReviewWrite,
    reviewed_by_id: uuid.UUID | None,
    reviewed_at: datetime | None,
    draft_params: dict[str, Any],
    reason: str,
) -> SequenceReview:
    """A review brought from another annotation tool, written as its author saved it there.

    Flags follow from the tracks as for a person's save. A review in a person's stage keeps who
    made it and when (`reviewed_by_id`, `reviewed_at`), and its version is recorded in the
    history with action "import"; a draft (stage ready_to_annotate) is written as a draft. The
    state it replaces stays in the history. The caller decides whether replacing is allowed.
    """
    values = _derived(write)
    decided = write.processing_stage in ProcessingStage.HUMAN
    values.update(
        reviewed_by_id=reviewed_by_id if decided else None,
        reviewed_at=reviewed_at if decided else None,
        draft_params=draft_params,
    )
    review = review_of(session, sequence_id)
    if review is None:
        review = _insert_review(session, sequence_id, values)
    else:
        _keep_in_history(session, review)
        _update_versioned(session, review, values)
    if decided:
        _record_version(
            session, review, "import", reviewed_by_id, saved_at=reviewed_at, reason=reason
        )
    session.commit()
    return review


def set_draft_tracks(
    session: Session, review: SequenceReview, tracks: list[dict[str, Any]]
) -> bool:
    """Put group marks on a draft's tracks (part of drafting: no new version, no history).

    False when a person saved the review meanwhile (theirs is kept). Not committed.
    """
    statement = (
        sa.update(SequenceReview)
        .where(SequenceReview.id == review.id, SequenceReview.version == review.version)
        .values(tracks=tracks)
        .returning(SequenceReview)
    )
    # The row as written comes back into `review` (no refresh, a round trip less).
    return session.execute(statement, execution_options=_WRITTEN_BACK).scalar() is not None


def write_group_tracks(
    session: Session,
    review: SequenceReview,
    tracks: list[dict[str, Any]],
    *,
    by_id: uuid.UUID | None,
    reason: str,
) -> None:
    """Tracks changed by a group (its decision applied, changed or undone) as a new version of
    the review, recorded in its history (action "group"); in the caller's transaction.

    The review becomes annotated once no track is undecided, and goes back to the queue when
    an annotated one has an undecided track again. A stale review is a Conflict.
    """
    write = ReviewWrite.model_validate(
        {
            "tracks": tracks,
            "has_missed_smoke": review.has_missed_smoke,
            "is_unsure": review.is_unsure
            and not any(t.get("decision") == TrackDecision.UNSURE for t in review.tracks),
            "processing_stage": _stage_after_group(review.processing_stage, tracks),
        }
    )
    values = _derived(write)
    # The group marks are Lookout's own here: kept as given (the Track schema keeps them).
    values["tracks"] = [_track_json(t) for t in write.tracks]
    values.update(reviewed_by_id=by_id, reviewed_at=utcnow())
    _keep_in_history(session, review)
    _update_versioned(session, review, values)
    _record_version(session, review, "group", by_id, reason=reason)


def _stage_after_group(stage: str, tracks: list[dict[str, Any]]) -> str:
    undecided = any(verdict(t)[0] == TrackDecision.UNDECIDED for t in tracks)
    if stage == ProcessingStage.IMPORTED:
        stage = ProcessingStage.READY_TO_ANNOTATE
    waiting = (
        ProcessingStage.IMPORTED,
        ProcessingStage.READY_TO_ANNOTATE,
        ProcessingStage.IN_REVIEW,
    )
    if not undecided and stage in waiting:
        return ProcessingStage.ANNOTATED
    if undecided and stage == ProcessingStage.ANNOTATED:
        return ProcessingStage.READY_TO_ANNOTATE
    return stage
