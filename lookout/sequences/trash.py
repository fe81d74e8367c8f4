"""The trash of sequences: delete (with a reason), restore within the retention period, purge.

A sequence in the trash keeps its row, its frames, its review and the frames' objects; every
read leaves it out (lookout.sequences.repository), and its frames with it
(lookout.images.repository.live_image), unless the caller asks for the trash. A purge removes
the sequence's rows (frames, analyses, review by cascade) and then the objects no other row
holds, as an image's purge does. Each step is logged in the images' log
(image_deletion_events, with `sequence_id`), which outlives the sequence.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout import stored_objects
from lookout.accounts.models import User
from lookout.auth.principal import Principal
from lookout.errors import Conflict, NotFound
from lookout.images.models import Image, ImageDeletionEvent
from lookout.images.trash import (
    PURGE,
    RESTORE,
    SOFT_DELETE,
    check_may_purge,
    expired_ids,
    log_event,
    optional_reason,
    put_in_trash,
    take_out_of_trash,
)
from lookout.projects.repository import ProjectRepository
from lookout.sequences.models import Camera, Sequence
from lookout.sequences.repository import SequenceRepository
from lookout.storage import ObjectStorage

# What must happen in the same transaction before a sequence's rows go (its tracks leave
# their groups of recurring objects: lookout.grouping), handed in by the app or the command.
BeforePurge = Callable[[Session, uuid.UUID], object]


def _log(
    session: Session, sequence: Sequence, action: str, actor: Principal | None, reason: str | None
) -> None:
    log_event(
        session,
        project_id=sequence.project_id,
        sequence_id=sequence.id,
        action=action,
        actor=actor,
        reason=reason,
    )


def purge(
    session: Session,
    storage: ObjectStorage,
    sequence: Sequence,
    *,
    actor: Principal | None,
    reason: str | None = None,
    before_purge: BeforePurge | None = None,
) -> None:
    """Remove the rows first (the sequence, cascading to its frames, their analyses and its
    review), then the objects no other row holds; logged."""
    sequence_id = sequence.id
    keys = stored_objects.stored_keys(session, Image.sequence_id == sequence_id)
    _log(session, sequence, PURGE, actor, reason)
    if before_purge is not None:
        before_purge(session, sequence_id)
    session.flush()
    session.expunge(sequence)
    session.execute(
        sa.delete(Sequence)
        .where(Sequence.id == sequence_id)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    stored_objects.release(session, storage, keys)


def delete(
    session: Session,
    storage: ObjectStorage,
    *,
    principal: Principal,
    sequence_id: uuid.UUID,
    reason: Any = None,
    force: bool = False,
    before_purge: BeforePurge | None = None,
) -> Sequence | None:
    """Put the sequence in the trash (the sequence, now deleted), or with `force` (admins
    only) purge it at once (None)."""
    reason = optional_reason(reason)
    sequence = SequenceRepository(session, principal).get(sequence_id, include_deleted=True)
    if force:
        check_may_purge(principal, "a sequence")
        purge(session, storage, sequence, actor=principal, reason=reason, before_purge=before_purge)
        return None
    put_in_trash(sequence, "sequence", principal, reason)
    _log(session, sequence, SOFT_DELETE, principal, reason)
    session.commit()
    return sequence


def restore(
    session: Session,
    *,
    principal: Principal,
    sequence_id: uuid.UUID,
    retention_days: int,
    now: datetime | None = None,
) -> Sequence:
    """Take the sequence (and its frames) out of the trash: 409 once purged or when it is not
    in the trash, 410 once the retention period has passed."""
    try:
        sequence = SequenceRepository(session, principal).get(sequence_id, include_deleted=True)
    except NotFound:
        if _purged_here(session, principal, sequence_id):
            raise Conflict(f"sequence {sequence_id} was purged: it cannot be restored") from None
        raise
    take_out_of_trash(sequence, "sequence", retention_days=retention_days, now=now)
    _log(session, sequence, RESTORE, principal, None)
    session.commit()
    return sequence


def _purged_here(session: Session, principal: Principal, sequence_id: uuid.UUID) -> bool:
    """A purge of this sequence is in the log of a project the caller may read (another
    group's purges stay as unknown as its sequences: 404)."""
    project_id = session.scalar(
        sa.select(ImageDeletionEvent.project_id).where(
            ImageDeletionEvent.sequence_id == sequence_id, ImageDeletionEvent.action == PURGE
        )
    )
    if project_id is None:
        return False
    try:
        ProjectRepository(session, principal).get(project_id)
    except NotFound:
        return False
    return True


@dataclass(frozen=True)
class TrashedSequence:
    sequence: Sequence
    camera_name: str | None
    frame_count: int
    deleted_by: str | None  # email


def trashed(
    session: Session, *, principal: Principal, project_id: uuid.UUID, limit: int = 500
) -> list[TrashedSequence]:
    """The project's sequences in the trash, most recently deleted first, with their camera,
    frame count and who deleted them (NotFound for a project the caller cannot see)."""
    ProjectRepository(session, principal).get(project_id)
    frames = (
        sa.select(sa.func.count(Image.id))
        .where(Image.sequence_id == Sequence.id)
        .correlate(Sequence)
        .scalar_subquery()
    )
    query = (
        SequenceRepository(session, principal)
        .readable("only")
        .add_columns(Camera.name, frames, User.email)
        .outerjoin(Camera, Camera.id == Sequence.camera_id)
        .outerjoin(User, User.id == Sequence.deleted_by_id)
        .where(Sequence.project_id == project_id)
        .order_by(Sequence.deleted_at.desc(), Sequence.id.desc())
        .limit(limit)
    )
    return [TrashedSequence(*row) for row in session.execute(query)]


def expired(
    session: Session, *, older_than_days: int, now: datetime | None = None
) -> list[uuid.UUID]:
    """Ids of the sequences in the trash for longer than `older_than_days`, oldest first."""
    return expired_ids(session, Sequence, older_than_days=older_than_days, now=now)


def purge_sequences(
    session: Session,
    storage: ObjectStorage,
    sequence_ids: list[uuid.UUID],
    *,
    before_purge: BeforePurge | None = None,
    on_purged: Callable[[uuid.UUID], None] | None = None,
) -> int:
    """Purge these sequences if they are still in the trash (a command: no caller, any
    project); one transaction per sequence, so an interruption loses nothing done."""
    count = 0
    for sequence_id in sequence_ids:
        sequence = session.get(Sequence, sequence_id)
        if sequence is not None and sequence.deleted_at is not None:
            purge(
                session,
                storage,
                sequence,
                actor=None,
                reason="retention period passed",
                before_purge=before_purge,
            )
            count += 1
        if on_purged is not None:
            on_purged(sequence_id)
    return count
