"""VISTA's dialect of the ML analysis API: its request shapes read, its answers written.

The ML document comes from VISTA, but VISTA's own server and scripts use other shapes on the
same paths. Lookout reads both and answers each client in its own dialect, told by the request
itself (see docs/ml-api.md, "Coming from VISTA"):

- a callback signed with VISTA's scheme (``X-ML-Signature: sha256=...``) speaks VISTA;
- so does a callback sent unsigned by an authenticated user (only VISTA has those);
- a presign body with ``artifact_type`` (VISTA) rather than ``artifacts`` (the document).

Input shapes are unambiguous, so VISTA's annotation items are read whoever sends them: boxes as
``data: {x_min, y_min, x_max, y_max, image_width?, image_height?}``, heatmaps naming the
``storage_path`` their presign returned, classifications with ``data.topk``, ``class_name`` and
``confidence`` left null where VISTA allows it, and ``ordering``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from lookout.analyses.schemas import ArtifactSpec, VistaAnalysis, VistaAnnotation
from lookout.errors import InvalidInput

# VISTA's presign: a type from this list and an optional file name of these characters.
ARTIFACT_TYPES = {
    "heatmap": "image/png",
    "mask": "image/png",
    "segmentation": "image/png",
    "log": "text/plain",
    "metadata": "application/json",
}
_FILENAME = re.compile(r"[A-Za-z0-9_.-]{1,255}")
_BOX_KEYS = ("x_min", "y_min", "x_max", "y_max")
# Types whose class VISTA may leave out: one is made from the data (see _default_class).
_CLASS_MADE = ("heatmap", "classification")
STORAGE_PREFIX = "ml_outputs"


def is_vista_presign(data: dict[str, Any]) -> bool:
    """VISTA asks for one upload by `artifact_type`; the document lists `artifacts`."""
    return "artifact_type" in data and "artifacts" not in data


def presign_spec(data: dict[str, Any]) -> ArtifactSpec:
    """The artifact a VISTA presign body asks for (its name defaults to `<type>.bin`)."""
    kind = data.get("artifact_type")
    if kind not in ARTIFACT_TYPES:
        raise InvalidInput(
            f"artifact_type: must be one of {', '.join(ARTIFACT_TYPES)}; got {kind!r}",
            field="artifact_type",
        )
    filename = data.get("filename")
    if filename is None:
        filename = f"{kind}.bin"
    if not isinstance(filename, str) or not _FILENAME.fullmatch(filename) or ".." in filename:
        raise InvalidInput(
            "filename: 1 to 255 letters, digits, '_', '-' or '.', without '..'",
            field="filename",
        )
    return ArtifactSpec(artifact_name=filename, content_type=ARTIFACT_TYPES[kind])


def storage_path(analysis_id: uuid.UUID, artifact_name: str) -> str:
    """How VISTA names an artifact to its clients: ``ml_outputs/<analysis>/<file>``."""
    return f"{STORAGE_PREFIX}/{analysis_id}/{artifact_name}"


def parse_storage_path(path: str, *, field: str = "path") -> tuple[uuid.UUID, str]:
    """The analysis and artifact a VISTA storage path names, or InvalidInput."""
    parts = path.split("/")
    if len(parts) != 3 or parts[0] != STORAGE_PREFIX or not parts[2]:
        raise InvalidInput(
            f"{field}: must look like {STORAGE_PREFIX}/<analysis id>/<file name>", field=field
        )
    try:
        return uuid.UUID(parts[1]), parts[2]
    except ValueError:
        raise InvalidInput(f"{field}: {parts[1]!r} is not an analysis id", field=field) from None


def read_items(items: Any, analysis_id: uuid.UUID) -> Any:
    """Bulk items with VISTA's shapes rewritten to the document's; others pass unchanged."""
    if not isinstance(items, list):
        return items
    return [_read_item(item, i, analysis_id) for i, item in enumerate(items)]


def _read_item(item: Any, index: int, analysis_id: uuid.UUID) -> Any:
    if not isinstance(item, dict) or _in_document_shape(item):
        return item
    item = dict(item)
    data = item.get("data")
    data = dict(data) if isinstance(data, dict) else data
    kind = item.get("annotation_type")
    where = f"annotations[{index}]"
    if _is_corner_box(kind, data):
        data.update(_box(data, where))
    if "storage_path" in item:
        path = item.pop("storage_path")
        if path is not None:
            data = data if isinstance(data, dict) else {}
            data.setdefault("artifact_name", _artifact_of(path, analysis_id, where))
    if item.get("class_name") is None and kind in _CLASS_MADE:
        item["class_name"] = _default_class(kind, data)
    if "ordering" in item and isinstance(data, dict):
        data.setdefault("ordering", item.pop("ordering"))
    if data is not None:
        item["data"] = data
    return item


def _in_document_shape(item: dict[str, Any]) -> bool:
    """Nothing of VISTA's to rewrite: the item passes as it is (most posts; copying every item
    and its data cost a 1,000-box post almost a millisecond)."""
    data = item.get("data")
    return (
        "storage_path" not in item
        and "ordering" not in item
        and not (item.get("class_name") is None and item.get("annotation_type") in _CLASS_MADE)
        and not _is_corner_box(item.get("annotation_type"), data)
    )


def _is_corner_box(kind: Any, data: Any) -> bool:
    return (
        kind == "bounding_box"
        and isinstance(data, dict)
        and "bbox" not in data
        and any(key in data for key in _BOX_KEYS)
    )


def _box(data: dict[str, Any], where: str) -> dict[str, Any]:
    """VISTA's corner box, in pixels of `image_width` x `image_height` when it gives them."""
    values = []
    for key in _BOX_KEYS:
        value = data.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            field = f"{where}.data.{key}"
            raise InvalidInput(f"{field}: must be a number", field=field)
        values.append(float(value))
    width, height = data.get("image_width"), data.get("image_height")
    if width is None and height is None:
        return {"bbox": values, "format": "xyxy"}
    for key, size in (("image_width", width), ("image_height", height)):
        if not isinstance(size, (int, float)) or isinstance(size, bool) or size <= 0:
            field = f"{where}.data.{key}"
            raise InvalidInput(f"{field}: must be a positive number of pixels", field=field)
    assert isinstance(width, (int, float)) and isinstance(height, (int, float))
    x1, y1, x2, y2 = values
    # The frame VISTA's pipeline measured in: scaled to the stored image by normalizing.
    return {"bbox": [x1 / width, y1 / height, x2 / width, y2 / height], "format": "xyxyn"}


def _artifact_of(path: Any, analysis_id: uuid.UUID, where: str) -> str:
    field = f"{where}.storage_path"
    if not isinstance(path, str):
        raise InvalidInput(f"{field}: must be the storage_path presign returned", field=field)
    named, artifact = parse_storage_path(path, field=field)
    if named != analysis_id:
        raise InvalidInput(f"{field}: names another analysis ({named})", field=field)
    return artifact


def _default_class(kind: str, data: Any) -> str:
    """VISTA lets heatmaps and classifications go without a class; Lookout stores one."""
    if kind == "classification" and isinstance(data, dict):
        topk = data.get("topk")
        if isinstance(topk, list) and topk and isinstance(topk[0], dict):
            name = topk[0].get("class")
            if isinstance(name, str) and name.strip():
                return name
    return kind


def analysis_json(analysis: Any) -> dict[str, Any]:
    """An analysis as VISTA answers with it (status, finalize)."""
    return VistaAnalysis.model_validate(analysis).model_dump(mode="json")


def annotation_json(prediction: Any) -> dict[str, Any]:
    """A stored prediction as one of VISTA's `MLAnnotation`s."""
    data = prediction.data or {}
    artifact = data.get("artifact_name")
    ordering = data.get("ordering")
    read = VistaAnnotation(
        id=prediction.id,
        analysis_id=prediction.analysis_id,
        annotation_type=prediction.annotation_type,
        class_name=prediction.class_name,
        confidence=prediction.confidence,
        data=data,
        storage_path=storage_path(prediction.analysis_id, artifact)
        if isinstance(artifact, str)
        else None,
        ordering=ordering if isinstance(ordering, int) else None,
        created_at=prediction.created_at,
    )
    return read.model_dump(mode="json")
