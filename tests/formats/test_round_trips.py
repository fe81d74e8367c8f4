"""Each format's writer against its reader: a dataset written and read back is the same dataset.

No server and no database: frames are built in memory, written with a format's writer into a
folder (images included, as an export copies them) and read back with the same format's
reader. Boxes come back within the format's rounding; classes, negatives, file names and what
Lookout keeps beside the format (sequences, false positives) come back as written. The VOC,
CSV and JSONL checks below read the files with the standard library, independently of
Lookout's readers (those are exercised by tests/datasets/test_every_format_round_trip.py).
"""

from __future__ import annotations

import csv
import json
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lookout.exports.sinks import DirectorySink
from lookout.formats.coco import read_coco
from lookout.formats.dataset import Dataset
from lookout.formats.registry import detect_format, make_writer, read_dataset
from lookout.formats.writing import ExportInfo, Item
from lookout.formats.yolo import read_yolo
from lookout.truth.reading import Box, FalsePositive, Frame, ImageInfo, SequenceInfo
from tests.support import jpeg_bytes

CLASSES = ["smoke", "wildfire", "cloud"]
START = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)


@dataclass
class Written:
    """A dataset written to a folder, and what went into it."""

    folder: Path
    items: list[Item]
    images: dict[str, bytes]  # by item name


def _frame(index: int, size: tuple[int, int], sequence: SequenceInfo | None) -> Frame:
    image = ImageInfo(
        id=uuid.uuid4(),
        object_key=f"objects/{index}.jpg",
        filename=f"cam-{index}.jpg",
        content_type="image/jpeg",
        width=size[0],
        height=size[1],
        sha256=f"{index:064x}",
        captured_at=START + timedelta(minutes=index),
        created_at=START,
    )
    return Frame(image=image, sequence=sequence, index=index, stage="annotated")


def _items() -> list[Item]:
    """Two sequences over three splits: boxes of three classes, a negative, a false positive."""
    first = SequenceInfo(uuid.uuid4(), "test", "seq-1", uuid.uuid4(), "=Ridge", START)
    second = SequenceInfo(uuid.uuid4(), "test", "seq-2", None, None, START + timedelta(days=1))
    frames = [
        _frame(0, (64, 48), first),
        _frame(1, (64, 48), first),
        _frame(2, (100, 60), second),
        _frame(3, (100, 60), second),
    ]
    boxes = [
        [Box("smoke", (0.1031, 0.2017, 0.3123, 0.4977), track_id=0)],
        [
            Box("smoke", (0.1234567, 0.2019, 0.3531, 0.5512), confidence=0.91, track_id=0),
            Box("cloud", (0.5009, 0.4987, 0.9013, 0.8011), confidence=0.42, track_id=1),
        ],
        [Box("wildfire", (0.0, 0.0, 0.2017, 0.1003), track_id=0)],
        [],
    ]
    false_positives = [
        [],
        [],
        [],
        [FalsePositive(("high_cloud", "building"), (0.4011, 0.3989, 0.6021, 0.6007), 1)],
    ]
    splits = ["train", "train", "val", "test"]
    return [
        Item(
            frame=frame,
            boxes=boxes[i],
            negative=not boxes[i],
            split=splits[i],
            name=f"{frame.image.id}.jpg",
            false_positives=false_positives[i],
        )
        for i, frame in enumerate(frames)
    ]


def write(
    fmt: str, folder: Path, items: list[Item] | None = None, source: str = "reviews"
) -> Written:
    """Write items as an export does: each image copied, then the writer's files."""
    items = _items() if items is None else items
    sink = DirectorySink(folder)
    info = ExportInfo(
        project_id=str(uuid.uuid4()), project_name="cams", source=source, negatives=True
    )
    writer = make_writer(fmt, sink=sink, classes=CLASSES, info=info)
    images: dict[str, bytes] = {}
    for n, item in enumerate(items):
        image = item.frame.image
        images[item.name] = jpeg_bytes(image.width, image.height, color=(n * 40, 90, 200))
        sink.write_bytes(writer.image_path(item), images[item.name])
        writer.add(item)
    writer.finish()
    sink.close()
    return Written(folder, items, images)


def by_name(dataset: Dataset) -> dict[str, object]:
    """Read images by their file's base name."""
    return {Path(image.file_name).name: image for image in dataset.images}


def assert_box(actual: tuple[float, ...], expected: tuple[float, ...], tolerance: float) -> None:
    assert actual == pytest.approx(expected, abs=tolerance)


# --- COCO ----------------------------------------------------------------------------------


def test_coco_reads_back_what_it_wrote(tmp_path):
    # A model's boxes (their scores are written; truth boxes carry none).
    written = write("coco", tmp_path / "coco", source="model:yolo")
    dataset = read_coco(written.folder / "annotations.json")
    assert dataset.format == "coco"
    assert dataset.classes == CLASSES  # written order, each used
    images = by_name(dataset)
    assert list(images) == [item.name for item in written.items]
    for item in written.items:
        image = images[item.name]
        assert (image.width, image.height) == (item.frame.image.width, item.frame.image.height)
        assert image.path.read_bytes() == written.images[item.name]
        # Pixels are written to 3 decimals: back to normalized within 0.0005 px.
        tolerance = 0.0005 / min(image.width, image.height) + 1e-12
        assert [b.class_name for b in image.boxes] == [b.class_name for b in item.boxes]
        for read, box in zip(image.boxes, item.boxes, strict=True):
            assert_box(read.xyxyn, box.xyxyn, tolerance)
            assert read.confidence == box.confidence
            assert read.track_id == box.track_id
            assert read.data is not None and read.data["format"] == "xywh"
        assert bool(image.boxes) != item.negative


def test_coco_keeps_sequences_and_false_positives(tmp_path):
    written = write("coco", tmp_path / "coco")
    images = by_name(read_coco(written.folder / "annotations.json"))
    for item in written.items:
        image = images[item.name]
        sequence = item.frame.sequence
        assert image.sequence_key == f"{sequence.source}:{sequence.source_id}"
        assert image.frame_index == item.frame.index
        assert image.captured_at == item.frame.image.captured_at
        assert [(fp.types, fp.xyxyn, fp.track_id) for fp in image.false_positives] == [
            (list(fp.types), fp.xyxyn, fp.track_id) for fp in item.false_positives
        ]


def test_coco_is_detected_and_read_from_its_folder(tmp_path):
    written = write("coco", tmp_path / "coco")
    assert detect_format(written.folder / "annotations.json") == "coco"
    assert detect_format(written.folder) == "coco"
    assert len(read_dataset(written.folder).images) == len(written.items)


# --- YOLO ----------------------------------------------------------------------------------


def test_yolo_reads_back_what_it_wrote(tmp_path):
    written = write("yolo", tmp_path / "yolo")
    assert detect_format(written.folder) == "yolo"
    dataset = read_yolo(written.folder)
    assert dataset.format == "yolo"
    assert dataset.classes == CLASSES
    images = by_name(dataset)
    assert sorted(images) == sorted(item.name for item in written.items)
    for item in written.items:
        image = images[item.name]
        assert image.file_name == f"images/{item.split}/{item.name}"
        assert image.path.read_bytes() == written.images[item.name]
        assert [b.class_name for b in image.boxes] == [b.class_name for b in item.boxes]
        for read, box in zip(image.boxes, item.boxes, strict=True):
            assert_box(read.xyxyn, box.xyxyn, 2e-6)  # cx cy w h to 6 decimals
            assert read.confidence is None  # YOLO labels of an export carry no confidence
        assert bool(image.boxes) != item.negative


def test_yolo_with_an_empty_split_reads_every_image_once(tmp_path):
    items = [item for item in _items() if item.split == "train"]
    written = write("yolo", tmp_path / "yolo", items)
    data = (written.folder / "data.yaml").read_text()
    assert "val: images/train" in data  # an empty val points at train
    dataset = read_yolo(written.folder)
    assert sorted(by_name(dataset)) == sorted(item.name for item in items)
    assert dataset.classes == ["smoke", "cloud"]  # classes without boxes are not read


# --- VOC (the XML read here, independently of Lookout's reader) ---------------------------


def read_voc(folder: Path) -> dict[str, dict]:
    """Each annotation file: file name, size, objects and false positives, in pixels."""
    out: dict[str, dict] = {}
    for path in sorted((folder / "Annotations").glob("*.xml")):
        root = ET.parse(path).getroot()

        def box(node: ET.Element) -> tuple[int, ...]:
            bnd = node.find("bndbox")
            assert bnd is not None
            return tuple(int(bnd.findtext(k) or 0) for k in ("xmin", "ymin", "xmax", "ymax"))

        out[root.findtext("filename") or ""] = {
            "size": (int(root.findtext("size/width") or 0), int(root.findtext("size/height") or 0)),
            "objects": [(o.findtext("name"), box(o)) for o in root.iter("object")],
            "false_positives": [(f.findtext("types"), box(f)) for f in root.iter("false_positive")],
        }
    return out


def to_voc(xyxyn: tuple[float, ...], width: int, height: int) -> tuple[float, ...]:
    """What VOC should hold for a normalized box: 0-based pixel edges (FiftyOne, Datumaro)."""
    x1, y1, x2, y2 = xyxyn
    return (x1 * width, y1 * height, x2 * width, y2 * height)


def test_voc_annotations_hold_what_was_written(tmp_path):
    written = write("voc", tmp_path / "voc")
    annotations = read_voc(written.folder)
    assert sorted(annotations) == sorted(item.name for item in written.items)
    assert (written.folder / "labels.txt").read_text().split() == CLASSES
    for item in written.items:
        image = item.frame.image
        read = annotations[item.name]
        assert read["size"] == (image.width, image.height)
        assert (written.folder / "JPEGImages" / item.name).read_bytes() == written.images[item.name]
        assert [name for name, _ in read["objects"]] == [b.class_name for b in item.boxes]
        for (_, pixels), box in zip(read["objects"], item.boxes, strict=True):
            assert_box(pixels, to_voc(box.xyxyn, image.width, image.height), 0.5)
        assert len(read["false_positives"]) == len(item.false_positives)
        for (types, pixels), fp in zip(read["false_positives"], item.false_positives, strict=True):
            assert types == ",".join(fp.types)
            assert_box(pixels, to_voc(fp.xyxyn, image.width, image.height), 0.5)
        stem = item.name.rsplit(".", 1)[0]
        listed = (written.folder / "ImageSets" / "Main" / f"{item.split}.txt").read_text()
        assert stem in listed.split()


# --- CSV and JSON Lines (read with the standard library) ---------------------------------


def test_csv_rows_hold_boxes_negatives_and_false_positives(tmp_path):
    written = write("csv", tmp_path / "csv")
    with (written.folder / "annotations.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    kinds = [(row["file_name"], row["kind"], row["class_name"]) for row in rows]
    expected = []
    for item in written.items:
        expected += [(item.name, "box", b.class_name) for b in item.boxes]
        expected += [(item.name, "negative", "")] if item.negative else []
        expected += [(item.name, "false_positive", "")] * len(item.false_positives)
    assert kinds == expected
    first = rows[0]
    assert first["camera_name"] == "'=Ridge"  # a formula-like cell is quoted
    assert tuple(float(first[k]) for k in ("x1", "y1", "x2", "y2")) == (
        0.1031,
        0.2017,
        0.3123,
        0.4977,
    )


def test_jsonl_lines_hold_every_image_with_its_boxes(tmp_path):
    written = write("jsonl", tmp_path / "jsonl")
    lines = (written.folder / "annotations.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["file_name"] for r in records] == [item.name for item in written.items]
    for record, item in zip(records, written.items, strict=True):
        assert [(b["class_name"], tuple(b["xyxyn"])) for b in record["boxes"]] == [
            (b.class_name, b.xyxyn) for b in item.boxes
        ]
        assert record["negative"] is item.negative
        assert len(record.get("false_positives", [])) == len(item.false_positives)
