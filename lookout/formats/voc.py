"""Pascal VOC: writing JPEGImages/, Annotations/<stem>.xml, ImageSets/Main/<split>.txt and
labelmap.txt (Datumaro's), and reading them back.

Boxes are written as FiftyOne and Datumaro read them: pixel edges from 0, `xmin = x1 * width`
rounded and `xmax = x2 * width` rounded, the box `xmax - xmin` pixels wide. The VOC devkit's
1-based inclusive indices would move every box one pixel in those readers (and make a 1-pixel
box empty); a devkit-based reader sees the box half a pixel to the upper left instead.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from lookout.formats.dataset import (
    Dataset,
    DatasetBox,
    DatasetFalsePositive,
    DatasetImage,
    apply_fields,
    bad,
    probe,
    text,
)
from lookout.formats.writing import SPLITS, Item, Writer, frame_fields, spool
from lookout.truth.reading import Xyxy

# --- Reading -------------------------------------------------------------------------------


def is_voc_folder(folder: Path) -> bool:
    """A folder with VOC's Annotations/ folder."""
    return (folder / "Annotations").is_dir()


def read_voc(folder: Path) -> Dataset:
    """Read and check a VOC folder: Annotations/*.xml, JPEGImages/, ImageSets/Main/<split>.txt.
    Boxes are read as pixel edges from 0, as written (and as FiftyOne and Datumaro read)."""
    if not is_voc_folder(folder):
        raise bad(f"{folder}: a VOC folder holds Annotations/ and JPEGImages/", "path")
    splits = _voc_splits(folder)
    images = [
        _voc_image(path, folder, splits) for path in sorted((folder / "Annotations").glob("*.xml"))
    ]
    if not images:
        raise bad(f"{folder}: no annotation files in Annotations/", "path")
    found = list(dict.fromkeys(b.class_name for image in images for b in image.boxes))
    listed = folder / "labels.txt"
    order = listed.read_text(encoding="utf-8").split() if listed.is_file() else []
    classes = [c for c in order if c in found] + [c for c in found if c not in order]
    return Dataset("voc", folder.name, classes, images)


def _voc_splits(folder: Path) -> dict[str, str]:
    """Image stems to the split whose ImageSets/Main list names them first."""
    stems: dict[str, str] = {}
    for split in SPLITS:
        listed = folder / "ImageSets" / "Main" / f"{split}.txt"
        if listed.is_file():
            for stem in listed.read_text(encoding="utf-8").split():
                stems.setdefault(stem, split)
    return stems


def _voc_image(path: Path, folder: Path, splits: dict[str, str]) -> DatasetImage:
    """One annotation file: its image (probed), objects, false positives, Lookout's fields."""
    label = f"Annotations/{path.name}"
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise bad(f"{label}: not valid XML ({exc})", "path") from exc
    name = text(root.findtext("filename"))
    if name is None or Path(name).name != name:
        raise bad(f"{label}: filename must name a file in JPEGImages/", "filename")
    width, height, sha = probe(folder / "JPEGImages" / name, label)
    image = DatasetImage(folder / "JPEGImages" / name, name, width, height, sha256=sha)
    source = root.find("source")
    fields = {child.tag: child.text for child in source} if source is not None else {}
    apply_fields(image, fields)
    image.split = image.split or splits.get(path.stem)
    for k, node in enumerate(root.iter("object")):
        image.boxes.append(_voc_object(node, f"{label}: object[{k}]", image))
    for k, node in enumerate(root.iter("false_positive")):
        where = f"{label}: false_positive[{k}]"
        types = [t for t in (node.findtext("types") or "").split(",") if t]
        track = _number(node.findtext("track_id"), where)
        fp = DatasetFalsePositive(types, _voc_box(node, where, image), track)
        image.false_positives.append(fp)
    return image


def _number(value: str | None, label: str) -> Any:
    """An optional integer or decimal element's value."""
    value = text(value)
    if value is None:
        return None
    try:
        return int(value) if value.lstrip("-").isdigit() else float(value)
    except ValueError as exc:
        raise bad(f"{label}: {value!r} is not a number", "annotations") from exc


def _voc_box(node: ET.Element, label: str, image: DatasetImage) -> Xyxy:
    """A <bndbox> (pixel edges from 0) as a normalized box; outside or empty is an error."""
    values = [
        _number(node.findtext(f"bndbox/{k}"), label) for k in ("xmin", "ymin", "xmax", "ymax")
    ]
    if any(v is None for v in values):
        raise bad(f"{label}: bndbox needs xmin, ymin, xmax and ymax", "annotations")
    x1, y1, x2, y2 = (float(v) for v in values)
    if x1 < 0 or y1 < 0 or x2 > image.width or y2 > image.height or x2 <= x1 or y2 <= y1:
        raise bad(f"{label}: box {values} is outside the image or has no area", "annotations")
    return (x1 / image.width, y1 / image.height, x2 / image.width, y2 / image.height)


def _voc_object(node: ET.Element, label: str, image: DatasetImage) -> DatasetBox:
    """An <object>: class, box, and Lookout's confidence and track."""
    name = text(node.findtext("name"))
    if name is None:
        raise bad(f"{label}: name is missing", "annotations")
    xyxyn = _voc_box(node, label, image)
    confidence = _number(node.findtext("confidence"), label)
    if confidence is not None and not 0 <= confidence <= 1:
        raise bad(f"{label}: confidence must be between 0 and 1", "annotations")
    return DatasetBox(
        name,
        xyxyn,
        confidence=confidence,
        track_id=_number(node.findtext("track_id"), label),
        data={"bbox": list(xyxyn), "format": "xyxyn"},
    )


# --- Writing -------------------------------------------------------------------------------


def bndbox(xyxyn: Xyxy, width: int, height: int) -> str:
    """A normalized box as VOC's <bndbox>: 0-based pixel edges, at least one pixel, inside."""
    x1, y1, x2, y2 = xyxyn
    xmin = min(max(round(x1 * width), 0), width - 1)
    ymin = min(max(round(y1 * height), 0), height - 1)
    xmax = min(max(round(x2 * width), xmin + 1), width)
    ymax = min(max(round(y2 * height), ymin + 1), height)
    return (
        f"<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax>"
        f"<ymax>{ymax}</ymax></bndbox>"
    )


def annotation_xml(item: Item) -> str:
    """An image's VOC annotation: file, Lookout's fields, size, objects, false positives."""
    image = item.frame.image
    fields = frame_fields(item)
    source = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in fields.items() if v is not None)
    parts = [
        "<annotation>",
        f"<folder>JPEGImages</folder><filename>{escape(item.name)}</filename>",
        f"<source><database>Lookout</database>{source}</source>",
        f"<size><width>{image.width}</width><height>{image.height}</height><depth>3</depth></size>",
        "<segmented>0</segmented>",
    ]
    for box in item.boxes:
        extra = f"<track_id>{box.track_id}</track_id>" if box.track_id is not None else ""
        if box.confidence is not None:
            extra += f"<confidence>{box.confidence}</confidence>"
        parts.append(
            f"<object><name>{escape(box.class_name)}</name><pose>Unspecified</pose>"
            f"<truncated>0</truncated><difficult>0</difficult>"
            f"{bndbox(box.xyxyn, image.width, image.height)}{extra}</object>"
        )
    for fp in item.false_positives:
        parts.append(
            f"<false_positive><types>{escape(','.join(fp.types))}</types>"
            f"<track_id>{fp.track_id}</track_id>"
            f"{bndbox(fp.xyxyn, image.width, image.height)}</false_positive>"
        )
    parts.append("</annotation>\n")
    return "\n".join(parts)


def labelmap(classes: list[str]) -> str:
    """Datumaro's VOC label map (`label:color:parts:actions`), without colors: Datumaro then
    makes its own, and a detection dataset needs none."""
    lines = ["# label:color_rgb:parts:actions", "background:::"]
    lines.extend(f"{name}:::" for name in classes if name != "background")
    return "\n".join(lines) + "\n"


class VocWriter(Writer):
    """Pascal VOC: JPEGImages/, Annotations/<stem>.xml, ImageSets/Main/<split>.txt."""

    images_folder = "JPEGImages"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sets = {split: spool() for split in SPLITS}

    def add(self, item: Item) -> None:
        """Write the image's XML; note its stem in its split's list."""
        super().add(item)
        self.sink.write_bytes(f"Annotations/{item.stem}.xml", annotation_xml(item).encode())
        self.sets[item.split].write(f"{item.stem}\n".encode())

    def finish(self) -> None:
        """Write the split lists that have images, labels.txt and the manifest."""
        for split, listed in self.sets.items():
            if listed.tell():
                self.sink.write_file(f"ImageSets/Main/{split}.txt", listed)
            listed.close()
        self.sink.write_bytes("labels.txt", "".join(f"{c}\n" for c in self.classes).encode())
        self.sink.write_bytes("labelmap.txt", labelmap(self.classes).encode())
        super().finish()
