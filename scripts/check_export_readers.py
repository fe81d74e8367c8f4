"""Load a Lookout export with the tools people train and curate with, when they are installed.

    python scripts/check_export_readers.py EXPORT_FOLDER_OR_ZIP --format coco|yolo|voc

pycocotools, FiftyOne, Datumaro and Ultralytics are not Lookout dependencies (too heavy for
CI; docs/exports-and-evaluation.md, "Checked with the tools", says how to install them in a
virtualenv of their own): each check whose tool is missing is skipped with a message. A check
loads the export with the tool's loader as the docs show it and compares what the tool read
with what Lookout's own reader reads: the number of images, the number of boxes, and every
box's edges in pixels (within 0.01 px: a tool that reads a box one pixel off, or drops a box,
fails). Ultralytics writes its `labels/<split>.cache` files into a folder it checks, as
training does. Exit 0 when every check that ran passed, 1 when one failed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lookout.formats.coco import split_files
from lookout.formats.registry import read_dataset, unpacked

Pixels = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels
Boxes = dict[str, list[Pixels]]  # image file stem (Lookout's `<uuid>`) -> its boxes
Sizes = dict[str, tuple[int, int]]  # image file stem -> width, height
Check = Callable[[Path, Sizes], Boxes]  # what the tool read of every image it loaded

TOLERANCE_PX = 0.01


def installed(module: str) -> bool:
    """Whether a tool can be imported, without importing it (they are slow to import)."""
    return importlib.util.find_spec(module) is not None


def stem(name: str) -> str:
    """The image's key: its file name without folders and suffix."""
    return Path(name).stem


def xywh_pixels(x: float, y: float, w: float, h: float) -> Pixels:
    return (x, y, x + w, y + h)


def relative_pixels(box: list[float], size: tuple[int, int]) -> Pixels:
    """FiftyOne's relative [x, y, w, h] in pixels of an image of `size`."""
    width, height = size
    x, y, w, h = box
    return (x * width, y * height, (x + w) * width, (y + h) * height)


# --- COCO ------------------------------------------------------------------------------------


def coco_pycocotools(folder: Path, sizes: Sizes) -> Boxes:
    from pycocotools.coco import COCO

    boxes: Boxes = {}
    for path in split_files(folder):
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(str(path))
        for image in coco.loadImgs(coco.getImgIds()):
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
            boxes[stem(image["file_name"])] = [xywh_pixels(*a["bbox"]) for a in anns]
    return boxes


def _fiftyone_boxes(dataset: Any, field: str, sizes: Sizes) -> Boxes:
    boxes: Boxes = {}
    for sample in dataset.iter_samples():
        key = stem(sample.filepath)
        found = sample[field].detections if sample[field] is not None else []
        boxes[key] = [relative_pixels(d.bounding_box, sizes[key]) for d in found]
    return boxes


def coco_fiftyone(folder: Path, sizes: Sizes) -> Boxes:
    import fiftyone as fo

    # FiftyOne's own COCO layout is data/ + labels.json: each split's paths are named.
    boxes: Boxes = {}
    for path in split_files(folder):
        split = path.stem.removeprefix("instances_")
        dataset = fo.Dataset.from_dir(
            dataset_dir=str(folder),
            dataset_type=fo.types.COCODetectionDataset,
            data_path=f"images/{split}",
            labels_path=f"annotations/instances_{split}.json",
        )
        boxes.update(_fiftyone_boxes(dataset, "detections", sizes))
        dataset.delete()
    return boxes


def _datumaro_boxes(folder: Path, fmt: str) -> Boxes:
    import datumaro as dm

    dataset = dm.Dataset.import_from(str(folder), fmt)
    return {
        stem(item.id): [
            xywh_pixels(a.x, a.y, a.w, a.h)
            for a in item.annotations
            if a.type == dm.AnnotationType.bbox
        ]
        for item in dataset
    }


def coco_datumaro(folder: Path, sizes: Sizes) -> Boxes:
    # A folder with annotations.json beside annotations/ is fine: Datumaro reads annotations/.
    return _datumaro_boxes(folder, "coco")


# --- YOLO ------------------------------------------------------------------------------------


def yolo_fiftyone(folder: Path, sizes: Sizes) -> Boxes:
    import fiftyone as fo

    boxes: Boxes = {}
    for split in ("train", "val", "test"):
        if (folder / "images" / split).is_dir():  # reads dataset.yaml, FiftyOne's default
            dataset = fo.Dataset.from_dir(
                dataset_dir=str(folder), dataset_type=fo.types.YOLOv5Dataset, split=split
            )
            boxes.update(_fiftyone_boxes(dataset, "ground_truth", sizes))
            dataset.delete()
    return boxes


def yolo_ultralytics(folder: Path, sizes: Sizes) -> Boxes:
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(folder / "data.yaml"))
    # val points at train when empty: read each folder once, as training finds its labels.
    folders = {str(data[split]) for split in ("train", "val", "test") if data.get(split)}
    boxes: Boxes = {}
    for images in sorted(folders):
        dataset = YOLODataset(img_path=images, data=data, task="detect", augment=False)
        for label in dataset.labels:
            height, width = label["shape"]
            boxes[stem(label["im_file"])] = [
                relative_pixels([cx - w / 2, cy - h / 2, w, h], (width, height))
                for cx, cy, w, h in label["bboxes"].tolist()
            ]
    return boxes


# --- VOC -------------------------------------------------------------------------------------


def voc_fiftyone(folder: Path, sizes: Sizes) -> Boxes:
    import fiftyone as fo

    # FiftyOne's own VOC layout is data/ + labels/: VOC's folders are named.
    dataset = fo.Dataset.from_dir(
        dataset_dir=str(folder),
        dataset_type=fo.types.VOCDetectionDataset,
        data_path="JPEGImages",
        labels_path="Annotations",
    )
    boxes = _fiftyone_boxes(dataset, "ground_truth", sizes)
    dataset.delete()
    return boxes


def voc_datumaro(folder: Path, sizes: Sizes) -> Boxes:
    return _datumaro_boxes(folder, "voc")


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


def lookout_boxes(folder: Path, fmt: str) -> tuple[Boxes, Sizes]:
    """What Lookout's own reader reads of the export, in pixels."""
    boxes: Boxes = {}
    sizes: Sizes = {}
    for image in read_dataset(folder, fmt).images:
        key = stem(image.file_name)
        sizes[key] = (image.width, image.height)
        boxes[key] = [
            (x1 * image.width, y1 * image.height, x2 * image.width, y2 * image.height)
            for x1, y1, x2, y2 in (box.xyxyn for box in image.boxes)
        ]
    return boxes, sizes


def compare(loaded: Boxes, expected: Boxes) -> tuple[list[str], float]:
    """Images whose boxes differ (missing, extra, other count or off by more than the
    tolerance) and the largest difference in pixels among the boxes that were compared."""
    differing = sorted(set(loaded) ^ set(expected))
    worst = 0.0
    for key in sorted(set(loaded) & set(expected)):
        got, want = sorted(loaded[key]), sorted(expected[key])
        if len(got) != len(want):
            differing.append(key)
            continue
        pairs = zip(got, want, strict=True)
        gap = max((abs(a - b) for g, w in pairs for a, b in zip(g, w, strict=True)), default=0.0)
        worst = max(worst, gap)
        if gap > TOLERANCE_PX:
            differing.append(key)
    return differing, worst


def run_checks(folder: Path, fmt: str) -> int:
    """Each installed tool's load against Lookout's reader; the exit status."""
    expected, sizes = lookout_boxes(folder, fmt)
    want = f"Lookout: {len(expected)} images, {sum(map(len, expected.values()))} boxes"
    failed = False
    for name, module, check in CHECKS[fmt]:
        if not installed(module):
            print(f"skipped: {name} is not installed (pip install {module})")
            continue
        try:
            loaded = check(folder, sizes)
        except Exception as exc:  # any failure of a foreign tool is the finding
            print(f"FAILED: {name} could not load the {fmt} export: {exc!r}")
            failed = True
            continue
        differing, worst = compare(loaded, expected)
        failed |= bool(differing)
        got = f"{len(loaded)} images, {sum(map(len, loaded.values()))} boxes"
        detail = (
            f"boxes within {worst:.4f} px"
            if not differing
            else (
                f"{len(differing)} images differ (e.g. {differing[0]}), largest gap {worst:.4f} px"
            )
        )
        print(f"{'FAILED' if differing else 'ok'}: {name} loaded {got} ({want}); {detail}")
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
