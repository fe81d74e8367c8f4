"""Detection metrics in plain numpy, computed the way pycocotools' COCOeval computes them.

Matching (per image and class): detections in decreasing confidence (a stable sort, so ties keep
their input order), each takes the unmatched truth box of the same class with the highest IoU
at or above the threshold (on equal IoU the later truth box wins, as in COCOeval); truth boxes
are matched at most once. Area range "all", no crowd boxes, and by default no cap on detections
per image (COCOeval's maxDets; pass `max_dets` to cap).

AP (per class): detections of all images in decreasing confidence, cumulative TP/FP, precision
made monotone from the right, sampled at 101 recall points (0, 0.01, ..., 1) with COCO's
`searchsorted(..., side="left")`, precision 0 past the highest recall; AP is the mean of the
samples. AP@0.5 uses IoU 0.5, AP@[.5:.95] averages IoU 0.50, 0.55, ..., 0.95. Classes without
truth boxes have no AP and are left out of the overall figure, which is the mean over classes
(COCOeval's `stats[0]` and `stats[1]`).

Precision, recall and F1 at a confidence threshold count detections at or above it: matching is
greedy in decreasing confidence, so the detections above a threshold match exactly as they do
in the full run, and a threshold sweep is a walk down one sorted list. Overall counts add up
every class (micro average); detections of classes without truth are false positives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lookout.geometry import iou_matrix

# Exactly COCOeval's parameters (np.linspace with the same arguments gives the same floats).
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_POINTS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
DEFAULT_SWEEP = tuple(round(0.05 * i, 2) for i in range(21))
_EPS = np.spacing(1)


@dataclass
class ImageInput:
    """Truth and detections of one image (boxes as xyxy, any consistent unit)."""

    gt_boxes: ArrayLike
    gt_classes: Sequence[str]
    dt_boxes: ArrayLike
    dt_scores: ArrayLike
    dt_classes: Sequence[str]

    def arrays(self) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
        gt = np.asarray(self.gt_boxes, dtype=np.float64).reshape(-1, 4)
        dt = np.asarray(self.dt_boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(self.dt_scores, dtype=np.float64).reshape(-1)
        return gt, dt, scores


@dataclass
class ClassMatch:
    """Matching of one class in one image, detections in decreasing confidence."""

    class_name: str
    gt_indices: NDArray[np.int64]  # positions in the image's truth list
    dt_indices: NDArray[np.int64]  # positions in the image's detection list, sorted
    dt_scores: NDArray[np.float64]
    dt_match: NDArray[np.int64]  # (T, D): matched truth (position in gt_indices) or -1
    dt_iou: NDArray[np.float64]  # (T, D): IoU with the matched truth (0 if none)


def match_class(
    gt: NDArray[Any],
    dt: NDArray[Any],
    scores: NDArray[Any],
    thresholds: NDArray[Any],
    max_dets: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """COCO greedy matching of one class in one image: (order, dt_match (T, D), dt_iou)."""
    order = np.argsort(-scores, kind="mergesort")
    if max_dets is not None:
        order = order[:max_dets]
    n_t, n_d, n_g = len(thresholds), len(order), len(gt)
    dt_match = np.full((n_t, n_d), -1, dtype=np.int64)
    dt_iou = np.zeros((n_t, n_d), dtype=np.float64)
    if n_d == 0 or n_g == 0:
        return order, dt_match, dt_iou
    ious = iou_matrix(dt[order], gt)
    for t, threshold in enumerate(thresholds):
        floor = min(float(threshold), 1 - 1e-10)
        taken = np.zeros(n_g, dtype=bool)
        for d in range(n_d):
            # COCOeval's loop keeps the highest IoU >= floor among free truths, the later one on
            # ties: the last position of the maximum.
            row = np.where(taken | (ious[d] < floor), -1.0, ious[d])
            match = n_g - 1 - int(np.argmax(row[::-1]))
            if row[match] < 0:
                continue
            taken[match] = True
            dt_match[t, d] = match
            dt_iou[t, d] = row[match]
    return order, dt_match, dt_iou


@dataclass(frozen=True)
class Counts:
    threshold: float
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        total = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / total if total else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": _round(self.precision),
            "recall": _round(self.recall),
            "f1": _round(self.f1),
        }


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)


@dataclass
class ClassResult:
    name: str
    gt_count: int
    dt_count: int
    precision: NDArray[np.float64]  # (T, R) interpolated precision, -1 when no truth
    recall: NDArray[np.float64]  # (T,) highest recall reached, -1 when no truth
    # Detections in decreasing confidence (all images) and whether each is a TP at `iou_index`.
    scores: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    tp: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def has_truth(self) -> bool:
        return self.gt_count > 0

    def ap(self, t: int | None = None) -> float | None:
        """AP at IoU index t, or averaged over every IoU threshold (None without truth)."""
        if not self.has_truth:
            return None
        values = self.precision[: len(IOU_THRESHOLDS)] if t is None else self.precision[t]
        return float(np.mean(values))


class Evaluation:
    """Matches and per-class accumulations; ask it for AP, counts, sweeps and outcomes."""

    def __init__(
        self,
        *,
        classes: list[str],
        thresholds: NDArray[np.float64],
        iou_index: int,
        results: dict[str, ClassResult],
        matches: list[list[ClassMatch]],
    ) -> None:
        self.classes = classes
        self.thresholds = thresholds
        self.iou_index = iou_index
        self.results = results
        self.matches = matches

    @property
    def iou_threshold(self) -> float:
        return float(self.thresholds[self.iou_index])

    def _with_truth(self) -> list[ClassResult]:
        return [r for r in self.results.values() if r.has_truth]

    def ap(self) -> float | None:
        """Mean over classes of AP@[.5:.95] (COCOeval stats[0])."""
        found = self._with_truth()
        coco = [r.precision[: len(IOU_THRESHOLDS)] for r in found]
        return float(np.mean(coco)) if coco else None

    def ap50(self) -> float | None:
        """Mean over classes of AP@0.5 (COCOeval stats[1])."""
        found = self._with_truth()
        return float(np.mean([r.precision[0] for r in found])) if found else None

    def pr_curve(self, class_name: str | None = None) -> list[float] | None:
        """Interpolated precision at the 101 recall points at the chosen IoU (mean over classes)."""
        found = [self.results[class_name]] if class_name else self._with_truth()
        found = [r for r in found if r.has_truth]
        if not found:
            return None
        curve = np.mean([r.precision[self.iou_index] for r in found], axis=0)
        return [round(float(v), 6) for v in curve]

    def _pool(self, class_name: str | None) -> tuple[NDArray[Any], NDArray[Any], int]:
        chosen = [self.results[class_name]] if class_name else list(self.results.values())
        scores = np.concatenate([r.scores for r in chosen]) if chosen else np.zeros(0)
        tp = np.concatenate([r.tp for r in chosen]) if chosen else np.zeros(0, dtype=bool)
        return scores, tp, sum(r.gt_count for r in chosen)

    def counts(self, threshold: float, class_name: str | None = None) -> Counts:
        scores, tp, positives = self._pool(class_name)
        kept = scores >= threshold
        hits = int(np.count_nonzero(tp & kept))
        return Counts(threshold, hits, int(np.count_nonzero(kept)) - hits, positives - hits)

    def sweep(
        self, thresholds: Iterable[float] = DEFAULT_SWEEP, class_name: str | None = None
    ) -> list[Counts]:
        return [self.counts(float(t), class_name) for t in thresholds]

    def best_f1(self, class_name: str | None = None) -> Counts | None:
        """The confidence threshold (one of the detection scores) with the highest F1."""
        scores, tp, positives = self._pool(class_name)
        if not len(scores):
            return None
        order = np.argsort(-scores, kind="mergesort")
        scores, tp = scores[order], tp[order]
        tps = np.cumsum(tp)
        fps = np.cumsum(~tp)
        # Only the last detection of a run of equal scores is a threshold one can choose.
        last = np.r_[scores[1:] != scores[:-1], True]
        f1 = np.where(last, 2 * tps / (2 * tps + fps + (positives - tps)), -1.0)
        best = int(np.argmax(f1))
        return Counts(
            float(scores[best]), int(tps[best]), int(fps[best]), positives - int(tps[best])
        )

    def image_outcomes(self, image: int, threshold: float) -> list[dict[str, Any]]:
        """TP, FP and FN boxes of one image at a confidence threshold and the chosen IoU."""
        out: list[dict[str, Any]] = []
        t = self.iou_index
        for m in self.matches[image]:
            kept = m.dt_scores >= threshold
            matched_gt: set[int] = set()
            for d in np.flatnonzero(kept):
                g = int(m.dt_match[t, d])
                if g >= 0:
                    matched_gt.add(g)
                    out.append(
                        {
                            "outcome": "tp",
                            "class_name": m.class_name,
                            "dt": int(m.dt_indices[d]),
                            "gt": int(m.gt_indices[g]),
                            "confidence": float(m.dt_scores[d]),
                            "iou": float(m.dt_iou[t, d]),
                        }
                    )
                else:
                    out.append(
                        {
                            "outcome": "fp",
                            "class_name": m.class_name,
                            "dt": int(m.dt_indices[d]),
                            "gt": None,
                            "confidence": float(m.dt_scores[d]),
                            "iou": None,
                        }
                    )
            for g, gt_index in enumerate(m.gt_indices):
                if g not in matched_gt:
                    out.append(
                        {
                            "outcome": "fn",
                            "class_name": m.class_name,
                            "dt": None,
                            "gt": int(gt_index),
                            "confidence": None,
                            "iou": None,
                        }
                    )
        return out

    def image_fired(self, image: int, threshold: float) -> tuple[bool, bool]:
        """(a TP at or above the threshold, any detection at or above it) for one image."""
        hit = fired = False
        for m in self.matches[image]:
            kept = m.dt_scores >= threshold
            if kept.any():
                fired = True
                if (m.dt_match[self.iou_index][kept] >= 0).any():
                    hit = True
        return hit, fired


def evaluate(
    images: Sequence[ImageInput],
    *,
    iou_threshold: float = 0.5,
    max_dets: int | None = None,
    classes: Iterable[str] | None = None,
) -> Evaluation:
    """Match every image and accumulate per class, COCO style."""
    if not 0 < iou_threshold <= 1:
        raise ValueError("iou_threshold must be in (0, 1]")
    thresholds = IOU_THRESHOLDS
    found = np.flatnonzero(np.isclose(thresholds, iou_threshold, rtol=0, atol=1e-12))
    if len(found):
        iou_index = int(found[0])
    else:
        thresholds = np.append(IOU_THRESHOLDS, iou_threshold)
        iou_index = len(thresholds) - 1
    names: list[str] = list(dict.fromkeys(classes or []))
    for image in images:
        for name in list(image.gt_classes) + list(image.dt_classes):
            if name not in names:
                names.append(name)
    if classes is None:
        names.sort()
    per_class: dict[str, dict[str, list[Any]]] = {
        n: {"scores": [], "match": [], "gt": [0]} for n in names
    }
    matches: list[list[ClassMatch]] = []
    for image in images:
        gt, dt, scores = image.arrays()
        gt_classes = np.asarray(list(image.gt_classes), dtype=object)
        dt_classes = np.asarray(list(image.dt_classes), dtype=object)
        if len(gt_classes) != len(gt) or len(dt_classes) != len(dt) or len(scores) != len(dt):
            raise ValueError("boxes, classes and scores must have the same lengths")
        image_matches: list[ClassMatch] = []
        for name in dict.fromkeys([*gt_classes.tolist(), *dt_classes.tolist()]):
            if name not in per_class:
                continue
            g_idx = np.flatnonzero(gt_classes == name)
            d_idx = np.flatnonzero(dt_classes == name)
            order, dt_match, dt_iou = match_class(
                gt[g_idx], dt[d_idx], scores[d_idx], thresholds, max_dets
            )
            acc = per_class[name]
            acc["scores"].append(scores[d_idx][order])
            acc["match"].append(dt_match >= 0)
            acc["gt"][0] += len(g_idx)
            image_matches.append(
                ClassMatch(name, g_idx, d_idx[order], scores[d_idx][order], dt_match, dt_iou)
            )
        matches.append(image_matches)
    results = {
        name: _accumulate(name, acc, thresholds, iou_index) for name, acc in per_class.items()
    }
    return Evaluation(
        classes=names, thresholds=thresholds, iou_index=iou_index, results=results, matches=matches
    )


def _accumulate(
    name: str, acc: dict[str, list[Any]], thresholds: NDArray[Any], iou_index: int
) -> ClassResult:
    """COCOeval.accumulate for one class (area all, one maxDets)."""
    n_t, n_r = len(thresholds), len(RECALL_POINTS)
    positives = int(acc["gt"][0])
    scores = np.concatenate(acc["scores"]) if acc["scores"] else np.zeros(0)
    matched = (
        np.concatenate(acc["match"], axis=1) if acc["match"] else np.zeros((n_t, 0), dtype=bool)
    )
    order = np.argsort(-scores, kind="mergesort")
    scores = scores[order]
    matched = matched[:, order]
    precision = -np.ones((n_t, n_r))
    recall = -np.ones(n_t)
    if positives:
        tp_sum = np.cumsum(matched, axis=1).astype(float)
        fp_sum = np.cumsum(~matched, axis=1).astype(float)
        n_d = len(scores)
        for t in range(n_t):
            tp, fp = tp_sum[t], fp_sum[t]
            rc = tp / positives
            pr = tp / (fp + tp + _EPS)
            recall[t] = rc[-1] if n_d else 0
            q = np.zeros(n_r)
            if n_d:
                pr = np.maximum.accumulate(pr[::-1])[::-1]
                inds = np.searchsorted(rc, RECALL_POINTS, side="left")
                valid = inds < n_d
                q[valid] = pr[inds[valid]]
            precision[t] = q
    return ClassResult(
        name=name,
        gt_count=positives,
        dt_count=len(scores),
        precision=precision,
        recall=recall,
        scores=scores,
        tp=matched[iou_index].copy() if len(scores) else np.zeros(0, dtype=bool),
    )


@dataclass(frozen=True)
class SequenceFrame:
    index: int  # position in the sequence, from 0 (frames left out keep their positions)
    has_truth: bool  # the frame holds at least one truth box
    hit: bool  # a TP at or above the threshold
    fired: bool  # any detection at or above the threshold


def sequence_metrics(sequences: Iterable[Sequence[SequenceFrame]]) -> dict[str, Any]:
    """Share of smoke sequences caught, frames it took to fire, false alarms on the others.

    A sequence with a truth box on any frame is a smoke sequence; it is caught when some frame
    has a TP, and frames-to-fire is the index (from 0, the sequence's first frame) of the first
    such frame. A sequence without truth boxes raises a false alarm when any frame fires.
    """
    smoke = caught = negatives = false_alarms = 0
    delays: list[int] = []
    for frames in sequences:
        if any(f.has_truth for f in frames):
            smoke += 1
            first = next((f.index for f in frames if f.hit), None)
            if first is not None:
                caught += 1
                delays.append(first)
        elif frames:
            negatives += 1
            false_alarms += int(any(f.fired for f in frames))
    histogram: dict[str, int] = {}
    for delay in delays:
        key = str(delay) if delay < 10 else "10+"
        histogram[key] = histogram.get(key, 0) + 1
    return {
        "smoke_sequences": smoke,
        "caught": caught,
        "catch_rate": _round(caught / smoke) if smoke else None,
        "frames_to_fire": {
            "mean": _round(float(np.mean(delays))) if delays else None,
            "median": float(np.median(delays)) if delays else None,
            "max": max(delays) if delays else None,
            "histogram": dict(sorted(histogram.items(), key=lambda kv: (len(kv[0]), kv[0]))),
        },
        "sequences_without_smoke": negatives,
        "false_alarm_sequences": false_alarms,
        "false_alarm_rate": _round(false_alarms / negatives) if negatives else None,
    }
