"""No object without its row, even when storage fails mid-write.

An upload that fails may still have landed (the connection dropped after the object was
written), and a delete fails when storage is down. Either way the key is noted in the
database, and `sweep_if_due` deletes what is noted once storage answers again: after the
next successful upload (and after the first one of a process, for keys noted before it
started), at most once a minute while deletes keep failing.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Collection

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.storage.base import ObjectStorage
from lookout.storage.models import LeftoverObject

log = logging.getLogger(__name__)

SWEEP_BATCH = 500
RETRY_AFTER_S = 60.0


class _SweepState:
    """Whether leftovers may wait in a storage; one sweep at a time."""

    def __init__(self) -> None:
        self.due = True  # another process may have noted some before this one started
        self.not_before = 0.0
        self.lock = threading.Lock()


_states: weakref.WeakKeyDictionary[ObjectStorage, _SweepState] = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def _state_of(storage: ObjectStorage) -> _SweepState:
    with _states_lock:
        return _states.setdefault(storage, _SweepState())


def note_leftover(session: Session, storage: ObjectStorage, key: str, reason: str) -> None:
    """Remember `key` for the next sweep (in a transaction of its own)."""
    try:
        session.rollback()
        session.merge(LeftoverObject(object_key=key, reason=reason[:200]))
        session.commit()
    except Exception:  # the database is down too: the log is all that is left
        session.rollback()
        log.exception("could not note leftover object %s (%s)", key, reason)
        return
    _state_of(storage).due = True


def is_noted(key: str) -> sa.Exists:
    """Whether `key` is on the sweep's list: a clause, to read along with other facts."""
    return sa.exists().where(LeftoverObject.object_key == key)


def noted_among(keys: list[str]) -> sa.Select[str]:
    """Those of `keys` on the sweep's list: a query, to read along with other facts."""
    return sa.select(LeftoverObject.object_key).where(LeftoverObject.object_key.in_(keys))


def unnote(session: Session, key: str) -> None:
    """Take `key` off the sweep's list before reusing it (the caller read `is_noted`).

    Content-addressed keys come back: a key noted after a failed upload may be stored again
    by a later one, which then must not be swept away. A sweep that read the key just before
    may still delete it, so the caller checks the object after its write.
    """
    session.execute(sa.delete(LeftoverObject).where(LeftoverObject.object_key == key))
    session.commit()


def discard(session: Session, storage: ObjectStorage, key: str) -> None:
    """Delete an object whose row is gone; noted for a later sweep if storage fails."""
    try:
        storage.delete(key)
    except Exception as exc:
        log.warning("could not delete object %s, noted for later: %s", key, exc)
        note_leftover(session, storage, key, "delete failed")


def sweep_if_due(
    session: Session, storage: ObjectStorage, in_use: Callable[[Session, list[str]], set[str]]
) -> int:
    """Delete noted leftovers if any may exist; `in_use` names keys rows hold again."""
    state = _state_of(storage)
    if not state.due or time.monotonic() < state.not_before:
        return 0
    if not state.lock.acquire(blocking=False):
        return 0  # another thread is sweeping
    try:
        state.due = False
        deleted, finished = _sweep(session, storage, in_use)
    except Exception:
        session.rollback()
        log.exception("sweeping leftover objects failed")
        finished, deleted = False, 0
    finally:
        state.lock.release()
    if not finished:
        state.due = True
        state.not_before = time.monotonic() + RETRY_AFTER_S
    return deleted


def _sweep(
    session: Session, storage: ObjectStorage, in_use: Callable[[Session, list[str]], set[str]]
) -> tuple[int, bool]:
    """Delete batch after batch; (objects deleted, whether every noted key was handled)."""
    deleted = 0
    while keys := list(session.scalars(sa.select(LeftoverObject.object_key).limit(SWEEP_BATCH))):
        kept = in_use(session, keys)
        done = [key for key in keys if key in kept or _deleted(storage, key)]
        _forget(session, done)
        deleted += len(done) - len(kept)
        if len(done) < len(keys):
            return deleted, False
    if deleted:
        log.info("deleted %d leftover objects", deleted)
    return deleted, True


def _deleted(storage: ObjectStorage, key: str) -> bool:
    try:
        storage.delete(key)
    except Exception as exc:
        log.warning("leftover object %s stays for now: %s", key, exc)
        return False
    return True


def _forget(session: Session, keys: Collection[str]) -> None:
    if keys:
        session.execute(sa.delete(LeftoverObject).where(LeftoverObject.object_key.in_(keys)))
    session.commit()
