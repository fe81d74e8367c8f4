"""What dataset writers share: the items they get, the sink they write to, common fields.

A writer gets one image at a time (`add`) and writes small per-image files (YOLO labels, VOC
XML) at once. Files that grow with the dataset (COCO's JSON, the CSV, the JSONL, the manifest)
are written to spooled temporary files (memory up to a few MiB, then disk) and copied into the
export by `finish`, after the images: a zip can only write one entry at a time.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from lookout.csvcells import safe_cell
from lookout.format_names import SPLITS
from lookout.truth.reading import Box, FalsePositive, Frame, Xyxy

SPOOL_BYTES = 4 * 1024 * 1024
COPY_CHUNK = 1024 * 1024
PIXEL_DIGITS = 3


class Sink(Protocol):
    """Files of one export, written one after the other."""

    def write_bytes(self, path: str, data: bytes, *, compress: bool = True) -> None: ...

    def write_chunks(
        self, path: str, chunks: Iterable[bytes], *, compress: bool = False, large: bool = False
    ) -> int:
        """Write a file from an iterator of chunks (`large`: may pass 4 GiB); returns its size."""
        ...

    def write_file(self, path: str, source: IO[bytes], *, compress: bool = True) -> None:
        """Copy an open file (from its start) into the export."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ExportInfo:
    """What an export is of, and how it is laid out (written into its header)."""

    project_id: str
    project_name: str
    source: str
    negatives: bool
    images: str = "copy"  # copy the bytes, or reference them (manifest + URLs)
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0


@dataclass
class Item:
    """One image of the export: its boxes, where it goes, and how to find it."""

    frame: Frame
    boxes: list[Box]
    negative: bool
    split: str
    name: str  # file name inside the export
    url: str | None = None
    false_positives: list[FalsePositive] = field(default_factory=list)
    coco_id: int | None = None  # the frame's stored integer id (lookout.exports.ids)
    classes: list[str] = field(default_factory=list)  # image-level classes people gave it

    @property
    def stem(self) -> str:
        """The file name without its suffix (names the image's label or annotation file)."""
        return self.name.rsplit(".", 1)[0]


def spool() -> IO[bytes]:
    """A temporary file kept in memory up to SPOOL_BYTES, then on disk."""
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)


def file_chunks(source: IO[bytes]) -> Iterator[bytes]:
    """An open file's content from its start, COPY_CHUNK bytes at a time."""
    source.seek(0)
    while chunk := source.read(COPY_CHUNK):
        yield chunk


def iso(value: datetime | None) -> str | None:
    """A time in UTC as ISO 8601 ending in Z (naive times are taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def pixels(xyxyn: Xyxy, width: int, height: int) -> list[float]:
    """Normalized xyxy to pixel xyxy, rounded to PIXEL_DIGITS."""
    x1, y1, x2, y2 = xyxyn
    return [
        round(x1 * width, PIXEL_DIGITS),
        round(y1 * height, PIXEL_DIGITS),
        round(x2 * width, PIXEL_DIGITS),
        round(y2 * height, PIXEL_DIGITS),
    ]


def xywh(xyxy: list[float]) -> list[float]:
    """Pixel xyxy to COCO's [x, y, width, height]."""
    x1, y1, x2, y2 = xyxy
    return [x1, y1, round(x2 - x1, PIXEL_DIGITS), round(y2 - y1, PIXEL_DIGITS)]


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class CsvSpool:
    """CSV rows into a spooled file, encoded as UTF-8, formulas neutralized."""

    def __init__(self, header: tuple[str, ...]) -> None:
        self.file = spool()
        self.text = io.TextIOWrapper(self.file, encoding="utf-8", newline="", write_through=True)
        self.writer = csv.writer(self.text)
        self.writer.writerow(header)

    def row(self, values: list[Any]) -> None:
        """One row; None is an empty cell."""
        self.writer.writerow(["" if v is None else safe_cell(v) for v in values])

    def detach(self) -> IO[bytes]:
        """The file of bytes written so far (the text wrapper no longer owns it)."""
        self.text.flush()
        return self.text.detach()


def frame_fields(item: Item) -> dict[str, Any]:
    """What Lookout knows about an image, kept beside each format's own fields."""
    frame = item.frame
    sequence = frame.sequence
    return {
        "lookout_id": str(frame.image.id),
        "sha256": frame.image.sha256,
        "original_filename": frame.image.filename,
        "image_source": frame.image.source,
        "image_source_id": frame.image.source_id,
        "sequence_id": str(sequence.id) if sequence else None,
        "sequence_source": sequence.source if sequence else None,
        "sequence_source_id": sequence.source_id if sequence else None,
        "camera_id": str(sequence.camera_id) if sequence and sequence.camera_id else None,
        "camera_name": sequence.camera_name if sequence else None,
        "frame_index": frame.index,
        "frame_time": iso(frame.image.captured_at),
        "split": item.split,
        "review_stage": frame.stage,
        "negative": item.negative,
    }


def image_labels(item: Item) -> dict[str, Any]:
    """What people said of the whole image: its classes (by name) and its metadata."""
    return {"classes": list(item.classes), "metadata": dict(item.frame.image.metadata or {})}


def false_positive_fields(item: Item) -> list[dict[str, Any]]:
    """An item's false positives as JSON objects (types, normalized and pixel boxes)."""
    image = item.frame.image
    return [
        {
            "track_id": fp.track_id,
            "types": list(fp.types),
            "xyxyn": list(fp.xyxyn),
            "bbox": xywh(pixels(fp.xyxyn, image.width, image.height)),
        }
        for fp in item.false_positives
    ]


SIDECAR = "lookout.jsonl"


def sidecar_record(item: Item, path: str) -> dict[str, Any]:
    """What a format cannot say about an image (YOLO: sequence, camera, names, track ids,
    false positives), for `lookout.jsonl`, which `lookout import-dataset` reads back."""
    record: dict[str, Any] = {"path": path, **frame_fields(item)}
    record["track_ids"] = [box.track_id for box in item.boxes]
    if item.false_positives:
        record["false_positives"] = false_positive_fields(item)
    return record


class Writer:
    """Base: the manifest of referenced images; subclasses write their format."""

    images_folder = "images"
    copies_images = True  # False: the format holds no images (a results file)

    def __init__(self, *, sink: Sink, classes: list[str], info: ExportInfo) -> None:
        self.sink = sink
        self.classes = classes
        self.class_index = {name: i for i, name in enumerate(classes)}
        self.info = info
        self.manifest: CsvSpool | None = None
        if info.images == "reference":
            self.manifest = CsvSpool(("path", "lookout_id", "url", "sha256", "width", "height"))

    def image_path(self, item: Item) -> str:
        """Where the item's image goes inside the export."""
        return f"{self.images_folder}/{item.name}"

    def add(self, item: Item) -> None:
        """Write (or spool) what the format says about one image."""
        if self.manifest is not None:
            image = item.frame.image
            self.manifest.row(
                [
                    self.image_path(item),
                    str(image.id),
                    item.url,
                    image.sha256,
                    image.width,
                    image.height,
                ]
            )

    def finish(self) -> None:
        """Write the files that cover the whole dataset."""
        if self.manifest is not None:
            self.sink.write_file("manifest.csv", self.manifest.detach())

    def header(self) -> dict[str, Any]:
        """Where the export comes from and how it was made."""
        return {
            "description": f"Lookout export of project {self.info.project_name}",
            "project_id": self.info.project_id,
            "source": self.info.source,
            "negatives": self.info.negatives,
            "date_created": iso(datetime.now(UTC)),
            "images": self.info.images,
            "split": dict(zip(SPLITS, self.info.split, strict=True)),
            "seed": self.info.seed,
        }
