"""Dataset writers: COCO, Ultralytics YOLO, Pascal VOC, CSV and JSON Lines.

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import yaml

from lookout.exports.schemas import SPLITS, ExportOptions
from lookout.exports.sinks import COPY_CHUNK, Sink

if TYPE_CHECKING:
    from lookout.exports.service import Box, FalsePositive, Frame

SPOOL_BYTES = 4 * 1024 * 1024
PIXEL_DIGITS = 3
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

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
)


@dataclass(frozen=True)
class ExportInfo:
    project_id: str
    project_name: str
    source: str
    negatives: bool


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

    @property
    def stem(self) -> str:
        return self.name.rsplit(".", 1)[0]


def _spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def pixels(xyxyn: tuple[float, float, float, float], width: int, height: int) -> list[float]:
    """Normalized xyxy to pixel xyxy, rounded to PIXEL_DIGITS."""
    x1, y1, x2, y2 = xyxyn
    return [
        round(x1 * width, PIXEL_DIGITS),
        round(y1 * height, PIXEL_DIGITS),
        round(x2 * width, PIXEL_DIGITS),
        round(y2 * height, PIXEL_DIGITS),
    ]


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _file_chunks(source: IO[bytes]) -> Iterator[bytes]:
    source.seek(0)
    while chunk := source.read(COPY_CHUNK):
        yield chunk


def safe_cell(value: Any) -> Any:
    """Neutralize spreadsheet formulas: text starting with = + - @ TAB or CR gets a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _CsvSpool:
    """CSV rows into a spooled file, encoded as UTF-8."""

    def __init__(self, header: tuple[str, ...]) -> None:
        self.file = _spool()
        self.text = io.TextIOWrapper(self.file, encoding="utf-8", newline="", write_through=True)
        self.writer = csv.writer(self.text)
        self.writer.writerow(header)

    def row(self, values: list[Any]) -> None:
        self.writer.writerow(["" if v is None else safe_cell(v) for v in values])

    def detach(self) -> IO[bytes]:
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
        "sequence_id": str(sequence.id) if sequence else None,
        "sequence_source": sequence.source if sequence else None,
        "sequence_source_id": sequence.source_id if sequence else None,
        "camera_id": str(sequence.camera_id) if sequence and sequence.camera_id else None,
        "camera_name": sequence.camera_name if sequence else None,
        "frame_index": frame.index,
        "frame_time": _iso(frame.image.captured_at),
        "split": item.split,
        "review_stage": frame.stage,
        "negative": item.negative,
    }


def false_positive_fields(item: Item) -> list[dict[str, Any]]:
    image = item.frame.image
    return [
        {
            "track_id": fp.track_id,
            "types": list(fp.types),
            "xyxyn": list(fp.xyxyn),
            "bbox": _xywh(pixels(fp.xyxyn, image.width, image.height)),
        }
        for fp in item.false_positives
    ]


def _xywh(xyxy: list[float]) -> list[float]:
    x1, y1, x2, y2 = xyxy
    return [x1, y1, round(x2 - x1, PIXEL_DIGITS), round(y2 - y1, PIXEL_DIGITS)]


class Writer:
    """Base: the manifest of referenced images; subclasses write their format."""

    images_folder = "images"

    def __init__(
        self, *, sink: Sink, classes: list[str], options: ExportOptions, info: ExportInfo
    ) -> None:
        self.sink = sink
        self.classes = classes
        self.class_index = {name: i for i, name in enumerate(classes)}
        self.options = options
        self.info = info
        self.manifest: _CsvSpool | None = None
        if options.images == "reference":
            self.manifest = _CsvSpool(("path", "lookout_id", "url", "sha256", "width", "height"))

    def image_path(self, item: Item) -> str:
        return f"{self.images_folder}/{item.name}"

    def add(self, item: Item) -> None:
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
        if self.manifest is not None:
            self.sink.write_file("manifest.csv", self.manifest.detach())

    def header(self) -> dict[str, Any]:
        return {
            "description": f"Lookout export of project {self.info.project_name}",
            "project_id": self.info.project_id,
            "source": self.info.source,
            "negatives": self.info.negatives,
            "date_created": _iso(datetime.now(UTC)),
            "images": self.options.images,
            "split": dict(zip(SPLITS, self.options.split, strict=True)),
            "seed": self.options.seed,
        }


class CocoWriter(Writer):
    """`annotations.json` (COCO detection) and `images/`; category ids start at 1."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.images = _spool()
        self.annotations = _spool()
        self.image_count = 0
        self.annotation_count = 0

    def add(self, item: Item) -> None:
        super().add(item)
        image = item.frame.image
        self.image_count += 1
        entry: dict[str, Any] = {
            "id": self.image_count,
            "file_name": item.name,
            "width": image.width,
            "height": image.height,
            "date_captured": _iso(image.captured_at) or "",
        }
        if item.url:
            entry["coco_url"] = item.url
        entry.update(frame_fields(item))
        if item.false_positives:
            entry["false_positives"] = false_positive_fields(item)
        self.images.write((b",\n" if self.image_count > 1 else b"") + _json(entry))
        sequence = item.frame.sequence
        for box in item.boxes:
            self.annotation_count += 1
            bbox = _xywh(pixels(box.xyxyn, image.width, image.height))
            ann: dict[str, Any] = {
                "id": self.annotation_count,
                "image_id": self.image_count,
                "category_id": self.class_index[box.class_name] + 1,
                "bbox": bbox,
                "area": round(bbox[2] * bbox[3], PIXEL_DIGITS),
                "iscrowd": 0,
                "segmentation": [],
                "track_id": box.track_id,
                "sequence_id": str(sequence.id) if sequence else None,
                "frame_time": _iso(image.captured_at),
            }
            if box.confidence is not None:
                ann["score"] = box.confidence
            if box.prediction_id is not None:
                ann["lookout_prediction_id"] = str(box.prediction_id)
            self.annotations.write((b",\n" if self.annotation_count > 1 else b"") + _json(ann))

    def _document(self) -> Iterator[bytes]:
        categories = [
            {"id": i + 1, "name": name, "supercategory": "smoke" if name == "smoke" else "object"}
            for i, name in enumerate(self.classes)
        ]
        yield b'{"info":' + _json(self.header()) + b',\n"licenses":[],\n"categories":'
        yield _json(categories) + b',\n"images":[\n'
        yield from _file_chunks(self.images)
        yield b'\n],\n"annotations":[\n'
        yield from _file_chunks(self.annotations)
        yield b"\n]}\n"

    def finish(self) -> None:
        self.sink.write_chunks("annotations.json", self._document(), compress=True, large=True)
        self.images.close()
        self.annotations.close()
        super().finish()


class YoloWriter(Writer):
    """Ultralytics layout: images/<split>/, labels/<split>/ (class cx cy w h), data.yaml."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.per_split = dict.fromkeys(SPLITS, 0)

    def image_path(self, item: Item) -> str:
        return f"images/{item.split}/{item.name}"

    def add(self, item: Item) -> None:
        super().add(item)
        lines = []
        for box in item.boxes:
            x1, y1, x2, y2 = box.xyxyn
            lines.append(
                f"{self.class_index[box.class_name]} {(x1 + x2) / 2:.6f} {(y1 + y2) / 2:.6f} "
                f"{x2 - x1:.6f} {y2 - y1:.6f}\n"
            )
        self.sink.write_bytes(f"labels/{item.split}/{item.stem}.txt", "".join(lines).encode())
        self.per_split[item.split] += 1

    def finish(self) -> None:
        present = [s for s in SPLITS if self.per_split[s]]
        data: dict[str, Any] = {}
        for split in ("train", "val"):
            # Ultralytics needs train and val: an empty one points at the other.
            fallback = next(iter(present), "train")
            data[split] = f"images/{split if self.per_split[split] else fallback}"
        if self.per_split["test"]:
            data["test"] = "images/test"
        data["nc"] = len(self.classes)
        data["names"] = dict(enumerate(self.classes))
        comment = (
            f"# Lookout export of project {self.info.project_name} ({self.info.source}).\n"
            "# Paths are relative to this file's folder: add `path: <absolute folder>` if your\n"
            "# trainer resolves them elsewhere. Images per split: "
            + ", ".join(f"{s} {self.per_split[s]}" for s in SPLITS)
            + ".\n"
        )
        if self.options.images == "reference":
            comment += "# Images are referenced, not copied: manifest.csv lists their URLs.\n"
        body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        self.sink.write_bytes("data.yaml", (comment + body).encode())
        super().finish()


class VocWriter(Writer):
    """Pascal VOC: JPEGImages/, Annotations/<stem>.xml, ImageSets/Main/<split>.txt.

    Boxes are 1-based inclusive pixel indices (the VOC devkit's convention).
    """

    images_folder = "JPEGImages"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sets = {split: _spool() for split in SPLITS}

    def add(self, item: Item) -> None:
        super().add(item)
        self.sink.write_bytes(f"Annotations/{item.stem}.xml", self._xml(item).encode())
        self.sets[item.split].write(f"{item.stem}\n".encode())

    @staticmethod
    def _bndbox(xyxyn: tuple[float, float, float, float], width: int, height: int) -> str:
        x1, y1, x2, y2 = xyxyn
        xmin = min(max(round(x1 * width) + 1, 1), width)
        ymin = min(max(round(y1 * height) + 1, 1), height)
        xmax = min(max(round(x2 * width), xmin), width)
        ymax = min(max(round(y2 * height), ymin), height)
        return (
            f"<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax>"
            f"<ymax>{ymax}</ymax></bndbox>"
        )

    def _xml(self, item: Item) -> str:
        image = item.frame.image
        fields = frame_fields(item)
        source = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in fields.items() if v is not None)
        parts = [
            "<annotation>",
            f"<folder>JPEGImages</folder><filename>{escape(item.name)}</filename>",
            f"<source><database>Lookout</database>{source}</source>",
            f"<size><width>{image.width}</width><height>{image.height}</height>"
            "<depth>3</depth></size>",
            "<segmented>0</segmented>",
        ]
        for box in item.boxes:
            extra = f"<track_id>{box.track_id}</track_id>" if box.track_id is not None else ""
            if box.confidence is not None:
                extra += f"<confidence>{box.confidence}</confidence>"
            parts.append(
                f"<object><name>{escape(box.class_name)}</name><pose>Unspecified</pose>"
                f"<truncated>0</truncated><difficult>0</difficult>"
                f"{self._bndbox(box.xyxyn, image.width, image.height)}{extra}</object>"
            )
        for fp in item.false_positives:
            parts.append(
                f"<false_positive><types>{escape(','.join(fp.types))}</types>"
                f"<track_id>{fp.track_id}</track_id>"
                f"{self._bndbox(fp.xyxyn, image.width, image.height)}</false_positive>"
            )
        parts.append("</annotation>\n")
        return "\n".join(parts)

    def finish(self) -> None:
        for split, spool in self.sets.items():
            if spool.tell():
                self.sink.write_file(f"ImageSets/Main/{split}.txt", spool)
            spool.close()
        self.sink.write_bytes("labels.txt", "".join(f"{c}\n" for c in self.classes).encode())
        super().finish()


class CsvWriter(Writer):
    """`annotations.csv`: one row per box, per negative image and per false positive."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = _CsvSpool(CSV_COLUMNS)

    def add(self, item: Item) -> None:
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
        tail = [item.frame.stage, image.sha256, item.url]
        for box in item.boxes:
            px = pixels(box.xyxyn, image.width, image.height)
            self.table.row(
                [
                    *common,
                    "box",
                    box.class_name,
                    box.confidence,
                    *box.xyxyn,
                    *px,
                    box.track_id,
                    None,
                    *tail,
                ]
            )
        if item.negative:
            self.table.row([*common, "negative", *[None] * 12, *tail])
        for fp in item.false_positives:
            px = pixels(fp.xyxyn, image.width, image.height)
            self.table.row(
                [
                    *common,
                    "false_positive",
                    None,
                    None,
                    *fp.xyxyn,
                    *px,
                    fp.track_id,
                    ";".join(fp.types),
                    *tail,
                ]
            )

    def image_path(self, item: Item) -> str:
        return f"images/{item.name}"

    def finish(self) -> None:
        self.sink.write_file("annotations.csv", self.table.detach())
        super().finish()


class JsonlWriter(Writer):
    """`annotations.jsonl`: one JSON object per image with its boxes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lines = _spool()

    def add(self, item: Item) -> None:
        super().add(item)
        image = item.frame.image
        record: dict[str, Any] = {
            "file_name": item.name,
            "width": image.width,
            "height": image.height,
            **frame_fields(item),
            "url": item.url,
            "boxes": [
                {
                    "class_name": b.class_name,
                    "xyxyn": list(b.xyxyn),
                    "bbox": _xywh(pixels(b.xyxyn, image.width, image.height)),
                    "confidence": b.confidence,
                    "track_id": b.track_id,
                }
                for b in item.boxes
            ],
        }
        if item.false_positives:
            record["false_positives"] = false_positive_fields(item)
        self.lines.write(_json(record) + b"\n")

    def finish(self) -> None:
        self.sink.write_file("annotations.jsonl", self.lines)
        self.lines.close()
        super().finish()


WRITERS: dict[str, type[Writer]] = {
    "coco": CocoWriter,
    "yolo": YoloWriter,
    "voc": VocWriter,
    "csv": CsvWriter,
    "jsonl": JsonlWriter,
}


def make_writer(
    fmt: str, *, sink: Sink, classes: list[str], options: ExportOptions, info: ExportInfo
) -> Writer:
    return WRITERS[fmt](sink=sink, classes=classes, options=options, info=info)
