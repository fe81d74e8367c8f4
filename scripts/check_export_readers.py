"""Load a Lookout export with the tools people train and curate with, when they are installed.

    uv run python scripts/check_export_readers.py EXPORT_FOLDER_OR_ZIP --format coco|yolo|voc

pycocotools, FiftyOne, Datumaro and Ultralytics are not Lookout dependencies (too heavy for
CI): each check whose tool is missing is skipped with a message. A check loads the export with
the tool's default loader and compares the image count with Lookout's own reader. Exit 0 when
every check that ran passed, 1 when one failed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sys
from collections.abc import Callable
from pathlib import Path

from lookout.formats.coco import split_files
from lookout.formats.registry import read_dataset, unpacked

Check = Callable[[Path], int]  # returns the number of images the tool loaded


def installed(module: str) -> bool:
    """Whether a tool can be imported, without importing it (they are slow to import)."""
    return importlib.util.find_spec(module) is not None


def coco_pycocotools(folder: Path) -> int:
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        return sum(len(COCO(str(path)).getImgIds()) for path in split_files(folder))


def coco_fiftyone(folder: Path) -> int:
    import fiftyone as fo

    total = 0
    for path in split_files(folder):
        split = path.stem.removeprefix("instances_")
        dataset = fo.Dataset.from_dir(
            dataset_dir=str(folder),
            dataset_type=fo.types.COCODetectionDataset,
            data_path=f"images/{split}",
            labels_path=f"annotations/instances_{split}.json",
        )
        total += len(dataset)
        dataset.delete()
    return total


def coco_datumaro(folder: Path) -> int:
    import datumaro as dm

    # A folder with annotations.json beside annotations/ is fine: Datumaro reads annotations/.
    return len(dm.Dataset.import_from(str(folder), "coco_instances"))


def yolo_fiftyone(folder: Path) -> int:
    import fiftyone as fo

    total = 0
    for split in ("train", "val", "test"):
        if (folder / "images" / split).is_dir():
            dataset = fo.Dataset.from_dir(
                dataset_dir=str(folder), dataset_type=fo.types.YOLOv5Dataset, split=split
            )
            total += len(dataset)
            dataset.delete()
    return total


def yolo_ultralytics(folder: Path) -> int:
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(folder / "data.yaml"))
    # val points at train when empty: count each folder once.
    folders = {str(data[split]) for split in ("train", "val", "test") if data.get(split)}
    return sum(len(list(Path(f).glob("*.*"))) for f in folders)


def voc_fiftyone(folder: Path) -> int:
    import fiftyone as fo

    dataset = fo.Dataset.from_dir(
        dataset_dir=str(folder),
        dataset_type=fo.types.VOCDetectionDataset,
        data_path="JPEGImages",
        labels_path="Annotations",
    )
    count = len(dataset)
    dataset.delete()
    return count


def voc_datumaro(folder: Path) -> int:
    import datumaro as dm

    return len(dm.Dataset.import_from(str(folder), "voc_detection"))


CHECKS: dict[str, list[tuple[str, str, Check]]] = {
    "coco": [
        ("pycocotools", "pycocotools", coco_pycocotools),
        ("FiftyOne", "fiftyone", coco_fiftyone),
        ("Datumaro", "datumaro", coco_datumaro),
    ],
    "yolo": [
        ("FiftyOne", "fiftyone", yolo_fiftyone),
        ("Ultralytics", "ultralytics", yolo_ultralytics),
    ],
    "voc": [("FiftyOne", "fiftyone", voc_fiftyone), ("Datumaro", "datumaro", voc_datumaro)],
}


def run_checks(folder: Path, fmt: str) -> int:
    """Each installed tool's load against Lookout's count; the exit status."""
    expected = len(read_dataset(folder, fmt).images)
    failed = False
    for name, module, check in CHECKS[fmt]:
        if not installed(module):
            print(f"skipped: {name} is not installed (pip install {module})")
            continue
        try:
            loaded = check(folder)
        except Exception as exc:  # any failure of a foreign tool is the finding
            print(f"FAILED: {name} could not load the {fmt} export: {exc!r}")
            failed = True
            continue
        ok = loaded == expected
        failed |= not ok
        print(f"{'ok' if ok else 'FAILED'}: {name} loaded {loaded} images (Lookout: {expected})")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path, help="an export folder or zip")
    parser.add_argument("--format", required=True, choices=sorted(CHECKS))
    args = parser.parse_args(argv)
    if not args.export.exists():
        parser.error(f"export: {args.export} does not exist")
    with unpacked(args.export) as folder:
        return run_checks(folder, args.format)


if __name__ == "__main__":
    sys.exit(main())
