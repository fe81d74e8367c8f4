"""Formats by name: the readers an import can use, the writers an export can use."""

from __future__ import annotations

from pathlib import Path

from lookout.formats.coco import CocoResultsWriter, CocoWriter, read_coco
from lookout.formats.csv_table import CsvWriter
from lookout.formats.dataset import Dataset, bad
from lookout.formats.jsonl import JsonlWriter
from lookout.formats.voc import VocWriter
from lookout.formats.writing import ExportInfo, Sink, Writer
from lookout.formats.yolo import YoloWriter, is_yolo_folder, read_yolo

READ_FORMATS = ("coco", "yolo")
RESULTS_FORMAT = "coco-results"

WRITERS: dict[str, type[Writer]] = {
    "coco": CocoWriter,
    RESULTS_FORMAT: CocoResultsWriter,
    "yolo": YoloWriter,
    "voc": VocWriter,
    "csv": CsvWriter,
    "jsonl": JsonlWriter,
}
WRITE_FORMATS = tuple(WRITERS)


def detect_format(path: Path) -> str:
    """coco for a .json file, yolo for a folder with a data.yaml (or classes.txt)."""
    if path.is_file() and path.suffix.lower() == ".json":
        return "coco"
    if path.is_dir():
        if is_yolo_folder(path):
            return "yolo"
        if (path / "annotations.json").is_file():
            return "coco"
    raise bad(
        f"{path}: cannot tell the dataset format (expected a COCO .json file or a YOLO folder "
        "with data.yaml); name it with --format coco or --format yolo",
        "format",
    )


def check_read_format(value: str) -> str:
    """A format Lookout can import."""
    if value not in READ_FORMATS:
        raise bad(f"format: unknown dataset format {value!r}; use coco or yolo", "format")
    return value


def read_dataset(path: Path, fmt: str | None = None, images_dir: Path | None = None) -> Dataset:
    """Read and check a dataset in the format given (or detected); nothing is stored."""
    fmt = check_read_format(fmt) if fmt else detect_format(path)
    return read_coco(path, images_dir) if fmt == "coco" else read_yolo(path)


def make_writer(fmt: str, *, sink: Sink, classes: list[str], info: ExportInfo) -> Writer:
    """The writer of an export format, writing into `sink`."""
    return WRITERS[fmt](sink=sink, classes=classes, info=info)
