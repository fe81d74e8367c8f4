"""Each sequence's split (train, val or test): drawn once, stored, kept.

The first export that takes a sequence draws its split from a seeded SHA-256 of the sequence id
and the export's fractions, and stores it on the sequence; every later export, whatever its
seed or fractions, uses the stored split, so a test set stays a test set as data is added,
exported and imported again. A split changes only on request: `set_split` (one sequence) or an
export asked to re-draw the splits of the sequences it takes.

Small exports: a draw never leaves train empty, with at least two sequences never val, and with
at least three never test (each when its fraction is above 0): if the draw left one empty, the
most recent sequence drawn in this export moves there from the largest split that can spare
one (one holding two or more, or a split that comes later in train, val, test). Sequences whose
split was already stored are never moved for this; when no newly drawn sequence can move, the
export says so loudly (`SplitReport.warnings`).

Images outside any sequence (a model's boxes on loose images) have no stored split: they keep
the seeded draw.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import deque
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.auth.principal import Principal
from lookout.errors import InvalidInput
from lookout.format_names import SPLITS
from lookout.images.models import Image
from lookout.sequences import service as sequences
from lookout.sequences.models import Sequence, SequenceReview
from lookout.truth.reading import TruthScope, _sequence_query
from lookout.truth.selection import Selection

log = logging.getLogger(__name__)

_PAGE = 1000
# How many sequences the export needs before a split must not be empty, in priority order.
MINIMUM_SEQUENCES = {"train": 1, "val": 2, "test": 3}
SPLIT_RULE = (
    "Each sequence's split is drawn once (seeded hash of its id with these fractions), stored, "
    "and kept by every later export; --redraw-splits draws the selected sequences again. "
    "New draws never leave train empty, nor val with 2+ sequences, nor test with 3+ "
    "(when its fraction is above 0)."
)


def check_split(value: str) -> str:
    """train, val or test."""
    if value not in SPLITS:
        raise InvalidInput(
            f"split: {value!r} is not a split; use train, val or test", field="split"
        )
    return value


def draw(group_key: str, seed: int, ratios: tuple[float, float, float]) -> str:
    """train, val or test for a sequence: a seeded hash, so it is stable and needs no memory."""
    digest = hashlib.sha256(f"{seed}:{group_key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    cumulative = 0.0
    for name, ratio in zip(SPLITS, ratios, strict=True):
        cumulative += ratio
        if point < cumulative:
            return name
    return next(name for name, ratio in reversed(list(zip(SPLITS, ratios, strict=True))) if ratio)


@dataclass
class SplitReport:
    """What assigning splits did: sequences drawn now, sequences per split, warnings."""

    drawn: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    moved: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _contributing(scope: TruthScope, selection: Selection) -> sa.Select[uuid.UUID]:
    """Sequences of the scope that can put frames in the export (ids, oldest first).

    A reviewed sequence without smoke has no frame in a truth export without negatives, so it
    does not count towards keeping a split non-empty.
    """
    query = _sequence_query(scope).with_only_columns(Sequence.id)
    query = query.where(sa.exists(sa.select(Image.id).where(Image.sequence_id == Sequence.id)))
    if selection.model is None and not selection.include_negatives:
        query = query.where(SequenceReview.has_smoke.is_(True))
    return query


def assign_splits(
    session: Session,
    *,
    scope: TruthScope,
    selection: Selection,
    seed: int,
    ratios: tuple[float, float, float],
    redraw: bool = False,
) -> SplitReport:
    """Draw and store the splits the export's sequences lack (all of them with `redraw`),
    keep val (and test) non-empty when the rule asks, and commit."""
    report = SplitReport()
    ids = _contributing(scope, selection).subquery()
    recent: dict[str, deque[uuid.UUID]] = {s: deque(maxlen=2) for s in SPLITS}
    pending = sa.select(Sequence.id).where(Sequence.id.in_(sa.select(ids.c.id)))
    if not redraw:
        pending = pending.where(Sequence.split.is_(None))
    for page in _pages(session, pending):
        for sequence_id in page:
            split = draw(str(sequence_id), seed, ratios)
            _store(session, sequence_id, split, only_if_unset=not redraw)
            recent[split].append(sequence_id)
        report.drawn += len(page)
    report.counts = _counts(session, ids)
    _keep_splits_filled(session, report, recent, ratios)
    session.commit()
    for message in report.warnings:
        log.warning("export of project %s: %s", scope.project_id, message)
    return report


def _pages(session: Session, query: sa.Select[uuid.UUID]) -> list[list[uuid.UUID]]:
    """The ids the query selects, oldest first, _PAGE at a time (read before any update)."""
    ids = list(session.scalars(query.order_by(Sequence.started_at, Sequence.id)))
    return [ids[start : start + _PAGE] for start in range(0, len(ids), _PAGE)]


def _store(session: Session, sequence_id: uuid.UUID, split: str, *, only_if_unset: bool) -> None:
    """Store a sequence's split; a split stored meanwhile by another export is kept."""
    update = sa.update(Sequence).where(Sequence.id == sequence_id).values(split=split)
    if only_if_unset:
        update = update.where(Sequence.split.is_(None))
    session.execute(update.execution_options(synchronize_session=False))


def _counts(session: Session, ids: sa.Subquery) -> dict[str, int]:
    """Sequences per stored split among the export's sequences."""
    query = (
        sa.select(Sequence.split, sa.func.count())
        .where(Sequence.id.in_(sa.select(ids.c.id)))
        .group_by(Sequence.split)
    )
    counts = dict.fromkeys(SPLITS, 0)
    for split, count in session.execute(query):
        if split in counts:
            counts[split] = int(count)
    return counts


def _keep_splits_filled(
    session: Session,
    report: SplitReport,
    recent: dict[str, deque[uuid.UUID]],
    ratios: tuple[float, float, float],
) -> None:
    """Move a newly drawn sequence into an empty val (or test) when the rule asks for one."""
    counts = report.counts
    total = sum(counts.values())
    for split, minimum in MINIMUM_SEQUENCES.items():
        if counts[split] or ratios[SPLITS.index(split)] == 0:
            if counts[split] == 0 and split == "val" and total:
                report.warnings.append(
                    "val is empty: the val fraction is 0 (YOLO's data.yaml points val at train)"
                )
            continue
        if total < minimum:
            if split == "val" and total:
                report.warnings.append(
                    f"val is empty: the export holds {total} sequence; at least 2 are needed "
                    "for a validation split (YOLO's data.yaml points val at train)"
                )
            continue
        later = SPLITS[SPLITS.index(split) + 1 :]
        donors = [s for s in SPLITS if recent[s] and (counts[s] > 1 or s in later)]
        donor = max(donors, key=lambda s: counts[s], default=None)
        if donor is None:
            report.warnings.append(
                f"{split} is empty: every sequence of this export already had a stored split; "
                "re-draw them (--redraw-splits) or set one (`lookout set-split`)"
            )
            continue
        sequence_id = recent[donor].pop()
        _store(session, sequence_id, split, only_if_unset=False)
        counts[donor] -= 1
        counts[split] += 1
        report.moved.append((sequence_id, split))


def stored_split(session: Session, sequence_id: uuid.UUID) -> str | None:
    """The split stored on a sequence (None: never drawn)."""
    return session.scalar(sa.select(Sequence.split).where(Sequence.id == sequence_id))


def set_split(
    session: Session, *, principal: Principal, sequence_id: uuid.UUID, split: str
) -> Sequence:
    """Put a sequence in a split on request (later exports keep it there)."""
    check_split(split)
    sequence = sequences.get_sequence(session, principal=principal, sequence_id=sequence_id)
    sequence.split = split
    session.commit()
    return sequence
