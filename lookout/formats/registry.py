"""Formats by name: the readers an import can use, the writers an export can use."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lookout.format_names import READ_FORMATS, RESULTS_FORMAT, WRITE_FORMATS
from lookout.formats.coco import CocoResultsWriter, CocoWriter, read_coco, split_files
from lookout.formats.csv_table import CSV_FILE, CsvWriter, read_csv
from lookout.formats.dataset import Dataset, bad
from lookout.formats.jsonl import JSONL_FILE, JsonlWriter, read_jsonl
from lookout.formats.voc import VocWriter, is_voc_folder, read_voc
from lookout.formats.writing import ExportInfo, Sink, Writer
from lookout.formats.yolo import YoloWriter, is_yolo_folder, read_yolo

FILE_SUFFIXES = {".json": "coco", ".csv": "csv", ".jsonl": "jsonl"}

WRITERS: dict[str, type[Writer]] = {
    "coco": CocoWriter,
    RESULTS_FORMAT: CocoResultsWriter,
    "yolo": YoloWriter,
    "voc": VocWriter,
    "csv": CsvWriter,
    "jsonl": JsonlWriter,
}
assert tuple(WRITERS) == WRITE_FORMATS, "every format name has its writer"


def detect_format(path: Path) -> str:
    """The format of a file (.json COCO, .csv, .jsonl) or of a folder (Lookout's exports and
    the tools' layouts: data.yaml, annotations/, Annotations/, annotations.csv/.jsonl)."""
    if path.is_file() and path.suffix.lower() in FILE_SUFFIXES:
        return FILE_SUFFIXES[path.suffix.lower()]
    if path.is_dir():
        if is_yolo_folder(path):
            return "yolo"
        if (path / "annotations.json").is_file() or split_files(path):
            return "coco"
        if is_voc_folder(path):
            return "voc"
        for name, fmt in ((CSV_FILE, "csv"), (JSONL_FILE, "jsonl")):
            if (path / name).is_file():
                return fmt
    raise bad(
        f"{path}: cannot tell the dataset format (expected a COCO .json file or folder, a YOLO "
        "folder with data.yaml, a VOC folder, annotations.csv or annotations.jsonl, or a zip "
        "of one); name it with --format",
        "format",
    )


def check_read_format(value: str) -> str:
    """A format Lookout can import."""
    if value not in READ_FORMATS:
        raise bad(
            f"format: unknown dataset format {value!r}; use {', '.join(READ_FORMATS)}", "format"
        )
    return value


def read_dataset(path: Path, fmt: str | None = None, images_dir: Path | None = None) -> Dataset:
    """Read and check a dataset in the format given (or detected); nothing is stored."""
    fmt = check_read_format(fmt) if fmt else detect_format(path)
    if fmt == "coco":
        return read_coco(path, images_dir)
    if fmt == "csv":
        return read_csv(path, images_dir)
    if fmt == "jsonl":
        return read_jsonl(path, images_dir)
    return read_voc(path) if fmt == "voc" else read_yolo(path)


# Room left on the temporary folder's disk after unpacking a zip.
UNPACK_MARGIN_BYTES = 512 * 1024 * 1024


@contextmanager
def unpacked(path: Path, *, room_bytes: int | None = None) -> Iterator[Path]:
    """The dataset's folder: `path` itself, or a zip (Lookout's exports) unpacked into a
    temporary folder that lasts as long as the import needs its files.

    A zip whose members would not fit in `room_bytes` (default: the temporary folder's free
    space, less a margin) is refused before anything is written, so a zip bomb or a dataset
    larger than the disk stops with a message instead of filling the disk.
    """
    if not (path.is_file() and zipfile.is_zipfile(path)):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="lookout-import-") as tmp:
        root = Path(tmp)
        if room_bytes is None:
            room_bytes = shutil.disk_usage(root).free - UNPACK_MARGIN_BYTES
        try:
            with zipfile.ZipFile(path) as archive:
                _check_members(archive, path)
                _check_room(archive, path, room_bytes)
                archive.extractall(root)
        except (zipfile.BadZipFile, OSError) as exc:
            raise bad(f"{path}: cannot unpack the zip ({exc})", "path") from exc
        entries = list(root.iterdir())
        # A zip of one folder (e.g. made with `zip -r coco.zip coco/`) holds the dataset inside.
        yield entries[0] if len(entries) == 1 and entries[0].is_dir() else root


def _check_members(archive: zipfile.ZipFile, path: Path) -> None:
    """Refuse members that would land outside the folder (extractall drops `..` and absolute
    parts, but a clear error is better than a silently different layout)."""
    for name in archive.namelist():
        parts = Path(name).parts
        if name.startswith(("/", "\\")) or ".." in parts:
            raise bad(f"{path}: member {name!r} points outside the archive's folder", "path")


def _check_room(archive: zipfile.ZipFile, path: Path, room_bytes: int) -> None:
    """Refuse a zip that unpacks to more than there is room for (zipfile enforces each
    member's declared size while extracting, so the declared total is what it writes)."""
    total = sum(member.file_size for member in archive.infolist())
    if total > room_bytes:
        raise bad(
            f"{path}: unpacks to {_megabytes(total)}, more than the {_megabytes(room_bytes)} "
            "free for it in the temporary folder (set TMPDIR to a larger disk, or unpack it "
            "yourself and import the folder)",
            "path",
        )


def _megabytes(size: int) -> str:
    return f"{max(size, 0) / 1e6:,.1f} MB"


def make_writer(fmt: str, *, sink: Sink, classes: list[str], info: ExportInfo) -> Writer:
    """The writer of an export format, writing into `sink`."""
    return WRITERS[fmt](sink=sink, classes=classes, info=info)
