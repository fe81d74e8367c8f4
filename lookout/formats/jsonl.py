"""JSON Lines: `annotations.jsonl`, one JSON object per image with its boxes, written and
read back (with Lookout's fields: sequence, camera, split, false positives)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lookout.formats.coco import false_positive, image_file
from lookout.formats.dataset import (
    Dataset,
    DatasetBox,
    DatasetImage,
    apply_fields,
    bad,
    images_folder,
    is_number,
    normalized_xyxy,
)
from lookout.formats.writing import (
    Item,
    Writer,
    false_positive_fields,
    frame_fields,
    image_labels,
    json_bytes,
    pixels,
    spool,
    xywh,
)

JSONL_FILE = "annotations.jsonl"


def read_jsonl(path: Path, images_dir: Path | None = None) -> Dataset:
    """Read and check `annotations.jsonl` (a folder holding it, or the file); images under
    `images_dir` (default `images/` beside the file)."""
    if path.is_dir():
        path = path / JSONL_FILE
    if not path.is_file():
        raise bad(f"{path}: no such JSON Lines file", "path")
    images_dir = images_dir or images_folder(path.parent, "images")
    images: list[DatasetImage] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                images.append(_jsonl_image(line, f"{path.name}:{number}", images_dir))
    classes = list(dict.fromkeys(b.class_name for image in images for b in image.boxes))
    return Dataset("jsonl", path.parent.name, classes, images)


def _jsonl_image(line: str, label: str, images_dir: Path) -> DatasetImage:
    """One line: the image file, its boxes, false positives and Lookout's fields."""
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as exc:
        raise bad(f"{label}: not valid JSON ({exc})", "path") from exc
    image = image_file(entry, label, images_dir)
    apply_fields(image, entry)
    boxes = entry.get("boxes") or []
    if not isinstance(boxes, list):
        raise bad(f"{label}: boxes must be a list", "boxes")
    for k, box in enumerate(boxes):
        image.boxes.append(_jsonl_box(box, f"{label}: boxes[{k}]"))
    for k, fp in enumerate(entry.get("false_positives") or []):
        image.false_positives.append(false_positive(fp, f"{label}: false_positives[{k}]", image))
    return image


def _jsonl_box(box: Any, label: str) -> DatasetBox:
    """A box by class name and normalized xyxy, with its confidence and track."""
    if not isinstance(box, dict) or not isinstance(box.get("class_name"), str):
        raise bad(f"{label} must be an object with class_name and xyxyn", "boxes")
    xyxyn = normalized_xyxy(box.get("xyxyn"), label)
    confidence = box.get("confidence")
    if confidence is not None and not (is_number(confidence) and 0 <= confidence <= 1):
        raise bad(f"{label}.confidence must be a number between 0 and 1", "boxes")
    return DatasetBox(
        box["class_name"],
        xyxyn,
        confidence=confidence,
        track_id=box.get("track_id"),
        data={"bbox": list(xyxyn), "format": "xyxyn"},
    )


def record(item: Item) -> dict[str, Any]:
    """An image's line: file, size, Lookout's fields, URL, boxes and false positives."""
    image = item.frame.image
    line: dict[str, Any] = {
        "file_name": item.name,
        "width": image.width,
        "height": image.height,
        **frame_fields(item),
        **image_labels(item),
        "url": item.url,
        "boxes": [
            {
                "class_name": b.class_name,
                "xyxyn": list(b.xyxyn),
                "bbox": xywh(pixels(b.xyxyn, image.width, image.height)),
                "confidence": b.confidence,
                "track_id": b.track_id,
            }
            for b in item.boxes
        ],
    }
    if item.false_positives:
        line["false_positives"] = false_positive_fields(item)
    return line


class JsonlWriter(Writer):
    """`annotations.jsonl`: one JSON object per image with its boxes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lines = spool()

    def add(self, item: Item) -> None:
        """Spool the image's line."""
        super().add(item)
        self.lines.write(json_bytes(record(item)) + b"\n")

    def finish(self) -> None:
        """Write annotations.jsonl and the manifest."""
        self.sink.write_file(JSONL_FILE, self.lines)
        self.lines.close()
        super().finish()
