"""What dataset readers return, and the checks they share.

A reader checks everything before anything is stored (the file's shape, dangling ids, boxes
outside their image, missing or unreadable image files) and raises InvalidInput naming the
file, item and field of the first problem.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from lookout.errors import InvalidInput

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
PIXEL_TOLERANCE = 0.5  # COCO boxes may pass the border by rounding
NORMALIZED_TOLERANCE = 1e-4

Xyxy = tuple[float, float, float, float]


@dataclass
class DatasetBox:
    """A box of a dataset: class, normalized xyxy, and what the file said about it."""

    class_name: str
    xyxyn: Xyxy
    confidence: float | None = None
    track_id: Any = None
    data: dict[str, Any] | None = None  # as posted to the analysis (format and bbox)


@dataclass
class DatasetFalsePositive:
    """A box marked as not smoke, with its types (Lookout's COCO extension)."""

    types: list[str]
    xyxyn: Xyxy
    track_id: Any = None


@dataclass
class DatasetImage:
    """An image file of a dataset with its boxes and what is known of its sequence."""

    path: Path
    file_name: str
    width: int
    height: int
    boxes: list[DatasetBox] = field(default_factory=list)
    false_positives: list[DatasetFalsePositive] = field(default_factory=list)
    captured_at: datetime | None = None
    sequence_key: str | None = None
    frame_index: int | None = None
    sha256: str = ""
    split: str | None = None  # train, val or test, when the dataset says
    # What Lookout's own exports say of the frame, so a round trip keeps it.
    original_filename: str | None = None
    camera_name: str | None = None
    sequence_source: str | None = None
    sequence_source_id: str | None = None
    image_source: str | None = None
    image_source_id: str | None = None


@dataclass
class Dataset:
    """A checked dataset: its format, name, classes in use and images."""

    format: str
    name: str
    classes: list[str]
    images: list[DatasetImage]


SPLIT_NAMES = ("train", "val", "test")


def text(value: Any) -> str | None:
    """A non-empty string, stripped; None for anything else (an empty CSV cell, a null)."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def apply_fields(image: DatasetImage, fields: dict[str, Any]) -> None:
    """Lookout's frame fields (`lookout.formats.writing.frame_fields`, whatever format carried
    them) onto an image read back: sequence, order, time, split, camera, names."""
    image.captured_at = parse_time(fields.get("frame_time")) or image.captured_at
    source, seq = text(fields.get("sequence_source")), text(fields.get("sequence_source_id"))
    seq = seq or text(fields.get("sequence_id"))
    if seq is not None:
        image.sequence_key = f"{source or ''}:{seq}"
        image.sequence_source, image.sequence_source_id = (
            source,
            text(fields.get("sequence_source_id")),
        )
    index = fields.get("frame_index")
    if isinstance(index, int) or (isinstance(index, str) and index.strip().isdigit()):
        image.frame_index = int(index)
    if fields.get("split") in SPLIT_NAMES:
        image.split = fields["split"]
    image.camera_name = text(fields.get("camera_name")) or image.camera_name
    image.original_filename = text(fields.get("original_filename")) or image.original_filename
    source, source_id = text(fields.get("image_source")), text(fields.get("image_source_id"))
    if source and source_id:
        image.image_source, image.image_source_id = source, source_id


def images_folder(parent: Path, name: str) -> Path:
    """`parent/name` when it is a folder (an export's images), else `parent` itself."""
    return parent / name if (parent / name).is_dir() else parent


def bad(message: str, field: str = "dataset") -> InvalidInput:
    """The error a reader raises for a problem in the dataset."""
    return InvalidInput(message, field=field)


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (naive taken as UTC); None for anything else."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def inside(path: Path, root: Path) -> bool:
    """Whether `path` resolves (links followed) inside `root`."""
    return path.resolve().is_relative_to(root.resolve())


def probe(path: Path, where: str) -> tuple[int, int, str]:
    """Size of an image file (header only) and its sha256; InvalidInput when unreadable."""
    if not path.is_file():
        raise bad(f"{where}: image file {path} does not exist", "file_name")
    try:
        with PILImage.open(path) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError) as exc:
        raise bad(f"{where}: {path} is not a readable image ({exc})", "file_name") from exc
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return width, height, digest.hexdigest()


def clip(box: Xyxy) -> Xyxy:
    """A normalized box with every side within [0, 1]."""
    x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in box)
    return (x1, y1, x2, y2)


def normalized_xyxy(values: Any, label: str) -> Xyxy:
    """Four numbers of a normalized box inside the image with an area, clipped."""
    if not (isinstance(values, list) and len(values) == 4 and all(is_number(v) for v in values)):
        raise bad(f"{label}: xyxyn must be 4 numbers", "annotations")
    x1, y1, x2, y2 = (float(v) for v in values)
    tol = NORMALIZED_TOLERANCE
    if min(x1, y1) < -tol or max(x2, y2) > 1 + tol or x2 <= x1 or y2 <= y1:
        raise bad(f"{label}: box {values} is outside the image or has no area", "annotations")
    return clip((x1, y1, x2, y2))
