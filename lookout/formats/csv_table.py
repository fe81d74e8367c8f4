"""CSV: writing `annotations.csv`, one row per box, per negative image and per false positive.

Text cells that a spreadsheet would run as a formula are quoted (`lookout.csvcells`).
"""

from __future__ import annotations

from typing import Any

from lookout.formats.writing import CsvSpool, Item, Writer, frame_fields, pixels

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
        tail = [item.frame.stage, image.sha256, item.url]
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
        self.sink.write_file("annotations.csv", self.table.detach())
        super().finish()
