"""Reviews changed since a cursor: the feed a training pipeline pulls each night.

Paged by (review `updated_at`, review id), oldest change first. A page only reaches up to a
few seconds before now (`settle_seconds`, LOOKOUT_CHANGES_SETTLE_SECONDS): a save that
started earlier but commits later still lands after the cursor, so polling with the last
`next_cursor` misses nothing.
"""

from __future__ import annotations

import base64
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from lookout.accounts.models import User
from lookout.auth.principal import Principal
from lookout.db import utcnow
from lookout.errors import InvalidInput
from lookout.images.models import Image
from lookout.sequences.models import Camera, Sequence, SequenceReview
from lookout.sequences.repository import SequenceRepository
from lookout.sequences.service import SequenceRow, frame_count_column, stage_is


@dataclass(frozen=True)
class Cursor:
    updated_at: datetime
    review_id: uuid.UUID

    def encode(self) -> str:
        raw = f"{self.updated_at.isoformat()}|{self.review_id}"
        return base64.urlsafe_b64encode(raw.encode()).decode()


START = uuid.UUID(int=0)


def parse_since(value: str | None) -> Cursor | None:
    """A `next_cursor` from an earlier page, or a date and time (aware) to start from."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is not None:
        if when.tzinfo is None:
            raise InvalidInput("since: give a time zone (e.g. Z) or a next_cursor", field="since")
        return Cursor(when, START)
    try:
        stamp, review_id = base64.urlsafe_b64decode(value.encode()).decode().split("|")
        return Cursor(datetime.fromisoformat(stamp), uuid.UUID(review_id))
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(
            "since: not a next_cursor of this feed nor an ISO date and time", field="since"
        ) from None


@dataclass(frozen=True)
class ChangesPage:
    rows: list[SequenceRow]
    frames: dict[uuid.UUID, list[Image]]
    next_cursor: str | None
    settled_before: datetime


def changed_reviews(
    session: Session,
    *,
    principal: Principal,
    since: Cursor | None,
    limit: int,
    settle_seconds: float,
    project_id: uuid.UUID | None = None,
    processing_stage: str | None = None,
) -> ChangesPage:
    """Reviews of the caller's sequences changed after `since`, oldest change first."""
    settled = utcnow() - timedelta(seconds=settle_seconds)
    reviewer = aliased(User)
    query = (
        SequenceRepository(session, principal)
        .readable()
        .join(SequenceReview, SequenceReview.sequence_id == Sequence.id)
        .outerjoin(Camera, Camera.id == Sequence.camera_id)
        .outerjoin(reviewer, reviewer.id == SequenceReview.reviewed_by_id)
        .add_columns(Camera, SequenceReview, frame_count_column(), reviewer.email)
        .where(SequenceReview.updated_at < settled)
        .order_by(SequenceReview.updated_at, SequenceReview.id)
        .limit(limit)
    )
    if since is not None:
        after = sa.tuple_(SequenceReview.updated_at, SequenceReview.id) > sa.tuple_(
            sa.literal(since.updated_at, SequenceReview.updated_at.type),
            sa.literal(since.review_id, SequenceReview.id.type),
        )
        query = query.where(after)
    if project_id is not None:
        query = query.where(Sequence.project_id == project_id)
    if processing_stage is not None:
        query = query.where(stage_is(processing_stage))
    rows = [SequenceRow(*values) for values in session.execute(query)]
    last = rows[-1].review if rows else None
    cursor = Cursor(last.updated_at, last.id) if last is not None else since
    return ChangesPage(
        rows=rows,
        frames=_frames(session, [row.sequence.id for row in rows]),
        next_cursor=cursor.encode() if cursor is not None else None,
        settled_before=settled,
    )


def _frames(session: Session, sequence_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Image]]:
    """The frames of a page's sequences in one query, in time order."""
    found: dict[uuid.UUID, list[Image]] = defaultdict(list)
    if not sequence_ids:
        return found
    query = (
        sa.select(Image)
        .where(Image.sequence_id.in_(sequence_ids), Image.deleted_at.is_(None))
        .order_by(Image.captured_at.asc().nulls_last(), Image.created_at, Image.id)
    )
    for image in session.scalars(query):
        assert image.sequence_id is not None
        found[image.sequence_id].append(image)
    return found
