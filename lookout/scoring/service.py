"""Queue scores: how much a model and the platform (or two models) disagree on a sequence, and
how near a model's tracks sit to a confidence threshold. Computed when boxes arrive (a frame
with the platform's boxes, an analysis finalized), stored, and read by the review queue.

Disagreement, per frame both sides saw: the model's boxes, most confident first, each take
the other side's unmatched box of highest IoU (at least `MATCH_IOU`); the frame costs every
unmatched box's confidence (1 for a box without one, as the platform's often are) plus the
confidence gap of every matched pair. The sequence's score is that sum over its frames
divided by the number of frames compared. Classes are not compared (a smoke detector's boxes
are one class whatever they are called).

Uncertainty: a model's boxes are linked across frames into tracks (IoU at least
`TRACK_IOU` with the track's last box, one box per frame); a track's confidence is the mean
of its boxes'. The score is the smallest |confidence - threshold| over the tracks.

Functions here flush, never commit: the caller's transaction stores the boxes and their
scores together.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Callable, Collection, Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lookout.analyses.models import Analysis, AnalysisStatus, Prediction
from lookout.db import utcnow
from lookout.geometry import Box, iou, sanitize_xyxyn
from lookout.images.models import Image
from lookout.projects.models import Project
from lookout.scoring.models import DEFAULT_THRESHOLD, PLATFORM, QueueScore, ScoreKind
from lookout.sequences.models import Sequence

# The platform's own boxes are an analysis of this model name (any version).
PLATFORM_MODEL_NAME = "platform"
MATCH_IOU = 0.5
TRACK_IOU = 0.3
# IoU is floating point: a pair meant to sit exactly on a threshold may land just below it.
IOU_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ScoredBox:
    box: Box
    confidence: float | None

    @property
    def weight(self) -> float:
        """What the box costs when nothing matches it (1 without a confidence)."""
        return 1.0 if self.confidence is None else float(self.confidence)


def model_key(name: str, version: str) -> str:
    """How scores name a model: `name@version`."""
    return f"{name}@{version}"


# --- the rules (pure) ------------------------------------------------------------------------


def frame_disagreement(model: Seq[ScoredBox], other: Seq[ScoredBox]) -> float:
    """One frame's cost: unmatched boxes' confidences plus matched pairs' confidence gaps."""
    unmatched = list(range(len(other)))
    cost = 0.0
    ranked = sorted(range(len(model)), key=lambda i: (-model[i].weight, model[i].box))
    for i in ranked:
        box = model[i]
        best, best_iou = None, MATCH_IOU - IOU_TOLERANCE
        for j in unmatched:
            overlap = iou(box.box, other[j].box)
            if overlap >= best_iou and (best is None or overlap > best_iou):
                best, best_iou = j, overlap
        if best is None:
            cost += box.weight
        else:
            unmatched.remove(best)
            cost += abs(box.weight - other[best].weight)
    return cost + math.fsum(other[j].weight for j in unmatched)


def disagreement(frames: Iterable[tuple[Seq[ScoredBox], Seq[ScoredBox]]]) -> float:
    """A sequence's disagreement: the frames' costs summed, divided by the frames compared."""
    costs = [frame_disagreement(model, other) for model, other in frames]
    return math.fsum(costs) / len(costs) if costs else 0.0


def track_confidences(frames: Seq[Seq[ScoredBox]]) -> list[float]:
    """Mean confidence of each track of boxes linked across frames (in frame order)."""
    tracks: list[list[ScoredBox]] = []
    for boxes in frames:
        taken: set[int] = set()
        joined: list[tuple[int, ScoredBox]] = []
        for box in sorted(boxes, key=lambda b: (-b.weight, b.box)):
            best, best_iou = None, TRACK_IOU - IOU_TOLERANCE
            for t, track in enumerate(tracks):
                if t in taken:
                    continue
                overlap = iou(box.box, track[-1].box)
                if overlap >= best_iou and (best is None or overlap > best_iou):
                    best, best_iou = t, overlap
            if best is None:
                joined.append((-1, box))
            else:
                taken.add(best)
                joined.append((best, box))
        for t, box in joined:  # after the frame: a box never joins a track of its own frame
            if t < 0:
                tracks.append([box])
            else:
                tracks[t].append(box)
    return [math.fsum(b.weight for b in track) / len(track) for track in tracks]


def uncertainty(confidences: Seq[float], threshold: float) -> float | None:
    """The smallest distance of a track's confidence to `threshold` (None without tracks)."""
    return min((abs(c - threshold) for c in confidences), default=None)


# --- reading a sequence's boxes --------------------------------------------------------------


@dataclass
class _SequenceBoxes:
    """One sequence's frames, in time order, and each model's boxes per frame."""

    project_id: uuid.UUID
    frames: list[uuid.UUID] = field(default_factory=list)
    # model key -> frame -> boxes; a frame is present when the model's analysis of it is.
    models: dict[str, dict[uuid.UUID, list[ScoredBox]]] = field(default_factory=dict)
    platform: dict[uuid.UUID, list[ScoredBox]] = field(default_factory=dict)


# Built once (with the sequences bound at each run): building these cost more than running
# them, on every batch of frames an import stores.
_SEQUENCE_IDS: sa.BindParameter[Any] = sa.bindparam("sequence_ids", expanding=True)
_FRAMES = (
    sa.select(Image.sequence_id, Image.id, Sequence.project_id)
    .join(Sequence, Sequence.id == Image.sequence_id)
    .where(Image.sequence_id.in_(_SEQUENCE_IDS))
    .order_by(Image.sequence_id, Image.captured_at.asc().nulls_last(), Image.created_at, Image.id)
)
_BOXES = (
    sa.select(
        Analysis.image_id,
        Analysis.id,
        Analysis.model_name,
        Analysis.model_version,
        Prediction.confidence,
        Prediction.x1,
        Prediction.y1,
        Prediction.x2,
        Prediction.y2,
    )
    .join(Image, Image.id == Analysis.image_id)
    .outerjoin(
        Prediction,
        sa.and_(
            Prediction.analysis_id == Analysis.id,
            Prediction.annotation_type == "bounding_box",
        ),
    )
    .where(Image.sequence_id.in_(_SEQUENCE_IDS), Analysis.status == AnalysisStatus.COMPLETED)
    .order_by(Analysis.created_at, Analysis.id)
)
_THRESHOLDS = sa.select(Project.id, Project.queue_threshold).where(
    Project.id.in_(sa.bindparam("project_ids", expanding=True))
)


def _read_boxes(session: Session, sequence_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Every completed analysis's boxes on these sequences' frames; the newest analysis of a
    model on a frame stands for that model there."""
    ids = {"sequence_ids": list(sequence_ids)}
    found: dict[uuid.UUID, _SequenceBoxes] = {}
    frame_of: dict[uuid.UUID, uuid.UUID] = {}
    for sequence_id, image_id, project_id in session.execute(_FRAMES, ids):
        assert sequence_id is not None  # the query keeps frames of these sequences only
        found.setdefault(sequence_id, _SequenceBoxes(project_id)).frames.append(image_id)
        frame_of[image_id] = sequence_id
    if not frame_of:
        return {}
    # (frame, model) -> (analysis id, boxes): a later analysis replaces an earlier one.
    latest: dict[tuple[uuid.UUID, str], tuple[uuid.UUID, list[ScoredBox]]] = {}
    for image_id, analysis_id, name, version, confidence, x1, y1, x2, y2 in session.execute(
        _BOXES, ids
    ):
        key = PLATFORM if name == PLATFORM_MODEL_NAME else model_key(name, version)
        held = latest.get((image_id, key))
        if held is None or held[0] != analysis_id:
            held = latest[(image_id, key)] = (analysis_id, [])
        coords = (x1, y1, x2, y2)
        box = sanitize_xyxyn(coords) if None not in coords else None  # type: ignore[arg-type]
        if box is not None:
            held[1].append(ScoredBox(box, confidence))
    for (image_id, key), (_analysis, boxes) in latest.items():
        if image_id not in frame_of:
            # Stored by another request between the two reads (read committed): that
            # request rescores its sequence once it commits.
            continue
        seq = found[frame_of[image_id]]
        target = seq.platform if key == PLATFORM else seq.models.setdefault(key, {})
        target[image_id] = boxes
    return found


# --- computing and storing -------------------------------------------------------------------


def _rows(
    sequence_id: uuid.UUID, seq: _SequenceBoxes, threshold: float, now: datetime
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def row(kind: str, model: str, against: str, score: float, count: int, **extra: Any) -> None:
        rows.append(
            {
                "sequence_id": sequence_id,
                "kind": kind,
                "model": model,
                "against": against,
                "project_id": seq.project_id,
                "score": round(score, 6),
                "count": count,
                "threshold": extra.get("threshold"),
                "confidences": extra.get("confidences"),
                "computed_at": now,
            }
        )

    for key, boxes in seq.models.items():
        seen = [f for f in seq.frames if f in boxes]
        pairs = [(boxes[f], seq.platform.get(f, [])) for f in seen]
        row(ScoreKind.DISAGREEMENT, key, PLATFORM, disagreement(pairs), len(pairs))
    for a, b in combinations(sorted(seq.models), 2):
        both = [f for f in seq.frames if f in seq.models[a] and f in seq.models[b]]
        if both:
            pairs = [(seq.models[a][f], seq.models[b][f]) for f in both]
            row(ScoreKind.DISAGREEMENT, a, b, disagreement(pairs), len(pairs))
    sides = dict(seq.models)
    platform_key = _platform_key(seq)
    if platform_key is not None:
        sides[platform_key] = seq.platform
    for key, boxes in sides.items():
        confidences = track_confidences([boxes[f] for f in seq.frames if f in boxes])
        score = uncertainty(confidences, threshold)
        if score is not None:
            rounded = [round(c, 6) for c in confidences]
            row(
                ScoreKind.UNCERTAINTY,
                key,
                PLATFORM,
                score,
                len(confidences),
                threshold=threshold,
                confidences=rounded,
            )
    return rows


def _platform_key(seq: _SequenceBoxes) -> str | None:
    """The platform's boxes as a model of their own (uncertainty of the platform's tracks)."""
    return model_key(PLATFORM_MODEL_NAME, "") if seq.platform else None


def rescore_sequences(
    session: Session, sequence_ids: Collection[uuid.UUID], *, model: str | None = None
) -> int:
    """Compute and store the queue scores of these sequences (all of their models', or only
    rows that involve `model`, a `name@version` key); returns the rows stored. Flushes."""
    ids = list(dict.fromkeys(sequence_ids))
    if not ids:
        return 0
    found = _read_boxes(session, ids)
    thresholds = _thresholds(session, {s.project_id for s in found.values()})
    now = utcnow()
    rows = [
        r
        for sequence_id, seq in found.items()
        for r in _rows(sequence_id, seq, thresholds[seq.project_id], now)
        if model is None or model in (r["model"], r["against"])
    ]
    stale = sa.delete(QueueScore).where(QueueScore.sequence_id.in_(ids))
    if model is not None:
        stale = stale.where(sa.or_(QueueScore.model == model, QueueScore.against == model))
    session.execute(stale.execution_options(synchronize_session=False))
    if rows:
        session.execute(_upsert(session.get_bind().dialect.name), rows)
    session.flush()
    return len(rows)


@functools.cache
def _upsert(dialect: str) -> Any:
    """INSERT that takes over a row another transaction stored meanwhile (two frames of one
    sequence stored at once both rescore it: the later computation stands). Built once per
    database: building it cost more than running it, on every frame stored."""
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(QueueScore)
    keys = ("sequence_id", "kind", "model", "against")
    updated = ("project_id", "score", "count", "threshold", "confidences", "computed_at")
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={name: statement.excluded[name] for name in updated}
    )


def _thresholds(session: Session, project_ids: set[uuid.UUID]) -> dict[uuid.UUID, float]:
    if not project_ids:
        return {}
    found = session.execute(_THRESHOLDS, {"project_ids": list(project_ids)})
    return {pid: DEFAULT_THRESHOLD if t is None else t for pid, t in found}


def rescore_images(session: Session, image_ids: Collection[uuid.UUID]) -> int:
    """Rescore the sequences these frames belong to (boxes on them changed). Flushes."""
    if not image_ids:
        return 0
    query = sa.select(Image.sequence_id).where(
        Image.id.in_(list(image_ids)), Image.sequence_id.is_not(None)
    )
    return rescore_sequences(session, {sid for sid in session.scalars(query) if sid})


def rescore_analysis(session: Session, analysis: Analysis) -> int:
    """An analysis was finalized (or removed): rescore the sequence of its image."""
    return rescore_images(session, [analysis.image_id])


# Sequences rescored per transaction by `rescore_project`.
BATCH = 200


def rescore_project(
    session: Session,
    *,
    project_id: uuid.UUID,
    model: str | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Recompute a project's scores, `BATCH` sequences per transaction (committed); calls
    `on_batch(done, total)` after each. Returns (sequences, rows stored)."""
    query = sa.select(Sequence.id).where(Sequence.project_id == project_id).order_by(Sequence.id)
    ids = list(session.scalars(query))
    stored = 0
    for start in range(0, len(ids), BATCH):
        stored += rescore_sequences(session, ids[start : start + BATCH], model=model)
        session.commit()
        if on_batch is not None:
            on_batch(min(start + BATCH, len(ids)), len(ids))
    return len(ids), stored
