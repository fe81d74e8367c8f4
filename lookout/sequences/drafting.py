"""Cluster predicted boxes across a sequence's frames into draft review tracks (pure, no I/O)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lookout.geometry import iou_matrix, sanitize_xyxyn
from lookout.sequences.models import TrackDecision

if TYPE_CHECKING:  # numpy loads when drafting runs: the API server's boot never needs it
    import numpy as np
    from numpy.typing import NDArray

# IoU is computed in floating point, so a pair meant to sit exactly on the threshold
# (e.g. 0.3) may come out as 0.29999999999999993; this tolerance lets it join.
IOU_TOLERANCE = 1e-9

# Up to this many boxes per sequence, IoU is computed for all pairs in one numpy call
# (at most 8 MB) instead of once per frame: numpy call overhead, not arithmetic, dominates.
PAIRWISE_IOU_MAX_BOXES = 1024


@dataclass(frozen=True, slots=True)
class FrameBox:
    """One predicted box on one frame of a sequence."""

    frame_index: int
    frame_id: str
    xyxyn: tuple
    confidence: float
    class_name: str = "smoke"


def _check_unit_interval(name: str, value: object) -> None:
    """Raise ValueError unless value is a real number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")


@dataclass(frozen=True, slots=True)
class DraftParams:
    """Knobs for drafting: confidence filter, IoU needed to join a track, minimum track length."""

    confidence_threshold: float = 0.0
    iou_threshold: float = 0.3
    min_cluster_size: int = 1

    def __post_init__(self) -> None:
        """Validate every field, naming the offending one."""
        _check_unit_interval("confidence_threshold", self.confidence_threshold)
        _check_unit_interval("iou_threshold", self.iou_threshold)
        size = self.min_cluster_size
        if isinstance(size, bool) or not isinstance(size, int):
            raise ValueError(f"min_cluster_size must be an integer >= 1, got {size!r}")
        if size < 1:
            raise ValueError(f"min_cluster_size must be >= 1, got {size!r}")


@dataclass(slots=True)
class DraftTrack:
    """A cluster of boxes believed to be the same object, at most one per frame, in frame order."""

    boxes: list[FrameBox]

    def __post_init__(self) -> None:
        """Reject empty tracks: every statistic below needs at least one box."""
        if not self.boxes:
            raise ValueError("DraftTrack.boxes must not be empty")

    @property
    def frame_ids(self) -> list[str]:
        """Frame ids of the track's boxes, in frame order."""
        return [b.frame_id for b in self.boxes]

    @property
    def mean_confidence(self) -> float:
        """Mean confidence over the track's boxes."""
        return math.fsum(b.confidence for b in self.boxes) / len(self.boxes)

    @property
    def max_confidence(self) -> float:
        """Highest confidence among the track's boxes."""
        return max(b.confidence for b in self.boxes)

    @property
    def first_frame_index(self) -> int:
        """Frame index of the track's first box."""
        return self.boxes[0].frame_index

    @property
    def last_frame_index(self) -> int:
        """Frame index of the track's last box."""
        return self.boxes[-1].frame_index


def _coords_fast(boxes: list[FrameBox]) -> NDArray[np.float64] | None:
    """All boxes' coordinates as one (n, 4) array, or None if some box is not 4 numbers."""
    import numpy as np

    try:
        coords = np.array([b.xyxyn for b in boxes], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return coords if coords.shape == (len(boxes), 4) else None


def _clean(
    boxes: Iterable[FrameBox], confidence_threshold: float
) -> tuple[list[FrameBox], NDArray[np.float64]]:
    """Keep confident, non-degenerate boxes clipped to [0, 1], plus their (n, 4) coordinates."""
    import numpy as np

    # A NaN confidence fails ">=", so it is dropped as well.
    confident = [b for b in boxes if b.confidence >= confidence_threshold]
    raw = _coords_fast(confident)
    if raw is None:
        # Slow path for malformed input (empty/short boxes): per-box validation.
        return _clean_slow(confident)
    clipped = np.clip(raw, 0.0, 1.0)
    valid = (
        np.isfinite(raw).all(axis=1)
        & (clipped[:, 2] > clipped[:, 0])
        & (clipped[:, 3] > clipped[:, 1])
    )
    changed = (clipped != raw).any(axis=1).tolist()
    kept: list[FrameBox] = []
    for i in np.flatnonzero(valid).tolist():
        box = confident[i]
        # Copying a frozen box is slow, so only do it when clipping or type normalisation is needed.
        if changed[i] or type(box.xyxyn) is not tuple:
            box = replace(box, xyxyn=tuple(clipped[i].tolist()))
        kept.append(box)
    return kept, clipped[valid]


def _clean_slow(boxes: list[FrameBox]) -> tuple[list[FrameBox], NDArray[np.float64]]:
    """Per-box version of _clean's geometry filter, for inputs numpy cannot stack."""
    import numpy as np

    kept: list[FrameBox] = []
    for box in boxes:
        xyxyn = sanitize_xyxyn(box.xyxyn)
        if xyxyn is not None:
            kept.append(
                box
                if xyxyn == box.xyxyn and type(box.xyxyn) is tuple
                else replace(box, xyxyn=xyxyn)
            )
    coords = np.array([b.xyxyn for b in kept], dtype=np.float64).reshape(-1, 4)
    return kept, coords


def _check_frame_ids(boxes: list[FrameBox]) -> None:
    """Raise ValueError unless frame_index and frame_id map one-to-one."""
    index_to_id: dict[int, str] = {}
    id_to_index: dict[str, int] = {}
    for box in boxes:
        if index_to_id.setdefault(box.frame_index, box.frame_id) != box.frame_id:
            raise ValueError(f"frame_index {box.frame_index} is used by more than one frame_id")
        if id_to_index.setdefault(box.frame_id, box.frame_index) != box.frame_index:
            raise ValueError(f"frame_id {box.frame_id!r} appears with more than one frame_index")


def _canonical_order(boxes: list[FrameBox], coords: NDArray[np.float64]) -> list[int]:
    """Permutation sorting by frame, then geometry, so the result never depends on input order."""
    rows = coords.tolist()
    return sorted(
        range(len(boxes)),
        key=lambda i: (boxes[i].frame_index, rows[i], -boxes[i].confidence, boxes[i].class_name),
    )


def _frame_slices(boxes: list[FrameBox]) -> list[tuple[int, int]]:
    """[start, stop) ranges of consecutive boxes sharing a frame, in a frame-sorted list."""
    slices: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(boxes) + 1):
        if i == len(boxes) or boxes[i].frame_index != boxes[start].frame_index:
            slices.append((start, i))
            start = i
    return slices


def _greedy_match(ious: NDArray[np.float64], threshold: float) -> list[tuple[int, int]]:
    """One-to-one (track, box) pairs, highest IoU first; ties favour older tracks, earlier boxes."""
    import numpy as np

    cutoff = threshold - IOU_TOLERANCE
    # Every track so far is a row, so rows grow with the sequence: numpy picks the few pairs
    # over the threshold (a Python loop over all of them made drafting quadratic in length);
    # plain Python then sorts that handful.
    rows, cols = np.nonzero(ious >= cutoff)
    if not len(rows):
        return []
    values = ious[rows, cols].tolist()
    candidates = sorted(zip([-v for v in values], rows.tolist(), cols.tolist(), strict=True))
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for _, r, c in candidates:
        if r not in used_rows and c not in used_cols:
            used_rows.add(r)
            used_cols.add(c)
            pairs.append((r, c))
    return pairs


def cluster_tracks(boxes: Iterable[FrameBox], params: DraftParams) -> list[DraftTrack]:
    """Cluster boxes into tracks of at most one box per frame, ordered by first frame, position."""
    import numpy as np

    kept, coords = _clean(boxes, params.confidence_threshold)
    if not kept:
        return []
    _check_frame_ids(kept)
    order = _canonical_order(kept, coords)
    ordered = [kept[i] for i in order]
    coords = coords[order]
    pairwise = iou_matrix(coords, coords) if len(ordered) <= PAIRWISE_IOU_MAX_BOXES else None
    tracks: list[list[FrameBox]] = []
    # last[t] = row in coords/ordered of track t's latest box (an array: it indexes every frame)
    last = np.empty(len(ordered), dtype=np.intp)
    for start, stop in _frame_slices(ordered):
        matched: set[int] = set()
        if tracks:
            rows = last[: len(tracks)]
            if pairwise is not None:
                ious = pairwise[rows, start:stop]
            else:
                ious = iou_matrix(coords[rows], coords[start:stop])
            for t, j in _greedy_match(ious, params.iou_threshold):
                tracks[t].append(ordered[start + j])
                last[t] = start + j
                matched.add(j)
        for i in range(start, stop):
            if i - start not in matched:
                last[len(tracks)] = i
                tracks.append([ordered[i]])
    # Tracks were created in (frame, position) order, so filtering keeps the required ordering.
    return [DraftTrack(t) for t in tracks if len(t) >= params.min_cluster_size]


def track_to_dict(track: DraftTrack, smoke_type: str | None = None) -> dict[str, Any]:
    """Serialize a draft track to the stored track JSON."""
    return {
        "decision": TrackDecision.SMOKE if smoke_type else TrackDecision.UNDECIDED,
        "is_smoke": True,
        "smoke_type": smoke_type,
        "false_positive_types": [],
        "confidence": float(track.mean_confidence),
        "boxes": [
            {
                "frame_id": b.frame_id,
                "frame_index": b.frame_index,
                "xyxyn": [round(float(v), 6) for v in b.xyxyn],
                "confidence": float(b.confidence),
            }
            for b in track.boxes
        ],
    }
