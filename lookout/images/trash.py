"""The trash of images: delete with a reason, restore within the retention period, purge.

An image in the trash keeps its row and its objects; every read leaves it out
(lookout.images.repository) unless the caller asks for the trash. A purge removes the rows
and objects as an immediate delete does (`purge`, shared with `DELETE /api/images/{id}`).
Each step is logged in image_deletion_events, which outlives the image.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout import stored_objects
from lookout.accounts.models import User
from lookout.auth.principal import Principal
from lookout.db import utcnow
from lookout.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from lookout.images.models import Image, ImageDeletionEvent
from lookout.images.repository import ImageRepository
from lookout.projects.repository import ProjectRepository
from lookout.storage import ObjectStorage

SOFT_DELETE, RESTORE, PURGE = "soft_delete", "restore", "purge"
REASON_MIN, REASON_MAX = 3, 1000


def check_reason(reason: Any) -> str:
    """A deletion's reason: text of 3 to 1000 characters (spaces around do not count)."""
    if not isinstance(reason, str):
        raise InvalidInput("reason: required, as text", field="reason")
    reason = reason.strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise InvalidInput(f"reason: {REASON_MIN} to {REASON_MAX} characters", field="reason")
    if "\x00" in reason:
        raise InvalidInput("reason: must not hold control characters", field="reason")
    return reason


def delete_request(data: dict[str, Any]) -> tuple[Any, bool]:
    """The `reason` (unchecked) and `force` of a delete's JSON body; other fields refused."""
    unknown = sorted(set(data) - {"reason", "force"})
    if unknown:
        raise InvalidInput(f"{unknown[0]}: unknown field (send reason and force)", field=unknown[0])
    force = data.get("force", False)
    if not isinstance(force, bool):
        raise InvalidInput("force: true or false", field="force")
    return data.get("reason"), force


def optional_reason(reason: Any) -> str | None:
    """A reason that may be left out; when given it is checked as `check_reason` does."""
    return None if reason is None else check_reason(reason)


def actor_id(principal: Principal | None) -> uuid.UUID | None:
    """Who to name in the log and on the row (nobody for a command or local mode)."""
    if principal is None or principal.via == "local":
        return None
    return principal.user_id


class Trashable(Protocol):
    """A row that goes to the trash (an image or a sequence)."""

    id: Any
    deleted_at: Any
    deleted_by_id: Any
    delete_reason: Any


def check_may_purge(principal: Principal, what: str) -> None:
    """Only an admin purges at once (`force`), skipping the trash."""
    if not principal.is_admin:
        raise Forbidden(f"force: only an admin may purge {what} at once", field="force")


def put_in_trash(row: Trashable, what: str, principal: Principal, reason: str | None) -> None:
    """Mark the row as in the trash (409 when it already is); the caller logs and commits."""
    if row.deleted_at is not None:
        raise Conflict(f"{what} {row.id} is already in the trash")
    row.deleted_at = utcnow()
    row.deleted_by_id = actor_id(principal)
    row.delete_reason = reason


def take_out_of_trash(
    row: Trashable, what: str, *, retention_days: int, now: datetime | None = None
) -> None:
    """Mark the row as out of the trash: 409 when it is not in it, 410 once the retention
    period has passed; the caller logs and commits."""
    if row.deleted_at is None:
        raise Conflict(f"{what} {row.id} is not in the trash")
    if row.deleted_at + timedelta(days=retention_days) < (now or utcnow()):
        raise Gone(f"{what} {row.id} stayed in the trash past {retention_days} days")
    row.deleted_at = None
    row.deleted_by_id = None
    row.delete_reason = None


def expired_ids(
    session: Session, model: Any, *, older_than_days: int, now: datetime | None = None
) -> list[uuid.UUID]:
    """Ids of the `model` rows (images or sequences) in the trash for longer than
    `older_than_days`, oldest first."""
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    query = (
        sa.select(model.id)
        .where(model.deleted_at.is_not(None), model.deleted_at < cutoff)
        .order_by(model.deleted_at, model.id)
    )
    return list(session.scalars(query))


def log_event(
    session: Session,
    *,
    project_id: uuid.UUID,
    action: str,
    actor: Principal | None,
    reason: str | None,
    image_id: uuid.UUID | None = None,
    sequence_id: uuid.UUID | None = None,
) -> None:
    """One line of the trash's log, for an image or a sequence (lookout.sequences.trash)."""
    session.add(
        ImageDeletionEvent(
            project_id=project_id,
            image_id=image_id,
            sequence_id=sequence_id,
            actor_id=actor_id(actor),
            action=action,
            reason=reason,
            created_at=utcnow(),
        )
    )


def _log(
    session: Session, image: Image, action: str, actor: Principal | None, reason: str | None
) -> None:
    log_event(
        session,
        project_id=image.project_id,
        image_id=image.id,
        action=action,
        actor=actor,
        reason=reason,
    )


def _project_image(
    session: Session, principal: Principal, project_id: uuid.UUID, image_id: uuid.UUID
) -> Image | None:
    """The project's image, in the trash or not; NotFound for a project the caller cannot see."""
    ProjectRepository(session, principal).get(project_id)
    image = session.scalar(
        ImageRepository(session, principal)
        .readable("all")
        .where(Image.id == image_id, Image.project_id == project_id)
    )
    return image


def purge(
    session: Session,
    storage: ObjectStorage,
    image: Image,
    *,
    actor: Principal | None,
    reason: str | None = None,
) -> None:
    """Remove the row first (the truth, cascading to analyses), then its objects; logged."""
    keys = stored_objects.stored_keys(session, Image.id == image.id)
    _log(session, image, PURGE, actor, reason)
    session.delete(image)
    session.commit()
    stored_objects.release(session, storage, keys)


def delete(
    session: Session,
    storage: ObjectStorage,
    *,
    principal: Principal,
    project_id: uuid.UUID | None,
    image_id: uuid.UUID,
    reason: str | None,
    force: bool = False,
) -> Image | None:
    """Put the image in the trash (the image, now deleted), or with `force` (admins only)
    purge it at once (None). `reason` is checked by the caller (`check_reason` where one is
    required, as VISTA's delete does); `project_id` None: the image of any readable project."""
    image = (
        _project_image(session, principal, project_id, image_id)
        if project_id is not None
        else session.scalar(
            ImageRepository(session, principal).readable("all").where(Image.id == image_id)
        )
    )
    if image is None:
        raise NotFound(f"image {image_id} not found")
    if force:
        check_may_purge(principal, "an image")
        purge(session, storage, image, actor=principal, reason=reason)
        return None
    put_in_trash(image, "image", principal, reason)
    _log(session, image, SOFT_DELETE, principal, reason)
    session.commit()
    return image


def restore(
    session: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    image_id: uuid.UUID,
    retention_days: int,
    now: datetime | None = None,
) -> Image:
    """Take the image out of the trash: 409 once purged, 410 once the retention has passed."""
    image = _project_image(session, principal, project_id, image_id)
    if image is None:
        purged = session.scalar(
            sa.select(ImageDeletionEvent.id).where(
                ImageDeletionEvent.project_id == project_id,
                ImageDeletionEvent.image_id == image_id,
                ImageDeletionEvent.action == PURGE,
            )
        )
        if purged is not None:
            raise Conflict(f"image {image_id} was purged: it cannot be restored")
        raise NotFound(f"image {image_id} not found")
    take_out_of_trash(image, "image", retention_days=retention_days, now=now)
    _log(session, image, RESTORE, principal, None)
    session.commit()
    return image


@dataclass(frozen=True)
class EventRow:
    event: ImageDeletionEvent
    actor_email: str | None


EventKind = Literal["image", "sequence"]


def events(
    session: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    image_id: uuid.UUID | None = None,
    sequence_id: uuid.UUID | None = None,
    kind: EventKind | None = None,
    skip: int = 0,
    limit: int = 100,
) -> tuple[list[EventRow], int]:
    """A project's deletion events (of images, of sequences or of both), newest first, and
    how many there are in all."""
    ProjectRepository(session, principal).get(project_id)
    conditions = [ImageDeletionEvent.project_id == project_id]
    if kind == "image":
        conditions.append(ImageDeletionEvent.image_id.is_not(None))
    elif kind == "sequence":
        conditions.append(ImageDeletionEvent.sequence_id.is_not(None))
    if image_id is not None:
        conditions.append(ImageDeletionEvent.image_id == image_id)
    if sequence_id is not None:
        conditions.append(ImageDeletionEvent.sequence_id == sequence_id)
    total = session.scalar(sa.select(sa.func.count(ImageDeletionEvent.id)).where(*conditions))
    query = (
        sa.select(ImageDeletionEvent, User.email)
        .outerjoin(User, User.id == ImageDeletionEvent.actor_id)
        .where(*conditions)
        .order_by(ImageDeletionEvent.created_at.desc(), ImageDeletionEvent.id.desc())
        .offset(skip)
        .limit(limit)
    )
    rows = [EventRow(event, email) for event, email in session.execute(query)]
    return rows, total or 0


def expired(
    session: Session, *, older_than_days: int, now: datetime | None = None
) -> list[uuid.UUID]:
    """Ids of the images in the trash for longer than `older_than_days`, oldest first."""
    return expired_ids(session, Image, older_than_days=older_than_days, now=now)


def purge_images(
    session: Session,
    storage: ObjectStorage,
    image_ids: list[uuid.UUID],
    *,
    on_purged: Callable[[uuid.UUID], None] | None = None,
) -> int:
    """Purge these images if they are still in the trash (a command: no caller, any
    project); one transaction per image, so an interruption loses nothing done."""
    count = 0
    for image_id in image_ids:
        image = session.get(Image, image_id)
        if image is not None and image.deleted_at is not None:
            purge(session, storage, image, actor=None, reason="retention period passed")
            count += 1
        if on_purged is not None:
            on_purged(image_id)
    return count


def days_left(deleted_at: datetime, retention_days: int, now: datetime | None = None) -> int:
    """Whole days before a purge may take what went to the trash at `deleted_at` (0: any
    time now)."""
    remaining = deleted_at + timedelta(days=retention_days) - (now or utcnow())
    if remaining.total_seconds() <= 0:
        return 0
    return remaining.days + (1 if remaining.seconds or remaining.microseconds else 0)


def trashed(
    session: Session, *, principal: Principal, project_id: uuid.UUID, limit: int = 500
) -> list[tuple[Image, str | None]]:
    """The project's images in the trash, most recently deleted first, with the email of
    who deleted each (NotFound for a project the caller cannot see)."""
    ProjectRepository(session, principal).get(project_id)
    query = (
        ImageRepository(session, principal)
        .readable("only")
        .add_columns(User.email)
        .outerjoin(User, User.id == Image.deleted_by_id)
        .where(Image.project_id == project_id)
        .order_by(Image.deleted_at.desc(), Image.id.desc())
        .limit(limit)
    )
    return [(image, email) for image, email in session.execute(query)]
