"""COCO detection: reading a COCO file (checked) and writing `annotations.json` with `images/`,
or a results file (`results.json`, the list pycocotools' `COCO.loadRes` takes).

Boxes are [x, y, width, height] in pixels; category ids start at 1 in what Lookout writes.
Image ids are the frames' stored ids (`lookout.exports.ids`), the same in every export, so a
results file scores against a truth file. Lookout keeps its own fields beside COCO's
(sequence, frame time, split, false positives), and reads them back, so an export imported
again keeps its sequences and splits. Truth boxes carry no `score`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lookout.format_names import RESULTS_FILE
from lookout.formats.dataset import (
    PIXEL_TOLERANCE,
    Dataset,
    DatasetBox,
    DatasetFalsePositive,
    DatasetImage,
    Xyxy,
    apply_fields,
    bad,
    clip,
    inside,
    is_number,
    normalized_xyxy,
    parse_time,
    probe,
)
from lookout.formats.writing import (
    PIXEL_DIGITS,
    SPLITS,
    Item,
    Writer,
    false_positive_fields,
    file_chunks,
    frame_fields,
    image_labels,
    iso,
    json_bytes,
    pixels,
    spool,
    xywh,
)
from lookout.sequences.models import FALSE_POSITIVE_TYPES
from lookout.truth.reading import Box

# --- Reading -------------------------------------------------------------------------------


def split_files(folder: Path) -> list[Path]:
    """The `annotations/instances_<split>.json` files of a folder in Datumaro's layout."""
    return sorted((folder / "annotations").glob("instances_*.json"))


def read_coco(path: Path, images_dir: Path | None = None) -> Dataset:
    """Read and check COCO: a file, or a folder with `annotations.json` (one file over every
    split) or `annotations/instances_<split>.json` (one per split, Datumaro's layout)."""
    if path.is_dir() and not (path / "annotations.json").is_file() and split_files(path):
        parts = [read_coco(file, images_dir) for file in split_files(path)]
        images = [image for part in parts for image in part.images]
        classes = list(dict.fromkeys(c for part in parts for c in part.classes))
        return Dataset("coco", path.name, classes, images)
    if path.is_dir():
        path = path / "annotations.json"
    doc = _load(path)
    split = _split_of_file(path)
    images_dir = images_dir or _default_images_dir(path, split)
    dataset = _read_document(doc, path, images_dir)
    for image in dataset.images:
        image.split = image.split or split
    return dataset


def _split_of_file(path: Path) -> str | None:
    """`val` for `instances_val.json`: the split a per-split file holds."""
    name = path.stem.removeprefix("instances_")
    return name if path.stem.startswith("instances_") and name in SPLITS else None


def _default_images_dir(path: Path, split: str | None) -> Path:
    """`images/<split>/` beside `annotations/` for a per-split file; `images/` beside the
    file; else the file's folder."""
    if split is not None and (path.parent.parent / "images" / split).is_dir():
        return path.parent.parent / "images" / split
    return path.parent / "images" if (path.parent / "images").is_dir() else path.parent


def _read_document(doc: dict[str, Any], path: Path, images_dir: Path) -> Dataset:
    """Check a loaded COCO document and read its images and boxes."""
    where = path.name
    raw_images = _coco_list(doc, "images", where)
    raw_annotations = _coco_list(doc, "annotations", where, default=[])
    categories = _categories(_coco_list(doc, "categories", where), where)
    by_id = _images(raw_images, where, images_dir)
    seen_annotations: set[Any] = set()
    for i, ann in enumerate(raw_annotations):
        _coco_annotation(ann, i, where, by_id, categories, seen_annotations)
    used = {box.class_name for image in by_id.values() for box in image.boxes}
    classes = [name for name in categories.values() if name in used]
    return Dataset("coco", path.stem, classes, list(by_id.values()))


def _load(path: Path) -> dict[str, Any]:
    """The COCO file's JSON object."""
    if not path.is_file():
        raise bad(f"{path}: no such COCO file", "path")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad(f"{path}: not valid JSON ({exc})", "path") from exc
    if not isinstance(doc, dict):
        raise bad(f"{path}: a COCO file is a JSON object with images, annotations, categories")
    return doc


def _coco_list(
    doc: dict[str, Any], key: str, where: str, default: list[Any] | None = None
) -> list[Any]:
    """A member of a COCO file that must be a list."""
    value = doc.get(key, default)
    if not isinstance(value, list):
        raise bad(f"{where}: `{key}` must be a list", key)
    return value


def _categories(raw: list[Any], where: str) -> dict[Any, str]:
    """Category names by id; ids used twice and nameless categories are refused."""
    categories: dict[Any, str] = {}
    for i, cat in enumerate(raw):
        if not isinstance(cat, dict) or "id" not in cat:
            raise bad(f"{where}: categories[{i}] must be an object with id and name", "categories")
        name = cat.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise bad(f"{where}: categories[{i}].name must be a non-empty string", "categories")
        if cat["id"] in categories:
            raise bad(f"{where}: categories[{i}]: id {cat['id']!r} is used twice", "categories")
        categories[cat["id"]] = name.strip()
    return categories


def _images(raw: list[Any], where: str, images_dir: Path) -> dict[Any, DatasetImage]:
    """Images by id, each file checked; ids used twice are refused."""
    by_id: dict[Any, DatasetImage] = {}
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or "id" not in entry:
            raise bad(f"{where}: images[{i}] must be an object with id and file_name", "images")
        image = _coco_image(entry, i, where, images_dir)
        if entry["id"] in by_id:
            raise bad(f"{where}: images[{i}]: id {entry['id']!r} is used twice", "images")
        by_id[entry["id"]] = image
    return by_id


def image_file(entry: Any, label: str, images_dir: Path) -> DatasetImage:
    """The image file an entry names, probed, its declared size checked against the file."""
    if not isinstance(entry, dict):
        raise bad(f"{label} must be an object with file_name, width and height", "images")
    name = entry.get("file_name")
    if not isinstance(name, str) or not name.strip():
        raise bad(f"{label}.file_name must be a non-empty string", "images")
    file_path = images_dir / name
    if not inside(file_path, images_dir):
        raise bad(f"{label}.file_name {name!r} points outside the images folder", "images")
    width, height, sha = probe(file_path, label)
    for key, actual in (("width", width), ("height", height)):
        declared = entry.get(key)
        if declared is not None and declared != actual:
            raise bad(
                f"{label}: {key} is {declared} in the file but {name} is {width}x{height}", "images"
            )
    return DatasetImage(file_path, name, width, height, sha256=sha)


def _coco_image(entry: Any, i: int, where: str, images_dir: Path) -> DatasetImage:
    """One entry of `images`, with Lookout's sequence fields and false positives."""
    label = f"{where}: images[{i}]"
    image = image_file(entry, label, images_dir)
    image.captured_at = parse_time(entry.get("date_captured"))
    apply_fields(image, entry)
    for k, fp in enumerate(entry.get("false_positives") or []):
        image.false_positives.append(false_positive(fp, f"{label}.false_positives[{k}]", image))
    return image


def false_positive(fp: Any, label: str, image: DatasetImage) -> DatasetFalsePositive:
    """A false positive by normalized `xyxyn` or pixel `bbox`; unknown types are dropped."""
    if not isinstance(fp, dict):
        raise bad(f"{label} must be an object with types and bbox", "images")
    types = [t for t in fp.get("types") or [] if t in FALSE_POSITIVE_TYPES]
    if fp.get("xyxyn") is not None:
        box = normalized_xyxy(fp["xyxyn"], label)
    else:
        box = _pixel_box(fp.get("bbox"), label, image)
    return DatasetFalsePositive(types, box, fp.get("track_id"))


def _pixel_box(bbox: Any, label: str, image: DatasetImage) -> Xyxy:
    """COCO [x, y, w, h] in pixels to normalized xyxy; outside the image is an error."""
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(is_number(v) for v in bbox)):
        raise bad(f"{label}.bbox must be [x, y, width, height] with 4 numbers", "annotations")
    x, y, w, h = (float(v) for v in bbox)
    if w <= 0 or h <= 0:
        raise bad(f"{label}.bbox {bbox} has no area (width and height must be > 0)", "annotations")
    tol = PIXEL_TOLERANCE
    if x < -tol or y < -tol or x + w > image.width + tol or y + h > image.height + tol:
        raise bad(
            f"{label}.bbox {bbox} lies outside its image {image.file_name} "
            f"({image.width}x{image.height})",
            "annotations",
        )
    return clip((x / image.width, y / image.height, (x + w) / image.width, (y + h) / image.height))


def _check_references(
    ann: dict[str, Any],
    label: str,
    by_id: dict[Any, DatasetImage],
    categories: dict[Any, str],
    seen: set[Any],
) -> None:
    """An annotation's id is new, its image and category exist, and it is not a crowd."""
    if "id" in ann:
        if ann["id"] in seen:
            raise bad(f"{label}: id {ann['id']!r} is used twice", "annotations")
        seen.add(ann["id"])
    if ann.get("image_id") not in by_id:
        raise bad(
            f"{label}: image_id {ann.get('image_id')!r} is not among the images (dangling id)",
            "annotations",
        )
    if ann.get("category_id") not in categories:
        raise bad(
            f"{label}: category_id {ann.get('category_id')!r} is not among the categories "
            "(dangling id)",
            "annotations",
        )
    if ann.get("iscrowd"):
        raise bad(f"{label}: crowd annotations (iscrowd 1) are not supported", "annotations")


def _coco_annotation(
    ann: Any,
    i: int,
    where: str,
    by_id: dict[Any, DatasetImage],
    categories: dict[Any, str],
    seen: set[Any],
) -> None:
    """Check one entry of `annotations` and add its box to its image."""
    label = f"{where}: annotations[{i}]"
    if not isinstance(ann, dict):
        raise bad(f"{label} must be an object", "annotations")
    _check_references(ann, label, by_id, categories, seen)
    image = by_id[ann["image_id"]]
    box = _pixel_box(ann.get("bbox"), label, image)
    score = ann.get("score")
    if score is not None and not (is_number(score) and 0 <= score <= 1):
        raise bad(f"{label}.score must be a number between 0 and 1", "annotations")
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


# --- Writing -------------------------------------------------------------------------------


class _Part:
    """One COCO document being spooled: its image entries and annotations."""

    def __init__(self) -> None:
        self.images = spool()
        self.annotations = spool()
        self.image_count = 0
        self.annotation_count = 0

    def add_image(self, entry: dict[str, Any]) -> None:
        self.image_count += 1
        self.images.write((b",\n" if self.image_count > 1 else b"") + json_bytes(entry))

    def add_annotation(self, ann: dict[str, Any]) -> None:
        self.annotation_count += 1
        self.annotations.write((b",\n" if self.annotation_count > 1 else b"") + json_bytes(ann))

    def close(self) -> None:
        self.images.close()
        self.annotations.close()


def split_file(split: str) -> str:
    """Where a split's COCO file goes: Datumaro's and FiftyOne's default COCO layout."""
    return f"annotations/instances_{split}.json"


class CocoWriter(Writer):
    """COCO detection, in the layout Datumaro and FiftyOne expect: `images/<split>/` and
    `annotations/instances_<split>.json` (file names relative to the split's folder), plus
    `annotations.json` over every split (file names `<split>/<name>` relative to `images/`),
    which earlier exports wrote and COCOeval scores a results file against. Category ids
    start at 1."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.whole = _Part()
        self.parts = {split: _Part() for split in SPLITS}
        self.annotation_id = 0
        self.image_id = 0

    def image_path(self, item: Item) -> str:
        """images/<split>/<name>."""
        return f"images/{item.split}/{item.name}"

    def add(self, item: Item) -> None:
        """Spool the image's entry and its boxes' annotations, in both documents."""
        super().add(item)
        # Without a stored id (a writer used on its own), images are numbered in order.
        self.image_id = item.coco_id if item.coco_id is not None else self.whole.image_count + 1
        entry = self._image_entry(item)
        part = self.parts[item.split]
        part.add_image(entry)
        self.whole.add_image({**entry, "file_name": f"{item.split}/{item.name}"})
        for box in item.boxes:
            self.annotation_id += 1
            ann = self._annotation(item, box)
            part.add_annotation(ann)
            self.whole.add_annotation(ann)

    def _image_entry(self, item: Item) -> dict[str, Any]:
        """An entry of `images`: COCO's fields, then Lookout's."""
        image = item.frame.image
        entry: dict[str, Any] = {
            "id": self.image_id,
            "file_name": item.name,
            "width": image.width,
            "height": image.height,
            "date_captured": iso(image.captured_at) or "",
        }
        if item.url:
            entry["coco_url"] = item.url
        entry.update(frame_fields(item))
        entry.update(image_labels(item))
        if item.false_positives:
            entry["false_positives"] = false_positive_fields(item)
        return entry

    def _annotation(self, item: Item, box: Box) -> dict[str, Any]:
        """An entry of `annotations` for one box of the current image."""
        image = item.frame.image
        sequence = item.frame.sequence
        bbox = xywh(pixels(box.xyxyn, image.width, image.height))
        ann: dict[str, Any] = {
            "id": self.annotation_id,
            "image_id": self.image_id,
            "category_id": self.class_index[box.class_name] + 1,
            "bbox": bbox,
            "area": round(bbox[2] * bbox[3], PIXEL_DIGITS),
            "iscrowd": 0,
            "segmentation": [],
            "track_id": box.track_id,
            "sequence_id": str(sequence.id) if sequence else None,
            "frame_time": iso(image.captured_at),
        }
        if box.confidence is not None and self.info.source != "reviews":
            ann["score"] = box.confidence  # a model's; truth has no score
        if box.prediction_id is not None:
            ann["lookout_prediction_id"] = str(box.prediction_id)
        return ann

    def _document(self, part: _Part) -> Iterator[bytes]:
        """A whole JSON document, the spooled images and annotations copied in."""
        categories = [
            {"id": i + 1, "name": name, "supercategory": "smoke" if name == "smoke" else "object"}
            for i, name in enumerate(self.classes)
        ]
        yield b'{"info":' + json_bytes(self.header()) + b',\n"licenses":[],\n"categories":'
        yield json_bytes(categories) + b',\n"images":[\n'
        yield from file_chunks(part.images)
        yield b'\n],\n"annotations":[\n'
        yield from file_chunks(part.annotations)
        yield b"\n]}\n"

    def finish(self) -> None:
        """Write each split's file that has images, `annotations.json` and the manifest."""
        for split, part in self.parts.items():
            if part.image_count:
                self.sink.write_chunks(
                    split_file(split), self._document(part), compress=True, large=True
                )
            part.close()
        self.sink.write_chunks(
            "annotations.json", self._document(self.whole), compress=True, large=True
        )
        self.whole.close()
        super().finish()


class CocoResultsWriter(Writer):
    """`results.json`: a model's boxes as COCO results `[{image_id, category_id, bbox, score}]`.

    Image ids are the frames' stored ids and category ids the truth's classes (from 1), so the
    file scores against a COCO truth export of the same selection (`COCO.loadRes`). Boxes
    without a confidence get score 1.0, as `lookout evaluate` counts them. No images.
    """

    copies_images = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results = spool()
        self.count = 0

    def add(self, item: Item) -> None:
        """Spool one result per box of the image (no manifest: there are no images)."""
        image = item.frame.image
        for box in item.boxes:
            bbox = xywh(pixels(box.xyxyn, image.width, image.height))
            result = {
                "image_id": item.coco_id,
                "category_id": self.class_index[box.class_name] + 1,
                "bbox": bbox,
                "score": 1.0 if box.confidence is None else box.confidence,
            }
            self.count += 1
            self.results.write((b",\n" if self.count > 1 else b"") + json_bytes(result))

    def _document(self) -> Iterator[bytes]:
        yield b"[\n"
        yield from file_chunks(self.results)
        yield b"\n]\n"

    def finish(self) -> None:
        """Write `results.json`."""
        self.sink.write_chunks(RESULTS_FILE, self._document(), compress=True, large=True)
        self.results.close()
