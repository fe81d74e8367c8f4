"""The review queue's rules: one sequence, one reviewer, for a while; skips per reviewer.

A claim holds a sequence of the queue for one reviewer until it expires (the review page
renews it while the reviewer works; a save releases it). Claims are decided by the database:
the claim row's primary key (one per sequence) and an insert that takes over only an expired
claim, so two reviewers asking at once never get the same sequence, on PostgreSQL or SQLite.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from lookout.auth.principal import Principal
from lookout.db import utcnow
from lookout.errors import Conflict, InvalidInput, NotFound
from lookout.projects.repository import ProjectRepository
from lookout.reviewing.repository import ReviewQueueRepository
from lookout.scoring.models import DEFAULT_THRESHOLD, MODEL_ORDERS, PLATFORM, QueueScore
from lookout.scoring.repository import QueueOrder, ScoreRepository
from lookout.sequences.models import ProcessingStage, Sequence
from lookout.sequences.service import SequenceFilters

# Candidates read per round of a claim, and rounds before giving up (every round after a lost
# race reads again, without the sequences that were taken meanwhile).
CANDIDATES_PER_ROUND = 20
ROUNDS = 5
# A claim's answer counts what remains up to this many (counting a queue of 100,000 would
# cost more than the claim); GET /api/review-queue counts them all.
REMAINING_COUNTED = 1000


@dataclass(frozen=True)
class QueueRow:
    """A sequence with what the list shows of it."""

    sequence: Sequence
    camera: Any
    review: Any
    frame_count: int


@dataclass(frozen=True)
class Why:
    """Why a sequence sits where it does in a queue."""

    order: str
    score: float | None = None
    model: str | None = None
    against_model: str | None = None
    threshold: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class HeldClaim:
    row: QueueRow
    claimed_at: datetime
    expires_at: datetime
    remaining: int
    why: Why | None = None


@dataclass(frozen=True)
class OrderRequest:
    """The order a caller asks for; anything left out comes from the project's defaults."""

    order: str | None = None
    model: str | None = None
    against_model: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class QueueItem:
    row: QueueRow
    why: Why


def resolve_order(
    session: Session, *, principal: Principal, filters: SequenceFilters, request: OrderRequest
) -> QueueOrder:
    """The order to serve: the one asked, else the project's default, else oldest first.

    Disagreement and uncertainty need a model with stored scores here (the request's, else
    the project's `queue_model`); a missing or unknown one is refused naming `model`.
    """
    project = (
        ProjectRepository(session, principal).get(filters.project_id)
        if filters.project_id is not None
        else None
    )
    order = request.order or (project.queue_order if project else None) or "oldest"
    if order not in MODEL_ORDERS:
        return QueueOrder(order)
    model_text = request.model or (project.queue_model if project else None)
    if not model_text:
        raise InvalidInput(
            f"model: the {order} order needs a model (name or name@version of an analysis "
            "model)" + ("" if project else ", or a project whose queue_model is set"),
            field="model",
        )
    against_text = request.against_model
    if against_text is None and request.model is None and project is not None:
        against_text = project.queue_against
    found = ScoreRepository(session, principal)
    model = found.resolve_model(model_text, kind=order, project_id=filters.project_id)
    against = PLATFORM
    if against_text and order == "disagreement":
        against = found.resolve_model(
            against_text, kind=order, project_id=filters.project_id, field="against_model"
        )
        if against == model:
            raise InvalidInput(
                "against_model: name another model than model", field="against_model"
            )
    default = project.queue_threshold if project is not None else DEFAULT_THRESHOLD
    threshold = request.threshold if request.threshold is not None else default
    return QueueOrder(
        order,
        model=model,
        against=against,
        threshold=threshold if order == "uncertainty" else None,
        stored_threshold=abs(threshold - default) < 1e-9,
    )


def why(row: QueueRow, order: QueueOrder, score: float | None) -> Why:
    """What a sequence's place in `order` rests on, in numbers and words."""
    if order.order == "oldest":
        started = f"{row.sequence.started_at:%Y-%m-%d %H:%M}"
        return Why("oldest", detail=f"started {started} (oldest first)")
    if order.order == "score":
        shown = "no score (last)" if score is None else f"{score:.2f} (highest first)"
        return Why("score", score=score, detail=f"the platform's score {shown}")
    if score is None:
        detail = f"no {order.order} score for {order.model} yet (after the scored ones)"
    elif order.order == "disagreement":
        other = order.against or "the platform's boxes"
        detail = f"{order.model} and {other} disagree by {score:.2f} per frame (most first)"
    else:
        detail = (
            f"a track of {order.model} is {score:.2f} from the threshold {order.threshold:g} "
            "(nearest first)"
        )
    return Why(
        order.order,
        score=None if score is None else round(score, 6),
        model=order.model,
        against_model=order.against or None,
        threshold=order.threshold,
        detail=detail,
    )


def _score_of(repo: ReviewQueueRepository, row: QueueRow, order: QueueOrder) -> float | None:
    """A claimed sequence's score in `order` (read again: the claim took it by id)."""
    if order.order == "score":
        return row.sequence.platform_score
    if order.kind is None:
        return None
    stored: QueueScore | None = ScoreRepository(repo.session, repo.principal).row(
        row.sequence.id, order
    )
    if stored is None:
        return None
    if order.kind == "uncertainty" and not order.stored_threshold:
        assert order.threshold is not None
        values = [abs(float(c) - order.threshold) for c in stored.confidences or []]
        return min(values, default=None)
    return stored.score


@dataclass(frozen=True)
class QueueStatus:
    remaining: int
    claimed: HeldClaim | None


@dataclass(frozen=True)
class SkippedRow:
    row: QueueRow
    skipped_at: datetime


def _check_project(session: Session, principal: Principal, filters: SequenceFilters) -> None:
    """A project named in the filters must be one the caller may read (404 otherwise)."""
    if filters.project_id is not None:
        ProjectRepository(session, principal).get(filters.project_id)


def _readable_row(repo: ReviewQueueRepository, sequence_id: uuid.UUID) -> QueueRow:
    row = repo.sequence_row(sequence_id)
    if row is None:
        raise NotFound(f"sequence {sequence_id} not found")
    return QueueRow(*row)


def claim_next(
    session: Session,
    *,
    principal: Principal,
    filters: SequenceFilters,
    claim_seconds: int,
    order: OrderRequest | None = None,
) -> HeldClaim | None:
    """The caller's claim on the first sequence of their queue in `order` (see
    `resolve_order`), or None when it is empty.

    A caller who already holds an unexpired claim on a sequence of this queue gets it again,
    renewed. Otherwise any other claim of theirs is released (a reviewer holds one sequence
    at a time) and the first sequence nobody holds is claimed.
    """
    # Reading the project (404 when the caller may not) is part of resolving the order.
    resolved = resolve_order(
        session, principal=principal, filters=filters, request=order or OrderRequest()
    )
    repo = ReviewQueueRepository(session, principal)
    now = utcnow()
    expires_at = now + timedelta(seconds=claim_seconds)
    if repo.holds_any():
        held = repo.held(now=now, sequence_ids=_ids(repo, filters, now))
        if held is not None and (
            taken := repo.take(held.sequence_id, now=now, expires_at=expires_at)
        ):
            return _commit_claim(session, repo, held.sequence_id, taken, filters, now, resolved)
        repo.release()
    for _round in range(ROUNDS):
        candidates = repo.candidates(filters, now=now, limit=CANDIDATES_PER_ROUND, order=resolved)
        if not candidates:
            break
        for sequence_id in candidates:
            if taken := repo.take(sequence_id, now=now, expires_at=expires_at):
                return _commit_claim(session, repo, sequence_id, taken, filters, now, resolved)
        now = utcnow()  # every candidate was taken meanwhile: look again
    session.commit()
    return None


def _ids(repo: ReviewQueueRepository, filters: SequenceFilters, now: datetime) -> Any:
    return repo.queue(filters, now=now).with_only_columns(Sequence.id)


def _commit_claim(
    session: Session,
    repo: ReviewQueueRepository,
    sequence_id: uuid.UUID,
    taken: tuple[datetime, datetime],
    filters: SequenceFilters,
    now: datetime,
    order: QueueOrder,
) -> HeldClaim:
    """The claim just taken on a sequence (`taken`: its claimed_at and expires_at), with what
    remains of the queue and why it came next, committed."""
    row = _readable_row(repo, sequence_id)
    remaining = repo.remaining(filters, now=now, up_to=REMAINING_COUNTED)
    reason = why(row, order, _score_of(repo, row, order))
    session.commit()
    return HeldClaim(row, *taken, remaining, reason)


def renew(
    session: Session, *, principal: Principal, sequence_id: uuid.UUID, claim_seconds: int
) -> HeldClaim:
    """Extend the caller's claim; an expired or released one is taken again if nobody else
    holds the sequence and it still waits for a review."""
    repo = ReviewQueueRepository(session, principal)
    row = _readable_row(repo, sequence_id)
    now = utcnow()
    existing = repo.claim_on(sequence_id)
    own = existing is not None and existing.user_id == principal.user_id
    if not own and not _waiting(row):
        stage = row.review.processing_stage if row.review else "no review"
        raise Conflict(
            f"sequence {sequence_id} no longer waits for a review ({stage}); "
            "there is no claim to renew",
            field="sequence_id",
        )
    taken = repo.take(sequence_id, now=now, expires_at=now + timedelta(seconds=claim_seconds))
    if taken is None:
        session.rollback()
        raise Conflict(
            f"sequence {sequence_id} is held by another reviewer; take the next one",
            field="sequence_id",
        )
    session.commit()
    return HeldClaim(row, *taken, 0)


def _waiting(row: QueueRow) -> bool:
    review = row.review
    return (
        review is not None
        and review.processing_stage == ProcessingStage.READY_TO_ANNOTATE
        and not review.is_unsure
    )


def release(session: Session, *, principal: Principal, sequence_id: uuid.UUID) -> None:
    """Drop the caller's claim on a sequence they may read (nothing happens if none)."""
    repo = ReviewQueueRepository(session, principal)
    if not repo.release_readable(sequence_id):
        _readable_row(repo, sequence_id)  # nothing dropped: 404 unless the caller may read it
    session.commit()


def skip(session: Session, *, principal: Principal, sequence_id: uuid.UUID) -> None:
    """Set a sequence aside: the caller's claim on it goes, and it leaves their queue only."""
    repo = ReviewQueueRepository(session, principal)
    _readable_row(repo, sequence_id)
    repo.release(sequence_id)
    repo.skip(sequence_id, now=utcnow())
    session.commit()


def unskip(session: Session, *, principal: Principal, sequence_id: uuid.UUID) -> None:
    """Put a skipped sequence back in the caller's queue."""
    repo = ReviewQueueRepository(session, principal)
    _readable_row(repo, sequence_id)
    repo.unskip(sequence_id)
    session.commit()


def skipped(
    session: Session, *, principal: Principal, limit: int, offset: int
) -> tuple[list[SkippedRow], int]:
    """The caller's skipped sequences, the last skipped first, and how many there are."""
    rows, total = ReviewQueueRepository(session, principal).skipped(limit=limit, offset=offset)
    return [SkippedRow(QueueRow(*row[:4]), row[4]) for row in rows], total


def status(session: Session, *, principal: Principal, filters: SequenceFilters) -> QueueStatus:
    """How many sequences of the caller's queue nobody holds, and the caller's claim there."""
    _check_project(session, principal, filters)
    repo = ReviewQueueRepository(session, principal)
    now = utcnow()
    remaining = repo.remaining(filters, now=now)
    held = repo.held(now=now, sequence_ids=_ids(repo, filters, now))
    if held is None:
        return QueueStatus(remaining, None)
    row = _readable_row(repo, held.sequence_id)
    return QueueStatus(remaining, HeldClaim(row, held.claimed_at, held.expires_at, remaining))


def queue_items(
    session: Session,
    *,
    principal: Principal,
    filters: SequenceFilters,
    order: QueueOrder,
    limit: int,
    offset: int = 0,
    everyone: bool = False,
) -> list[QueueItem]:
    """The first sequences of the caller's queue in `order`, each with why it is there
    (`everyone`: every sequence waiting for a review, held or skipped ones included)."""
    repo = ReviewQueueRepository(session, principal)
    now = utcnow()
    base = repo.waiting(filters) if everyone else repo.queue(filters, now=now)
    found = repo.ordered(base, filters, order, limit, offset)
    rows = {r.sequence.id: r for r in (QueueRow(*row) for row in repo.rows([f[0] for f in found]))}
    return [
        QueueItem(rows[sequence_id], why(rows[sequence_id], order, score))
        for sequence_id, score, *_ in found
        if sequence_id in rows
    ]
