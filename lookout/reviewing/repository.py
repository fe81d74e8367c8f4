"""The review queue as one caller sees it: every read of claims and skips starts here.

The queue is the sequences the caller may read whose review waits for a person (stage
`ready_to_annotate`, not unsure), that nobody else holds and that the caller did not skip,
oldest first. Access comes from `SequenceRepository.readable()`, so no query here can reach
a sequence of another group.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lookout.auth.principal import Principal
from lookout.db import AnySelect
from lookout.reviewing.models import ReviewClaim, ReviewSkip
from lookout.scoring import models as scoring_models
from lookout.scoring import repository as scores
from lookout.scoring.repository import QueueOrder
from lookout.sequences.models import Camera, ProcessingStage, Sequence, SequenceReview
from lookout.sequences.repository import SequenceRepository, sequence_by_id
from lookout.sequences.service import (
    SequenceFilters,
    apply_filters,
    frame_count_column,
    order_by,
    stage_is,
)

# How a queue hands out sequences: lookout.scoring.models.QUEUE_ORDERS.
QUEUE_ORDERS = scoring_models.QUEUE_ORDERS


class ReviewQueueRepository:
    """Claims, skips and the queue of one caller, built once per request."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.user_id = principal.user_id

    # --- the queue ----------------------------------------------------------------------

    def waiting(self, filters: SequenceFilters) -> AnySelect:
        """Readable sequences waiting for a person, matching the filters (claims aside)."""
        query = (
            SequenceRepository(self.session, self.principal)
            .readable()
            .join(SequenceReview, SequenceReview.sequence_id == Sequence.id)
            .outerjoin(Camera, Camera.id == Sequence.camera_id)
            .where(
                stage_is(ProcessingStage.READY_TO_ANNOTATE),
                SequenceReview.is_unsure.is_(False),
            )
        )
        return apply_filters(query, filters)

    def queue(self, filters: SequenceFilters, *, now: datetime, mine: bool = True) -> AnySelect:
        """The caller's queue: not skipped by them, not held by anyone else (nor by them,
        unless `mine`)."""
        held = sa.exists().where(
            ReviewClaim.sequence_id == Sequence.id, ReviewClaim.expires_at > now
        )
        if mine:
            held = held.where(ReviewClaim.user_id != self.user_id)
        skipped = sa.exists().where(
            ReviewSkip.sequence_id == Sequence.id, ReviewSkip.user_id == self.user_id
        )
        return self.waiting(filters).where(~held, ~skipped)

    def remaining(
        self, filters: SequenceFilters, *, now: datetime, up_to: int | None = None
    ) -> int:
        """Sequences of the caller's queue that nobody holds (what further claims can get),
        counted up to `up_to` when given (a claim's answer: no scan of a large queue)."""
        query = self.queue(filters, now=now, mine=False).with_only_columns(Sequence.id)
        if up_to is not None:
            query = query.limit(up_to)
        return self.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0

    def candidates(
        self,
        filters: SequenceFilters,
        *,
        now: datetime,
        limit: int,
        order: QueueOrder | None = None,
    ) -> list[uuid.UUID]:
        """The first sequences of the queue (in `order`) that nobody holds, for a claim to
        try in turn.

        No row is locked: `take` decides. Two reviewers who read the same candidates both try
        the first; the second waits for the first's transaction, finds the claim taken and
        goes on with the next (locking review rows here could deadlock with a save).
        """
        base = self.queue(filters, now=now, mine=False)
        return [row[0] for row in self.ordered(base, filters, order or QueueOrder(), limit)]

    def ordered(
        self,
        base: AnySelect,
        filters: SequenceFilters,
        order: QueueOrder,
        limit: int,
        offset: int = 0,
        *columns: Any,
    ) -> list[Any]:
        """Rows (sequence id, score, *columns) of a select of queue sequences, in `order`.

        A value order reads the stored scores through their index, scored sequences first;
        the ones without a score follow, oldest first.
        """
        dialect = self.session.get_bind().dialect.name
        if order.kind is None:
            query = base.with_only_columns(
                Sequence.id, scores.score_column(order, dialect), *columns
            ).order_by(*_queue_order_by(order.order))
            return list(self.session.execute(query.limit(limit).offset(offset)))
        scored = (
            scores.join_scores(base, order, filters.project_id)
            .with_only_columns(Sequence.id, scores.score_column(order, dialect), *columns)
            .order_by(*scores.order_terms(order, dialect))
        )
        rows = list(self.session.execute(scored.limit(limit).offset(offset)))
        if len(rows) == limit:
            return rows
        # Past the scored ones: how many scored rows the offset skipped decides where to start.
        skipped = offset if rows else self._count(scores.join_scores(base, order, None))
        rest = (
            scores.unscored(base, order)
            .with_only_columns(Sequence.id, sa.null(), *columns)
            .order_by(*_queue_order_by("oldest"))
            .limit(limit - len(rows))
            .offset(max(0, offset - skipped) if not rows else 0)
        )
        return rows + list(self.session.execute(rest))

    def _count(self, query: AnySelect) -> int:
        counted = query.with_only_columns(Sequence.id).subquery()
        return self.session.scalar(sa.select(sa.func.count()).select_from(counted)) or 0

    # --- claims -------------------------------------------------------------------------

    def holds_any(self) -> bool:
        """Whether the caller has a claim row at all, expired or not (a claim usually finds
        none: the previous save or release dropped it)."""
        return self.session.scalar(_ANY_CLAIM_OF_USER, {"user_id": self.user_id}) is not None

    def held(self, *, now: datetime, sequence_ids: AnySelect | None = None) -> ReviewClaim | None:
        """The caller's unexpired claim (on one of `sequence_ids`, when given), newest first."""
        query = sa.select(ReviewClaim).where(
            ReviewClaim.user_id == self.user_id, ReviewClaim.expires_at > now
        )
        if sequence_ids is not None:
            query = query.where(ReviewClaim.sequence_id.in_(sequence_ids))
        return self.session.scalar(query.order_by(ReviewClaim.claimed_at.desc()).limit(1))

    def claim_on(self, sequence_id: uuid.UUID) -> ReviewClaim | None:
        """Whoever's claim on a sequence, expired or not."""
        return self.session.scalar(
            sa.select(ReviewClaim)
            .where(ReviewClaim.sequence_id == sequence_id)
            .execution_options(populate_existing=True)
        )

    def take(
        self, sequence_id: uuid.UUID, *, now: datetime, expires_at: datetime
    ) -> tuple[datetime, datetime] | None:
        """Claim a sequence for the caller in one statement: inserted, or taken over when the
        claim there expired or is the caller's own. (claimed_at, expires_at) of the claim now
        held, or None when someone else holds it."""
        statement = _take(self.session.get_bind().dialect.name)
        params = {
            "sequence_id": sequence_id,
            "user_id": self.user_id,
            "now": now,
            "expires_at": expires_at,
        }
        row = self.session.execute(statement, params).first()
        return None if row is None else (row[0], row[1])

    def release(self, sequence_id: uuid.UUID | None = None) -> int:
        """Drop the caller's claim on a sequence (every claim of theirs when None)."""
        statement = sa.delete(ReviewClaim).where(ReviewClaim.user_id == self.user_id)
        if sequence_id is not None:
            statement = statement.where(ReviewClaim.sequence_id == sequence_id)
        result = self.session.execute(statement.execution_options(synchronize_session=False))
        return int(getattr(result, "rowcount", 0) or 0)

    def release_readable(self, sequence_id: uuid.UUID) -> bool:
        """Drop the caller's claim on a sequence they may read, in one statement; False when
        nothing was dropped (no claim, or the sequence is not readable: see `sequence_row`)."""
        scope = self.principal.scope
        params = {"user_id": self.user_id, "sequence_id": sequence_id, **scope.params}
        result = self.session.execute(_release_readable(scope.kind), params)
        return bool(getattr(result, "rowcount", 0))

    # --- skips --------------------------------------------------------------------------

    def skip(self, sequence_id: uuid.UUID, *, now: datetime) -> None:
        """Record that the caller set the sequence aside (again: the time moves on)."""
        dialect = self.session.get_bind().dialect.name
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(ReviewSkip).values(
            user_id=self.user_id, sequence_id=sequence_id, skipped_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=[ReviewSkip.user_id, ReviewSkip.sequence_id],
            set_={"skipped_at": statement.excluded.skipped_at},
        )
        self.session.execute(statement)

    def unskip(self, sequence_id: uuid.UUID) -> None:
        self.session.execute(
            sa.delete(ReviewSkip)
            .where(ReviewSkip.user_id == self.user_id, ReviewSkip.sequence_id == sequence_id)
            .execution_options(synchronize_session=False)
        )

    def skipped(self, *, limit: int, offset: int) -> tuple[list[Any], int]:
        """The caller's skipped sequences they may still read, newest skip first:
        rows of (sequence, camera, review, frame count, skipped_at), and their number."""
        base = (
            SequenceRepository(self.session, self.principal)
            .readable()
            .join(ReviewSkip, ReviewSkip.sequence_id == Sequence.id)
            .where(ReviewSkip.user_id == self.user_id)
        )
        total = self.session.scalar(
            sa.select(sa.func.count()).select_from(base.with_only_columns(Sequence.id).subquery())
        )
        query = (
            base.outerjoin(Camera, Camera.id == Sequence.camera_id)
            .outerjoin(SequenceReview, SequenceReview.sequence_id == Sequence.id)
            .add_columns(Camera, SequenceReview, frame_count_column(), ReviewSkip.skipped_at)
            .order_by(ReviewSkip.skipped_at.desc(), Sequence.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(self.session.execute(query)), total or 0

    def sequence_row(self, sequence_id: uuid.UUID) -> Any:
        """(sequence, camera, review, frame count) of one readable sequence, or None."""
        query = (
            SequenceRepository(self.session, self.principal)
            .readable()
            .outerjoin(Camera, Camera.id == Sequence.camera_id)
            .outerjoin(SequenceReview, SequenceReview.sequence_id == Sequence.id)
            .add_columns(Camera, SequenceReview, frame_count_column())
            .where(Sequence.id == sequence_id)
        )
        return self.session.execute(query).first()

    def rows(self, sequence_ids: list[uuid.UUID]) -> list[Any]:
        """(sequence, camera, review, frame count) of readable sequences, in no order."""
        if not sequence_ids:
            return []
        query = (
            SequenceRepository(self.session, self.principal)
            .readable()
            .outerjoin(Camera, Camera.id == Sequence.camera_id)
            .outerjoin(SequenceReview, SequenceReview.sequence_id == Sequence.id)
            .add_columns(Camera, SequenceReview, frame_count_column())
            .where(Sequence.id.in_(sequence_ids))
        )
        return list(self.session.execute(query))


_ANY_CLAIM_OF_USER = (
    sa.select(sa.literal(1)).where(ReviewClaim.user_id == sa.bindparam("user_id")).limit(1)
)


@functools.cache
def _release_readable(kind: str) -> sa.Delete:
    """DELETE of the caller's claim on one sequence, only when the caller may read it (not in
    the trash), built once per kind of access: a release is one statement."""
    readable = sequence_by_id(kind).with_only_columns(sa.literal(1))
    return (
        sa.delete(ReviewClaim)
        .where(
            ReviewClaim.user_id == sa.bindparam("user_id"),
            ReviewClaim.sequence_id == sa.bindparam("sequence_id"),
            readable.exists(),
        )
        .execution_options(synchronize_session=False)
    )


@functools.cache
def _take(dialect: str) -> Any:
    """The claim's insert-or-take-over (see `ReviewQueueRepository.take`), built once per
    database: parameters sequence_id, user_id, now and expires_at."""
    table = ReviewClaim.__table__.c
    now = sa.bindparam("now", type_=table.claimed_at.type)
    user_id = sa.bindparam("user_id", type_=table.user_id.type)
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ReviewClaim).values(
        sequence_id=sa.bindparam("sequence_id", type_=table.sequence_id.type),
        user_id=user_id,
        claimed_at=now,
        expires_at=sa.bindparam("expires_at", type_=table.expires_at.type),
    )
    excluded = statement.excluded
    own = ReviewClaim.user_id == user_id
    return statement.on_conflict_do_update(
        index_elements=[ReviewClaim.sequence_id],
        set_={
            "user_id": excluded.user_id,
            # A renewal keeps when the claim began (time spent is counted from there).
            "claimed_at": sa.case(
                (sa.and_(own, ReviewClaim.expires_at > now), ReviewClaim.claimed_at),
                else_=excluded.claimed_at,
            ),
            "expires_at": excluded.expires_at,
        },
        where=sa.or_(own, ReviewClaim.expires_at <= now),
    ).returning(ReviewClaim.claimed_at, ReviewClaim.expires_at)


def _queue_order_by(order: str) -> tuple[Any, ...]:
    """ORDER BY terms of a queue in a sequence order (`order_by`), on the review's copy of
    the sequence's start: oldest or newest first, the queue's partial index
    (ix_sequence_reviews_waiting) gives the waiting reviews in that order, so a claim reads
    the first of them however long the project's history (without it, PostgreSQL walked a
    project's 99,000 reviewed sequences in time order, or joined them all, to find the
    1,000 waiting)."""
    return order_by(
        order,
        oldest_first=True,
        started_at=SequenceReview.sequence_started_at,
        sequence_id=SequenceReview.sequence_id,
    )
