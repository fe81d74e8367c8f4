"""CSV: `annotations.csv`, one row per box, per negative image and per false positive,
written and read back.

Text cells that a spreadsheet would run as a formula are quoted (`lookout.csvcells`), and the
quote is taken off again when Lookout reads its own CSV.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lookout.csvcells import unquote_cell
from lookout.formats.coco import image_file
from lookout.formats.dataset import (
    Dataset,
    DatasetBox,
    DatasetFalsePositive,
    DatasetImage,
    apply_fields,
    bad,
    images_folder,
    normalized_xyxy,
    text,
)
from lookout.formats.writing import CsvSpool, Item, Writer, frame_fields, pixels

CSV_FILE = "annotations.csv"

CSV_COLUMNS = (
    "image_id",
    "file_name",
    "width",
    "height",
    "split",
    "captured_at",
    "sequence_id",
    "sequence_source_id",
    "camera_name",
    "frame_index",
    "kind",
    "class_name",
    "confidence",
    "x1",
    "y1",
    "x2",
    "y2",
    "x1_px",
    "y1_px",
    "x2_px",
    "y2_px",
    "track_id",
    "false_positive_types",
    "review_stage",
    "sha256",
    "url",
    "original_filename",
    "sequence_source",
    "image_source",
    "image_source_id",
    "classes",
    "metadata",
)


def read_csv(path: Path, images_dir: Path | None = None) -> Dataset:
    """Read and check Lookout's `annotations.csv` (a folder holding it, or the file); images
    under `images_dir` (default `images/` beside the file)."""
    if path.is_dir():
        path = path / CSV_FILE
    if not path.is_file():
        raise bad(f"{path}: no such CSV file", "path")
    images_dir = images_dir or images_folder(path.parent, "images")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"file_name", "kind", "x1", "y1", "x2", "y2"} - set(reader.fieldnames or [])
        if missing:
            raise bad(f"{path.name}: missing columns {', '.join(sorted(missing))}", "path")
        images = _csv_images(reader, path.name, images_dir)
    classes = list(dict.fromkeys(b.class_name for image in images for b in image.boxes))
    return Dataset("csv", path.parent.name, classes, images)


def _csv_images(rows: Iterable[dict[str, str]], where: str, images_dir: Path) -> list[DatasetImage]:
    """Rows grouped by file name (an image's rows follow each other), in order."""
    images: dict[str, DatasetImage] = {}
    for number, raw in enumerate(rows, 2):
        row = {k: unquote_cell(v or "") for k, v in raw.items() if k}
        label = f"{where}:{number}"
        image = images.get(row["file_name"])
        if image is None:
            entry = {**row, "width": _int(row.get("width")), "height": _int(row.get("height"))}
            image = images[row["file_name"]] = image_file(entry, label, images_dir)
            apply_fields(image, {**row, "frame_time": row.get("captured_at")})
        _csv_row(row, label, image)
    return list(images.values())


def _int(value: str | None) -> int | None:
    """An integer cell; None when empty or not a number."""
    value = text(value)
    return int(value) if value is not None and value.isdigit() else None


def _csv_row(row: dict[str, str], label: str, image: DatasetImage) -> None:
    """A box or a false positive onto its image (a negative row adds nothing)."""
    kind = row["kind"]
    if kind == "negative":
        return
    if kind not in ("box", "false_positive"):
        raise bad(f"{label}: kind must be box, negative or false_positive", "kind")
    try:
        values = [float(row[k]) for k in ("x1", "y1", "x2", "y2")]
    except ValueError as exc:
        raise bad(f"{label}: x1, y1, x2, y2 must be numbers", "annotations") from exc
    xyxyn = normalized_xyxy(values, label)
    track = _int(row.get("track_id"))
    if kind == "false_positive":
        types = [t for t in (row.get("false_positive_types") or "").split(";") if t]
        image.false_positives.append(DatasetFalsePositive(types, xyxyn, track))
        return
    name, confidence = text(row.get("class_name")), text(row.get("confidence"))
    if name is None:
        raise bad(f"{label}: a box row needs a class_name", "class_name")
    try:
        score = float(confidence) if confidence is not None else None
    except ValueError as exc:
        raise bad(f"{label}: confidence must be a number", "confidence") from exc
    image.boxes.append(
        DatasetBox(
            name,
            xyxyn,
            confidence=score,
            track_id=track,
            data={"bbox": list(xyxyn), "format": "xyxyn"},
        )
    )


class CsvWriter(Writer):
    """`annotations.csv`: one row per box, per negative image and per false positive."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = CsvSpool(CSV_COLUMNS)

    def add(self, item: Item) -> None:
        """The image's rows: its boxes, a negative row, its false positives."""
        super().add(item)
        image = item.frame.image
        fields = frame_fields(item)
        common = [
            str(image.id),
            item.name,
            image.width,
            image.height,
            item.split,
            fields["frame_time"],
            fields["sequence_id"],
            fields["sequence_source_id"],
            fields["camera_name"],
            item.frame.index,
        ]
        tail = [
            item.frame.stage,
            image.sha256,
            item.url,
            fields["original_filename"],
            fields["sequence_source"],
            fields["image_source"],
            fields["image_source_id"],
            ";".join(item.classes) or None,
            json.dumps(item.frame.image.metadata, ensure_ascii=False)
            if item.frame.image.metadata
            else None,
        ]
        for box in item.boxes:
            px = pixels(box.xyxyn, image.width, image.height)
            self.table.row(
                [*common, "box", box.class_name, box.confidence, *box.xyxyn, *px]
                + [box.track_id, None, *tail]
            )
        if item.negative:
            self.table.row([*common, "negative", *[None] * 12, *tail])
        for fp in item.false_positives:
            px = pixels(fp.xyxyn, image.width, image.height)
            self.table.row(
                [*common, "false_positive", None, None, *fp.xyxyn, *px]
                + [fp.track_id, ";".join(fp.types), *tail]
            )

    def image_path(self, item: Item) -> str:
        """images/<name>."""
        return f"images/{item.name}"

    def finish(self) -> None:
        """Write annotations.csv and the manifest."""
        self.sink.write_file(CSV_FILE, self.table.detach())
        super().finish()
