"""Side-by-side comparison of analyses: greedy same-class box matching by IoU."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from lookout.geometry import iou_matrix


def _boxes(predictions: Sequence[Any]) -> dict[str, list[Any]]:
    """Predictions with a box, grouped by class."""
    by_class: dict[str, list[Any]] = defaultdict(list)
    for p in predictions:
        if p.annotation_type == "bounding_box" and p.x1 is not None:
            by_class[p.class_name].append(p)
    return by_class


def match_boxes(a: Sequence[Any], b: Sequence[Any], *, iou_threshold: float) -> dict[str, Any]:
    """Pair boxes of `a` and `b` of the same class, highest IoU first, each box at most once.

    Pairs need IoU >= `iou_threshold`. Returns `matches` (a, b, class_name, iou), the ids left
    unmatched on each side (`only_a`, `only_b`) and their counts.
    """
    import numpy as np  # here, not at module level: the server's boot never needs numpy

    boxes_a, boxes_b = _boxes(a), _boxes(b)
    matches: list[dict[str, Any]] = []
    matched_a: set[Any] = set()
    matched_b: set[Any] = set()
    for class_name in sorted(set(boxes_a) & set(boxes_b)):
        left, right = boxes_a[class_name], boxes_b[class_name]
        ious = iou_matrix(
            [(p.x1, p.y1, p.x2, p.y2) for p in left], [(p.x1, p.y1, p.x2, p.y2) for p in right]
        )
        rows, cols = np.nonzero(ious >= iou_threshold)
        candidates = sorted(
            zip(rows.tolist(), cols.tolist(), strict=True), key=lambda rc: (-ious[rc], rc)
        )
        used_rows: set[int] = set()
        used_cols: set[int] = set()
        for row, col in candidates:
            if row in used_rows or col in used_cols:
                continue
            used_rows.add(row)
            used_cols.add(col)
            matched_a.add(left[row].id)
            matched_b.add(right[col].id)
            matches.append(
                {
                    "a": left[row].id,
                    "b": right[col].id,
                    "class_name": class_name,
                    "iou": round(float(ious[row, col]), 6),
                }
            )
    only_a = [p.id for ps in boxes_a.values() for p in ps if p.id not in matched_a]
    only_b = [p.id for ps in boxes_b.values() for p in ps if p.id not in matched_b]
    matches.sort(key=lambda m: -m["iou"])
    return {
        "matches": matches,
        "only_a": only_a,
        "only_b": only_b,
        "matched_count": len(matches),
        "only_a_count": len(only_a),
        "only_b_count": len(only_b),
    }
