"""Importing datasets: a COCO file or an Ultralytics YOLO folder, as analyses or as reviews.

Two phases. Reading checks everything first (the file's shape, dangling image and category ids,
boxes outside their image, missing or unreadable image files, class ids out of range) and
raises InvalidInput naming the file, item and field of the first problem, before anything is
stored. Storing then goes image by image through the images service (object and row together);
if it fails part way (storage down, a database error), what this import created is removed
again, so a dataset is imported whole or not at all.

Images are recognized by content: an image whose bytes (sha256) are already in the project is
reused, so a tool's predictions on a dataset imported earlier land on the same images, and a
second run of the same import adds nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from sqlalchemy.orm import Session

from lookout.analyses import service as analyses
from lookout.analyses.models import Analysis, AnalysisStatus
from lookout.auth.principal import Principal
from lookout.errors import InvalidInput
from lookout.images import service as images
from lookout.images.models import Image
from lookout.projects import service as projects
from lookout.sequences import reviews
from lookout.sequences import service as sequences
from lookout.sequences.models import (
    FALSE_POSITIVE_TYPES,
    SMOKE_TYPES,
    ProcessingStage,
    Sequence,
    SequenceReview,
)
from lookout.sequences.schemas import ReviewWrite, Track, TrackBox
from lookout.storage import ObjectStorage

log = logging.getLogger(__name__)

FORMATS = ("coco", "yolo")
IMPORT_AS = ("analysis", "reviews")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
REVIEW_CLASSES = ("smoke", *SMOKE_TYPES)
PIXEL_TOLERANCE = 0.5  # COCO boxes may pass the border by rounding
NORMALIZED_TOLERANCE = 1e-4
SOURCE = "dataset"


@dataclass
class DatasetBox:
    class_name: str
    xyxyn: tuple[float, float, float, float]
    confidence: float | None = None
    track_id: Any = None
    data: dict[str, Any] | None = None  # as posted to the analysis (format and bbox)


@dataclass
class DatasetFalsePositive:
    types: list[str]
    xyxyn: tuple[float, float, float, float]
    track_id: Any = None


@dataclass
class DatasetImage:
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


@dataclass
class Dataset:
    format: str
    name: str
    classes: list[str]
    images: list[DatasetImage]


@dataclass
class ImportReport:
    format: str
    images_created: int = 0
    images_reused: int = 0
    analyses: int = 0
    predictions: int = 0
    sequences: int = 0
    reviews: int = 0
    skipped: list[str] = field(default_factory=list)


def _bad(message: str, field: str = "dataset") -> InvalidInput:
    return InvalidInput(message, field=field)


def detect_format(path: Path) -> str:
    """coco for a .json file, yolo for a folder with a data.yaml (or classes.txt)."""
    if path.is_file() and path.suffix.lower() == ".json":
        return "coco"
    if path.is_dir():
        if _yolo_yaml(path) is not None or (path / "classes.txt").is_file():
            return "yolo"
        if (path / "annotations.json").is_file():
            return "coco"
    raise _bad(
        f"{path}: cannot tell the dataset format (expected a COCO .json file or a YOLO folder "
        "with data.yaml); name it with --format coco or --format yolo",
        "format",
    )


def check_format(value: str) -> str:
    if value not in FORMATS:
        raise _bad(f"format: unknown dataset format {value!r}; use coco or yolo", "format")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _probe(path: Path, where: str) -> tuple[int, int, str]:
    """Size of an image file (header only) and its sha256; InvalidInput when unreadable."""
    if not path.is_file():
        raise _bad(f"{where}: image file {path} does not exist", "file_name")
    try:
        with PILImage.open(path) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError) as exc:
        raise _bad(f"{where}: {path} is not a readable image ({exc})", "file_name") from exc
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return width, height, digest.hexdigest()


# --- COCO ----------------------------------------------------------------------------------


def _coco_list(
    doc: dict[str, Any], key: str, where: str, default: list[Any] | None = None
) -> list[Any]:
    """A member of a COCO file that must be a list."""
    value = doc.get(key, default)
    if not isinstance(value, list):
        raise _bad(f"{where}: `{key}` must be a list", key)
    return value


def read_coco(path: Path, images_dir: Path | None = None) -> Dataset:
    """Read and check a COCO detection file; images are looked up under `images_dir`."""
    if path.is_dir():
        path = path / "annotations.json"
    if not path.is_file():
        raise _bad(f"{path}: no such COCO file", "path")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _bad(f"{path}: not valid JSON ({exc})", "path") from exc
    if not isinstance(doc, dict):
        raise _bad(f"{path}: a COCO file is a JSON object with images, annotations, categories")
    if images_dir is None:
        images_dir = path.parent / "images" if (path.parent / "images").is_dir() else path.parent
    where = path.name
    raw_images = _coco_list(doc, "images", where)
    raw_annotations = _coco_list(doc, "annotations", where, default=[])
    raw_categories = _coco_list(doc, "categories", where)
    categories: dict[Any, str] = {}
    for i, cat in enumerate(raw_categories):
        if not isinstance(cat, dict) or "id" not in cat:
            raise _bad(f"{where}: categories[{i}] must be an object with id and name", "categories")
        name = cat.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise _bad(f"{where}: categories[{i}].name must be a non-empty string", "categories")
        if cat["id"] in categories:
            raise _bad(f"{where}: categories[{i}]: id {cat['id']!r} is used twice", "categories")
        categories[cat["id"]] = name.strip()
    by_id: dict[Any, DatasetImage] = {}
    for i, entry in enumerate(raw_images):
        image = _coco_image(entry, i, where, images_dir)
        if entry["id"] in by_id:
            raise _bad(f"{where}: images[{i}]: id {entry['id']!r} is used twice", "images")
        by_id[entry["id"]] = image
    seen_annotations: set[Any] = set()
    for i, ann in enumerate(raw_annotations):
        _coco_annotation(ann, i, where, by_id, categories, seen_annotations)
    used = {box.class_name for image in by_id.values() for box in image.boxes}
    classes = [name for name in categories.values() if name in used]
    return Dataset("coco", path.stem, classes, list(by_id.values()))


def _coco_image(entry: Any, i: int, where: str, images_dir: Path) -> DatasetImage:
    label = f"{where}: images[{i}]"
    if not isinstance(entry, dict) or "id" not in entry:
        raise _bad(f"{label} must be an object with id, file_name, width and height", "images")
    name = entry.get("file_name")
    if not isinstance(name, str) or not name.strip():
        raise _bad(f"{label}.file_name must be a non-empty string", "images")
    file_path = images_dir / name
    if not _inside(file_path, images_dir):
        raise _bad(f"{label}.file_name {name!r} points outside the images folder", "images")
    width, height, sha = _probe(file_path, label)
    for key, actual in (("width", width), ("height", height)):
        declared = entry.get(key)
        if declared is not None and declared != actual:
            raise _bad(
                f"{label}: {key} is {declared} in the file but {name} is {width}x{height}", "images"
            )
    image = DatasetImage(file_path, name, width, height, sha256=sha)
    image.captured_at = _parse_time(entry.get("frame_time")) or _parse_time(
        entry.get("date_captured")
    )
    seq = entry.get("sequence_source_id") or entry.get("sequence_id")
    if seq is not None:
        image.sequence_key = f"{entry.get('sequence_source') or ''}:{seq}"
    if isinstance(entry.get("frame_index"), int):
        image.frame_index = entry["frame_index"]
    for k, fp in enumerate(entry.get("false_positives") or []):
        image.false_positives.append(_false_positive(fp, f"{label}.false_positives[{k}]", image))
    return image


def _false_positive(fp: Any, label: str, image: DatasetImage) -> DatasetFalsePositive:
    if not isinstance(fp, dict):
        raise _bad(f"{label} must be an object with types and bbox", "images")
    types = [t for t in fp.get("types") or [] if t in FALSE_POSITIVE_TYPES]
    if fp.get("xyxyn") is not None:
        box = _normalized_xyxy(fp["xyxyn"], label)
    else:
        box = _pixel_box(fp.get("bbox"), label, image)
    return DatasetFalsePositive(types, box, fp.get("track_id"))


def _normalized_xyxy(values: Any, label: str) -> tuple[float, float, float, float]:
    if not (isinstance(values, list) and len(values) == 4 and all(_number(v) for v in values)):
        raise _bad(f"{label}: xyxyn must be 4 numbers", "annotations")
    x1, y1, x2, y2 = (float(v) for v in values)
    tol = NORMALIZED_TOLERANCE
    if min(x1, y1) < -tol or max(x2, y2) > 1 + tol or x2 <= x1 or y2 <= y1:
        raise _bad(f"{label}: box {values} is outside the image or has no area", "annotations")
    return _clip((x1, y1, x2, y2))


def _clip(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    return tuple(min(max(v, 0.0), 1.0) for v in box)  # type: ignore[return-value]


def _pixel_box(bbox: Any, label: str, image: DatasetImage) -> tuple[float, float, float, float]:
    """COCO [x, y, w, h] in pixels to normalized xyxy; outside the image is an error."""
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_number(v) for v in bbox)):
        raise _bad(f"{label}.bbox must be [x, y, width, height] with 4 numbers", "annotations")
    x, y, w, h = (float(v) for v in bbox)
    if w <= 0 or h <= 0:
        raise _bad(f"{label}.bbox {bbox} has no area (width and height must be > 0)", "annotations")
    tol = PIXEL_TOLERANCE
    if x < -tol or y < -tol or x + w > image.width + tol or y + h > image.height + tol:
        raise _bad(
            f"{label}.bbox {bbox} lies outside its image {image.file_name} "
            f"({image.width}x{image.height})",
            "annotations",
        )
    return _clip((x / image.width, y / image.height, (x + w) / image.width, (y + h) / image.height))


def _coco_annotation(
    ann: Any,
    i: int,
    where: str,
    by_id: dict[Any, DatasetImage],
    categories: dict[Any, str],
    seen: set[Any],
) -> None:
    label = f"{where}: annotations[{i}]"
    if not isinstance(ann, dict):
        raise _bad(f"{label} must be an object", "annotations")
    if "id" in ann:
        if ann["id"] in seen:
            raise _bad(f"{label}: id {ann['id']!r} is used twice", "annotations")
        seen.add(ann["id"])
    if ann.get("image_id") not in by_id:
        raise _bad(
            f"{label}: image_id {ann.get('image_id')!r} is not among the images (dangling id)",
            "annotations",
        )
    if ann.get("category_id") not in categories:
        raise _bad(
            f"{label}: category_id {ann.get('category_id')!r} is not among the categories "
            "(dangling id)",
            "annotations",
        )
    if ann.get("iscrowd"):
        raise _bad(f"{label}: crowd annotations (iscrowd 1) are not supported", "annotations")
    image = by_id[ann["image_id"]]
    box = _pixel_box(ann.get("bbox"), label, image)
    score = ann.get("score")
    if score is not None and not (_number(score) and 0 <= score <= 1):
        raise _bad(f"{label}.score must be a number between 0 and 1", "annotations")
    x, y, w, h = (float(v) for v in ann["bbox"])
    image.boxes.append(
        DatasetBox(
            categories[ann["category_id"]],
            box,
            confidence=score,
            track_id=ann.get("track_id"),
            data={"bbox": [x, y, w, h], "format": "xywh"},
        )
    )


# --- YOLO ----------------------------------------------------------------------------------


def _yolo_yaml(folder: Path) -> Path | None:
    for name in ("data.yaml", "data.yml", "dataset.yaml"):
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.glob("*.yaml"))
    return found[0] if len(found) == 1 else None


def _yolo_names(folder: Path) -> tuple[list[str], dict[str, Any]]:
    config: dict[str, Any] = {}
    path = _yolo_yaml(folder)
    if path is not None:
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise _bad(f"{path.name}: not valid YAML ({exc})", "path") from exc
        if not isinstance(config, dict):
            raise _bad(f"{path.name}: must be a mapping with names", "path")
        names = config.get("names")
        if isinstance(names, dict):
            try:
                ordered = sorted((int(k), v) for k, v in names.items())
            except (TypeError, ValueError) as exc:
                raise _bad(f"{path.name}: names keys must be class indices", "names") from exc
            if [k for k, _ in ordered] != list(range(len(ordered))):
                raise _bad(f"{path.name}: names must be numbered 0..{len(ordered) - 1}", "names")
            names = [v for _, v in ordered]
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise _bad(f"{path.name}: `names` must list the class names", "names")
        return [str(n) for n in names], config
    classes = folder / "classes.txt"
    if classes.is_file():
        names = [line.strip() for line in classes.read_text(encoding="utf-8").splitlines()]
        return [n for n in names if n], config
    raise _bad(f"{folder}: a YOLO folder needs a data.yaml (with names) or a classes.txt", "path")


def _yolo_root(folder: Path, config: dict[str, Any]) -> Path:
    """The folder a YOLO dataset's files must lie in: its own, or data.yaml's absolute path."""
    if isinstance(config.get("path"), str) and Path(config["path"]).is_absolute():
        return Path(config["path"])
    return folder


def _check_inside(path: Path, root: Path, shown: str) -> Path:
    """`path` when it resolves inside `root`; a link to a file elsewhere is refused."""
    if not _inside(path, root):
        raise _bad(
            f"{shown}: resolves to {path.resolve()}, outside the dataset folder {root}; "
            "links out of the dataset are not imported",
            "path",
        )
    return path


def _yolo_image_files(folder: Path, config: dict[str, Any]) -> list[Path]:
    root = _yolo_root(folder, config)
    entries: list[Any] = []
    for split in ("train", "val", "test"):
        value = config.get(split)
        entries.extend(value if isinstance(value, list) else [value] if value else [])
    files: list[Path] = []
    if not entries:
        entries = ["images"]
    for entry in entries:
        target = root / str(entry)
        if not _inside(target, root):
            raise _bad(f"{entry}: points outside the dataset folder", "path")
        if target.is_dir():
            for path in sorted(target.rglob("*")):
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    files.append(_check_inside(path, root, str(path.relative_to(root))))
        elif target.is_file() and target.suffix == ".txt":
            for line in target.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    listed = (target.parent / line.strip()).resolve()
                    if not _inside(listed, root):
                        raise _bad(f"{target.name}: {line.strip()} is outside the folder", "path")
                    files.append(listed)
        else:
            raise _bad(f"{entry}: no such image folder or list in {root}", "path")
    return list(dict.fromkeys(files))


def _label_path(image_path: Path) -> Path:
    """Ultralytics' rule: the last `images` folder becomes `labels`, the suffix `.txt`."""
    parts = list(image_path.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def read_yolo(folder: Path) -> Dataset:
    """Read and check a YOLO folder: data.yaml, images/ and labels/ (class cx cy w h [conf])."""
    if not folder.is_dir():
        raise _bad(f"{folder}: no such YOLO folder", "path")
    names, config = _yolo_names(folder)
    files = _yolo_image_files(folder, config)
    root = _yolo_root(folder, config)
    if not files:
        raise _bad(f"{folder}: no images found", "path")
    out: list[DatasetImage] = []
    for file_path in files:
        shown = str(file_path.relative_to(folder)) if _inside(file_path, folder) else file_path.name
        width, height, sha = _probe(file_path, shown)
        image = DatasetImage(file_path, shown, width, height, sha256=sha)
        label_path = _label_path(file_path)
        if label_path.is_file():
            _check_inside(label_path, root, f"{shown}'s label {label_path.name}")
            for number, line in enumerate(label_path.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    image.boxes.append(_yolo_line(line, f"{label_path.name}:{number}", names))
        out.append(image)
    used = {box.class_name for image in out for box in image.boxes}
    return Dataset("yolo", folder.name, [n for n in names if n in used], out)


def _yolo_line(line: str, label: str, names: list[str]) -> DatasetBox:
    parts = line.split()
    if len(parts) not in (5, 6):
        raise _bad(
            f"{label}: expected `class cx cy w h [confidence]`, got {len(parts)} values "
            "(segmentation and keypoint labels are not imported)",
            "labels",
        )
    try:
        index = int(parts[0])
        values = [float(v) for v in parts[1:]]
    except ValueError as exc:
        raise _bad(f"{label}: not numbers: {line.strip()!r}", "labels") from exc
    if not 0 <= index < len(names):
        raise _bad(f"{label}: class {index} is not in names (0..{len(names) - 1})", "labels")
    if not all(math.isfinite(v) for v in values):
        raise _bad(f"{label}: values must be finite numbers", "labels")
    cx, cy, w, h = values[:4]
    tol = NORMALIZED_TOLERANCE
    x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    if w <= 0 or h <= 0 or min(x1, y1) < -tol or max(x2, y2) > 1 + tol:
        raise _bad(f"{label}: box {values[:4]} lies outside the image or has no area", "labels")
    confidence = values[4] if len(values) == 5 else None
    if confidence is not None and not 0 <= confidence <= 1:
        raise _bad(f"{label}: confidence must be between 0 and 1", "labels")
    box = _clip((x1, y1, x2, y2))
    return DatasetBox(
        names[index], box, confidence=confidence, data={"bbox": list(box), "format": "xyxyn"}
    )


def read_dataset(path: Path, fmt: str | None = None, images_dir: Path | None = None) -> Dataset:
    fmt = check_format(fmt) if fmt else detect_format(path)
    return read_coco(path, images_dir) if fmt == "coco" else read_yolo(path)


# --- Storing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportOptions:
    project_id: uuid.UUID
    import_as: str = "analysis"
    model_name: str | None = None
    model_version: str = ""
    review_stage: str = ProcessingStage.ANNOTATED
    max_pixels: int = 100_000_000

    def __post_init__(self) -> None:
        if self.import_as not in IMPORT_AS:
            raise _bad(f"as: use analysis or reviews, not {self.import_as!r}", "as")
        if self.review_stage not in ("ready_to_annotate", "in_review", "annotated", "needs_check"):
            raise _bad(f"review_stage: {self.review_stage!r} is not a review stage", "review_stage")
        if self.model_name is not None and not (0 < len(self.model_name.strip()) <= 200):
            raise _bad("model_name: 1 to 200 characters", "model_name")


@dataclass
class _Undo:
    images: list[uuid.UUID] = field(default_factory=list)
    analyses: list[uuid.UUID] = field(default_factory=list)
    sequences: list[uuid.UUID] = field(default_factory=list)


def _existing_image(session: Session, project_id: uuid.UUID, sha256: str) -> Image | None:
    query = (
        sa.select(Image)
        .where(Image.project_id == project_id, Image.sha256 == sha256)
        .order_by(Image.created_at, Image.id)
        .limit(1)
    )
    return session.scalar(query)


def import_dataset(
    session: Session,
    storage: ObjectStorage,
    *,
    principal: Principal,
    dataset: Dataset,
    options: ImportOptions,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store a checked dataset in a project; on failure, undo what this import created."""
    if options.import_as == "reviews":
        bad = sorted({b.class_name for i in dataset.images for b in i.boxes} - set(REVIEW_CLASSES))
        if bad:
            raise _bad(
                f"class {', '.join(bad)}: reviews hold smoke boxes (classes "
                f"{', '.join(REVIEW_CLASSES)}); import these as an analysis instead",
                "as",
            )
    project = projects.get_project(session, principal=principal, project_id=options.project_id)
    session.commit()
    report = ImportReport(dataset.format)
    undo = _Undo()
    try:
        if options.import_as == "analysis":
            _import_analysis(
                session, storage, principal, project.id, dataset, options, report, undo, on_progress
            )
        else:
            _import_reviews(
                session, storage, principal, project.id, dataset, options, report, undo, on_progress
            )
    except BaseException:
        session.rollback()
        _undo(session, storage, undo)
        raise
    return report


def _undo(session: Session, storage: ObjectStorage, undo: _Undo) -> None:
    """Remove what a failed import created: analyses on reused images, images, sequences."""
    try:
        if undo.analyses:
            session.execute(sa.delete(Analysis).where(Analysis.id.in_(undo.analyses)))
        keys: list[str] = []
        for image_id in undo.images:
            image = session.get(Image, image_id)
            if image is not None:
                keys.extend(k for k in (image.object_key, image.thumbnail_key) if k)
                session.delete(image)
        if undo.sequences:
            session.execute(sa.delete(Sequence).where(Sequence.id.in_(undo.sequences)))
        session.commit()
        for key in keys:
            try:
                storage.delete(key)
            except Exception:
                log.exception("could not remove object %s while undoing an import", key)
    except Exception:
        session.rollback()
        log.exception("could not undo a failed dataset import completely")


def _annotations(image: DatasetImage) -> list[dict[str, Any]]:
    return [
        {
            "annotation_type": "bounding_box",
            "class_name": box.class_name,
            "confidence": box.confidence,
            "data": box.data or {"bbox": list(box.xyxyn), "format": "xyxyn"},
        }
        for box in image.boxes
    ]


def _store(
    session: Session,
    storage: ObjectStorage,
    principal: Principal,
    project_id: uuid.UUID,
    image: DatasetImage,
    options: ImportOptions,
    undo: _Undo,
    sequence_id: uuid.UUID | None = None,
    on_stored: Callable[[Image], None] | None = None,
) -> Image:
    with image.path.open("rb") as stream:
        upload = images.ImageUpload(
            stream=stream,
            filename=Path(image.file_name).name,
            captured_at=image.captured_at,
            sequence_id=sequence_id,
            source=SOURCE,
            source_id=f"{project_id}:{image.sha256}",
        )
        stored = images.store_image(
            session,
            storage,
            principal=principal,
            project_id=project_id,
            upload=upload,
            max_pixels=options.max_pixels,
            on_stored=on_stored,
        )
    if not stored.existing:
        undo.images.append(stored.image.id)
    return stored.image


def _import_analysis(
    session: Session,
    storage: ObjectStorage,
    principal: Principal,
    project_id: uuid.UUID,
    dataset: Dataset,
    options: ImportOptions,
    report: ImportReport,
    undo: _Undo,
    on_progress: Callable[[int], None] | None,
) -> None:
    model_name = (options.model_name or dataset.name).strip()
    provenance = {"dataset": dataset.name, "format": dataset.format}

    def add_analysis(image: Image, item: DatasetImage) -> None:
        analysis = analyses.create_analysis_row(
            session,
            image=image,
            model_name=model_name,
            model_version=options.model_version,
            status=AnalysisStatus.COMPLETED,
            provenance={**provenance, "file_name": item.file_name},
            created_by_id=principal.user_id if principal.via != "local" else None,
        )
        rows = analyses.insert_annotations(
            session, analysis=analysis, image=image, annotations=_annotations(item)
        )
        undo.analyses.append(analysis.id)
        report.analyses += 1
        report.predictions += len(rows)

    for item in dataset.images:
        existing = _existing_image(session, project_id, item.sha256)
        if existing is None:
            _store(
                session,
                storage,
                principal,
                project_id,
                item,
                options,
                undo,
                on_stored=functools.partial(add_analysis, item=item),
            )
            report.images_created += 1
        else:
            report.images_reused += 1
            already = session.scalar(
                sa.select(Analysis.id)
                .where(
                    Analysis.image_id == existing.id,
                    Analysis.model_name == model_name,
                    Analysis.model_version == options.model_version,
                )
                .limit(1)
            )
            if already is not None:
                report.skipped.append(
                    f"{item.file_name}: already has an analysis of {model_name}"
                    f"@{options.model_version}"
                )
            else:
                add_analysis(existing, item)
                session.commit()
        if on_progress:
            on_progress(1)


def _group_sequences(dataset: Dataset) -> Iterator[tuple[str, list[DatasetImage]]]:
    groups: dict[str, list[DatasetImage]] = defaultdict(list)
    for i, image in enumerate(dataset.images):
        groups[image.sequence_key or f"image:{image.sha256}:{i}"].append(image)
    for key, members in groups.items():
        far = datetime.max.replace(tzinfo=UTC)
        members.sort(
            key=lambda m: (m.captured_at or far, m.frame_index if m.frame_index is not None else 0)
        )
        yield key, members


def _tracks(
    members: list[DatasetImage], frame_ids: dict[int, uuid.UUID], where: str
) -> list[Track]:
    """Boxes to tracks: boxes sharing a track id form one track; others are one-box tracks."""
    grouped: dict[Any, list[tuple[int, Any]]] = defaultdict(list)
    loose: list[tuple[int, Any]] = []
    for position, member in enumerate(members):
        for box in member.boxes:
            key = ("smoke", box.track_id)
            (grouped[key] if box.track_id is not None else loose).append((position, box))
        for fp in member.false_positives:
            key = ("fp", fp.track_id)
            (grouped[key] if fp.track_id is not None else loose).append((position, fp))
    tracks: list[Track] = []
    for entries in [*grouped.values(), *([e] for e in loose)]:
        frames = [position for position, _ in entries]
        if len(frames) != len(set(frames)):
            raise _bad(
                f"{where}: track {entries[0][1].track_id} has two boxes on one frame", "track_id"
            )
        first = entries[0][1]
        boxes = [TrackBox(frame_id=frame_ids[p], xyxyn=list(b.xyxyn)) for p, b in entries]
        if isinstance(first, DatasetBox):
            smoke_type = first.class_name if first.class_name in SMOKE_TYPES else None
            tracks.append(Track(is_smoke=True, smoke_type=smoke_type, boxes=boxes))
        else:
            tracks.append(Track(is_smoke=False, false_positive_types=first.types, boxes=boxes))
    return tracks


def _import_reviews(
    session: Session,
    storage: ObjectStorage,
    principal: Principal,
    project_id: uuid.UUID,
    dataset: Dataset,
    options: ImportOptions,
    report: ImportReport,
    undo: _Undo,
    on_progress: Callable[[int], None] | None,
) -> None:
    for key, members in _group_sequences(dataset):
        started = min((m.captured_at for m in members if m.captured_at), default=None)
        digest = hashlib.sha256(f"{dataset.name}:{key}".encode()).hexdigest()[:40]
        sequence, existed = sequences.get_or_create_sequence(
            session,
            principal=principal,
            values={
                "project_id": project_id,
                "source": SOURCE,
                "source_id": f"{project_id}:{digest}",
                "started_at": started or datetime.now(UTC),
                "extra": {"dataset": dataset.name, "key": key},
            },
        )
        current = _review_of(session, sequence.id)
        if not existed:
            undo.sequences.append(sequence.id)
            report.sequences += 1
        elif current is not None and reviews.is_human(current):
            report.skipped.append(f"sequence {key}: already imported and reviewed")
            if on_progress:
                on_progress(len(members))
            continue
        frame_ids: dict[int, uuid.UUID] = {}
        for position, member in enumerate(members):
            existing = _existing_image(session, project_id, member.sha256)
            if existing is not None and existing.sequence_id != sequence.id:
                raise _bad(
                    f"{member.file_name}: this image is already in the project (image "
                    f"{existing.id}) outside this dataset's sequence; import as an analysis",
                    "file_name",
                )
            if existing is None:
                existing = _store(
                    session,
                    storage,
                    principal,
                    project_id,
                    member,
                    options,
                    undo,
                    sequence_id=sequence.id,
                )
                report.images_created += 1
            else:
                report.images_reused += 1
            frame_ids[position] = existing.id
        tracks = _tracks(members, frame_ids, f"sequence {key}")
        write = ReviewWrite(
            tracks=tracks,
            processing_stage=options.review_stage,
            version=current.version if current is not None else None,
        )
        reviews.save_review(session, principal=principal, sequence_id=sequence.id, write=write)
        report.reviews += 1
        if on_progress:
            on_progress(len(members))


def _review_of(session: Session, sequence_id: uuid.UUID) -> SequenceReview | None:
    return session.scalar(
        sa.select(SequenceReview).where(SequenceReview.sequence_id == sequence_id)
    )
