"""A frame's integer id in dataset exports (the COCO image id), stored once per image.

COCO numbers images with integers, and tools score a predictions file against a truth file by
those numbers, so a frame must keep one number in every export. The number is derived from the
image's content: the first 52 bits of its sha256 (below 2**53, so JavaScript and JSON readers
keep it exact). The same picture therefore gets the same number in every project that holds it.
Within a project the number is unique (a database constraint): a second image with the same
bytes, or the rare 52-bit collision, takes the next candidate (a hash of the sha256 and a
counter). Numbers are stored the first time an export needs them and never change, so later
images cannot shift earlier ones.
"""

from __future__ import annotations

import hashlib
import logging
import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lookout.images.models import Image

log = logging.getLogger(__name__)

ID_BITS = 52
_PAGE = 1000
_IN_CHUNK = 900  # bound parameters per IN (SQLite allows 999 in old builds)
_ATTEMPTS = 3


def candidate(sha256: str, attempt: int) -> int:
    """The `attempt`-th candidate number of an image with this content (never 0)."""
    text = sha256.lower()
    if attempt or len(text) != 64 or text.strip("0123456789abcdef"):
        # Later candidates, and (defensively) a stored digest that is not 64 hex digits.
        text = hashlib.sha256(f"{sha256}#{attempt}".encode()).hexdigest()
    return int(text[: ID_BITS // 4], 16) or 1


def pick(sha256: str, taken: set[int]) -> int:
    """The first candidate number not yet taken in the project."""
    attempt = 0
    while (number := candidate(sha256, attempt)) in taken:
        attempt += 1
    return number


def assign_image_ids(session: Session, *, project_id: uuid.UUID) -> int:
    """Give every image of the project without a number its number; returns how many.

    Two exports racing over the same new images compute the same numbers; if they still
    collide (different images arriving in between), the loser retries on fresh state.
    """
    for attempt in range(_ATTEMPTS):
        try:
            assigned = _assign(session, project_id)
            session.commit()
            return assigned
        except IntegrityError:
            session.rollback()
            log.info("image ids of project %s assigned concurrently; retrying", project_id)
            if attempt == _ATTEMPTS - 1:
                raise
    return 0


def _assign(session: Session, project_id: uuid.UUID) -> int:
    """Number the project's unnumbered images, oldest first (no commit)."""
    missing = sa.select(Image.id, Image.sha256).where(
        Image.project_id == project_id, Image.coco_id.is_(None)
    )
    if not session.scalar(sa.select(missing.exists())):
        return 0
    stored = sa.select(Image.coco_id).where(
        Image.project_id == project_id, Image.coco_id.is_not(None)
    )
    taken = {int(number) for number in session.scalars(stored) if number is not None}
    update = (
        sa.update(Image)
        .where(Image.id == sa.bindparam("image_id"), Image.coco_id.is_(None))
        .values(coco_id=sa.bindparam("number"))
        .execution_options(synchronize_session=False)
    )
    # Read first, then write: SQLite cannot update rows under an open cursor of the same table.
    pending = list(session.execute(missing.order_by(Image.created_at, Image.id)))
    for start in range(0, len(pending), _PAGE):
        rows = []
        for image_id, sha256 in pending[start : start + _PAGE]:
            number = pick(sha256, taken)
            taken.add(number)
            rows.append({"image_id": image_id, "number": number})
        session.connection().execute(update, rows)
    return len(pending)


def image_ids(session: Session, image_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The stored numbers of these images (those that have one)."""
    numbers: dict[uuid.UUID, int] = {}
    for start in range(0, len(image_ids), _IN_CHUNK):
        chunk = image_ids[start : start + _IN_CHUNK]
        query = sa.select(Image.id, Image.coco_id).where(
            Image.id.in_(chunk), Image.coco_id.is_not(None)
        )
        numbers.update((image_id, int(n)) for image_id, n in session.execute(query) if n)
    return numbers
