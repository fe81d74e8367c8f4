"""Which objects in storage the database's rows hold: originals, thumbnails and artifacts.

Shared by the domains that delete rows (images, projects) and by the sweep of leftover
objects, so none of them needs another's service to know what to remove or keep.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.analyses.models import Analysis, Artifact, upload_key
from lookout.images.models import Image
from lookout.storage import ObjectStorage, cleanup

log = logging.getLogger(__name__)


def stored_keys(session: Session, condition: sa.ColumnElement[bool]) -> list[str]:
    """Every object kept for the images matching `condition`: originals, thumbnails, artifacts."""
    keys: list[str] = []
    for original, thumbnail in session.execute(
        sa.select(Image.object_key, Image.thumbnail_key).where(condition)
    ):
        keys += [key for key in (original, thumbnail) if key]
    artifacts = (
        sa.select(Artifact.object_key)
        .join(Analysis, Analysis.id == Artifact.analysis_id)
        .join(Image, Image.id == Analysis.image_id)
        .where(condition)
    )
    # An artifact's upload too (one not confirmed yet, or sent again after confirmation).
    return keys + [k for key in session.scalars(artifacts) for k in (key, upload_key(key))]


def keys_in_use(session: Session, keys: list[str]) -> set[str]:
    """Those of `keys` a row holds (a thumbnail key comes back when it is made again)."""
    held: sa.CompoundSelect[str] = sa.union_all(
        sa.select(Image.object_key.label("key")).where(Image.object_key.in_(keys)),
        sa.select(Image.thumbnail_key).where(Image.thumbnail_key.in_(keys)),
        sa.select(Artifact.object_key).where(Artifact.object_key.in_(keys)),
    )
    return set(session.scalars(held))


def release(session: Session, storage: ObjectStorage, keys: list[str]) -> None:
    """Delete the objects of `keys` no row holds any more (after their rows are gone).

    Image objects are shared by the rows of one picture, so a deleted row's object stays
    while another row holds it.
    """
    try:
        held = keys_in_use(session, keys) if keys else set()
        session.commit()  # end the read before storage answers
    except Exception:  # the database is down: keeping an object beats losing a shared one
        session.rollback()
        log.exception("could not tell whether %d objects are still held; kept them", len(keys))
        return
    for key in keys:
        if key not in held:
            cleanup.discard(session, storage, key)
