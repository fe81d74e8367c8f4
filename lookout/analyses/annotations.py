"""Validation of posted annotations, type by type, and their canonical geometry.

Each annotation is checked as the ML document's "Data Formats" section shows it. The first bad
item raises InvalidInput naming its index and field (``annotations[3].data.bbox``), so a request
is accepted whole or not at all. Geometry is normalized ``xyxy`` in [0, 1]: boxes converted from
their format with the image size, polygons and keypoints as their bounds; RLE masks,
classifications and heatmaps have none.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from typing import Any, NamedTuple

from lookout.errors import InvalidInput
from lookout.geometry import FORMATS, NORMALIZED_FORMATS, checked_to_xyxyn

TYPES = ("bounding_box", "segmentation", "keypoint", "classification", "heatmap")
DEFAULT_BOX_FORMAT = "xywh"
MAX_CLASS_NAME = 200
MAX_CLIENT_ID = 100
_EPSILON = 1e-6
_CLIENT_ID = re.compile(r"^[\x21-\x7e]{1,100}$")

Geometry = tuple[float, float, float, float]


class ValidAnnotation(NamedTuple):
    """A checked annotation (a tuple: a thousand of them are made per bulk post)."""

    annotation_type: str
    class_name: str
    confidence: float | None
    data: dict[str, Any]
    geometry: Geometry | None
    client_id: str | None


class _Bad(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _is_number(value: Any) -> bool:
    if type(value) is float:  # the common case first
        return math.isfinite(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer too large for a float
        return False


def _probability(value: Any, path: str) -> float:
    if not _is_number(value):
        raise _Bad(path, f"must be a number between 0 and 1, got {value!r}")
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise _Bad(path, f"must be between 0 and 1, got {number}")
    return number


def validate_annotations(
    items: Any,
    *,
    width: int,
    height: int,
    artifact_names: Collection[str],
    prefix: str = "annotations",
) -> list[ValidAnnotation]:
    """Check every item; raise InvalidInput for the first bad one, naming index and field."""
    if not isinstance(items, list):
        raise InvalidInput(f"{prefix}: must be a list of annotations", field=prefix)
    seen_ids: dict[str, int] = {}
    valid: list[ValidAnnotation] = []
    for index, item in enumerate(items):
        where = f"{prefix}[{index}]"
        try:
            annotation = validate_one(
                item, width=width, height=height, artifact_names=artifact_names
            )
        except _Bad as bad:
            field = f"{where}.{bad.path}" if bad.path else where
            raise InvalidInput(f"{field}: {bad.message}", field=field) from None
        if annotation.client_id is not None:
            first = seen_ids.setdefault(annotation.client_id, index)
            if first != index:
                field = f"{where}.id"
                raise InvalidInput(
                    f"{field}: id {annotation.client_id!r} is also used by {prefix}[{first}]",
                    field=field,
                )
        valid.append(annotation)
    return valid


def validate_one(
    item: Any, *, width: int, height: int, artifact_names: Collection[str]
) -> ValidAnnotation:
    """One annotation: common fields, then the data of its type."""
    if not isinstance(item, dict):
        raise _Bad("", "must be a JSON object")
    kind = item.get("annotation_type")
    if kind not in TYPES:
        raise _Bad("annotation_type", f"must be one of {', '.join(TYPES)}; got {kind!r}")
    class_name = item.get("class_name")
    if not isinstance(class_name, str) or not class_name.strip():
        raise _Bad("class_name", "is required (a non-empty string)")
    if len(class_name) > MAX_CLASS_NAME:
        raise _Bad("class_name", f"must be at most {MAX_CLASS_NAME} characters")
    confidence = item.get("confidence")
    if confidence is not None:
        confidence = _probability(confidence, "confidence")
    client_id = _client_id(item.get("id"))
    data = item.get("data")
    if data is None and kind == "classification":
        data = {}
    if not isinstance(data, dict):
        raise _Bad("data", "is required (a JSON object)")
    geometry = _CHECKS[kind](data, width, height, artifact_names)
    return ValidAnnotation(kind, class_name, confidence, data, geometry, client_id)


def _client_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _CLIENT_ID.fullmatch(value):
        raise _Bad(
            "id",
            f"must be a string of 1 to {MAX_CLIENT_ID} printable characters without spaces "
            "(a UUID works)",
        )
    return value


def _bounding_box(
    data: dict[str, Any], width: int, height: int, _artifacts: Collection[str]
) -> Geometry:
    fmt = data.get("format", DEFAULT_BOX_FORMAT)
    if fmt not in FORMATS:
        raise _Bad("data.format", f"must be one of {', '.join(sorted(FORMATS))}; got {fmt!r}")
    bbox = data.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise _Bad("data.bbox", "must be a list of 4 finite numbers")
    a, b, c, d = bbox
    if not (_is_number(a) and _is_number(b) and _is_number(c) and _is_number(d)):
        raise _Bad("data.bbox", "must be a list of 4 finite numbers")
    a, b, c, d = float(a), float(b), float(c), float(d)
    if fmt in NORMALIZED_FORMATS and not all(-_EPSILON <= v <= 1 + _EPSILON for v in (a, b, c, d)):
        raise _Bad("data.bbox", f"format {fmt} is normalized: values must be within [0, 1]")
    try:
        box = checked_to_xyxyn(a, b, c, d, fmt, width, height)
    except ValueError as exc:
        raise _Bad("data.bbox", str(exc)) from None
    if box[2] <= box[0] or box[3] <= box[1]:
        raise _Bad("data.bbox", f"box has no area inside the {width}x{height} image")
    return box


def _bounds(points: list[tuple[float, float]], width: int, height: int) -> Geometry:
    xs = [x for x, _ in points]
    ys = [y for _, y in points]

    def clip(value: float) -> float:
        return min(max(value, 0.0), 1.0)

    return (
        clip(min(xs) / width),
        clip(min(ys) / height),
        clip(max(xs) / width),
        clip(max(ys) / height),
    )


def _segmentation(
    data: dict[str, Any], width: int, height: int, _artifacts: Collection[str]
) -> Geometry | None:
    fmt = data.get("format")
    if fmt is None:
        fmt = "rle" if "rle" in data else "polygon"
    if fmt == "polygon":
        return _polygon(data, width, height)
    if fmt == "rle":
        _rle(data)
        return None
    raise _Bad("data.format", f"must be polygon or rle; got {fmt!r}")


def _polygon(data: dict[str, Any], width: int, height: int) -> Geometry:
    raw = data.get("points")
    if not isinstance(raw, list):
        raise _Bad("data.points", "must be a list of [x, y] points")
    if raw and all(_is_number(v) for v in raw):  # flat [x1, y1, x2, y2, ...] (COCO style)
        if len(raw) % 2:
            raise _Bad("data.points", "a flat list of coordinates must have an even length")
        raw = [raw[i : i + 2] for i in range(0, len(raw), 2)]
    points: list[tuple[float, float]] = []
    for i, point in enumerate(raw):
        if not (isinstance(point, list) and len(point) == 2 and all(_is_number(v) for v in point)):
            raise _Bad(f"data.points[{i}]", "must be [x, y] with two finite numbers")
        points.append((float(point[0]), float(point[1])))
    if len(points) < 3:
        raise _Bad("data.points", f"a polygon needs at least 3 points, got {len(points)}")
    box = _bounds(points, width, height)
    if box[2] <= box[0] or box[3] <= box[1]:
        raise _Bad("data.points", f"polygon has no area inside the {width}x{height} image")
    return box


def _rle(data: dict[str, Any]) -> None:
    rle = data.get("rle")
    if not isinstance(rle, dict):
        raise _Bad("data.rle", "must be an object with counts and size")
    size = rle.get("size")
    if not (
        isinstance(size, list)
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        raise _Bad("data.rle.size", "must be [height, width], two positive integers")
    counts = rle.get("counts")
    if isinstance(counts, str):
        raise _Bad("data.rle.counts", "compressed RLE strings are not supported; send a list")
    if not isinstance(counts, list) or not counts:
        raise _Bad("data.rle.counts", "must be a non-empty list of run lengths")
    for i, value in enumerate(counts):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _Bad(f"data.rle.counts[{i}]", "must be a non-negative integer")
    total, expected = sum(counts), size[0] * size[1]
    if total != expected:
        raise _Bad(
            "data.rle.counts",
            f"run lengths sum to {total} but size {size[0]}x{size[1]} has {expected} pixels",
        )


def _keypoint(
    data: dict[str, Any], width: int, height: int, _artifacts: Collection[str]
) -> Geometry:
    keypoints = data.get("keypoints")
    if not isinstance(keypoints, list) or not keypoints:
        raise _Bad("data.keypoints", "must be a non-empty list of {x, y} points")
    points: list[tuple[float, float]] = []
    for i, point in enumerate(keypoints):
        where = f"data.keypoints[{i}]"
        if not isinstance(point, dict):
            raise _Bad(where, "must be an object with x and y")
        for axis in ("x", "y"):
            if not _is_number(point.get(axis)):
                raise _Bad(f"{where}.{axis}", "must be a finite number")
        if point.get("confidence") is not None:
            _probability(point["confidence"], f"{where}.confidence")
        name = point.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 100):
            raise _Bad(f"{where}.name", "must be a string of at most 100 characters")
        points.append((float(point["x"]), float(point["y"])))
    return _bounds(points, width, height)


def _classification(
    data: dict[str, Any], _width: int, _height: int, _artifacts: Collection[str]
) -> None:
    scores = data.get("scores")
    if scores is None:
        return None
    if not isinstance(scores, dict):
        raise _Bad("data.scores", "must be an object mapping class names to scores")
    for name, score in scores.items():
        if not name or len(name) > MAX_CLASS_NAME:
            raise _Bad("data.scores", f"class names must be 1 to {MAX_CLASS_NAME} characters")
        _probability(score, f"data.scores.{name}")
    return None


def _heatmap(data: dict[str, Any], _width: int, _height: int, artifacts: Collection[str]) -> None:
    name = data.get("artifact_name")
    if not isinstance(name, str) or not name:
        raise _Bad("data.artifact_name", "must name an artifact of this analysis")
    if name not in artifacts:
        raise _Bad(
            "data.artifact_name",
            f"no artifact {name!r} in this analysis (request its presigned URL first)",
        )
    return None


_CHECKS = {
    "bounding_box": _bounding_box,
    "segmentation": _segmentation,
    "keypoint": _keypoint,
    "classification": _classification,
    "heatmap": _heatmap,
}
