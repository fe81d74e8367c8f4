"""Pascal VOC: writing JPEGImages/, Annotations/<stem>.xml and ImageSets/Main/<split>.txt.

Boxes are 1-based inclusive pixel indices (the VOC devkit's convention). Lookout does not
import VOC; the round-trip tests read the XML back to check the writer.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from lookout.formats.writing import SPLITS, Item, Writer, frame_fields, spool
from lookout.truth.reading import Xyxy


def bndbox(xyxyn: Xyxy, width: int, height: int) -> str:
    """A normalized box as VOC's <bndbox>: 1-based inclusive pixels, within the image."""
    x1, y1, x2, y2 = xyxyn
    xmin = min(max(round(x1 * width) + 1, 1), width)
    ymin = min(max(round(y1 * height) + 1, 1), height)
    xmax = min(max(round(x2 * width), xmin), width)
    ymax = min(max(round(y2 * height), ymin), height)
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
        super().finish()
