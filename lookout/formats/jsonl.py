"""JSON Lines: writing `annotations.jsonl`, one JSON object per image with its boxes."""

from __future__ import annotations

from typing import Any

from lookout.formats.writing import (
    Item,
    Writer,
    false_positive_fields,
    frame_fields,
    json_bytes,
    pixels,
    spool,
    xywh,
)


def record(item: Item) -> dict[str, Any]:
    """An image's line: file, size, Lookout's fields, URL, boxes and false positives."""
    image = item.frame.image
    line: dict[str, Any] = {
        "file_name": item.name,
        "width": image.width,
        "height": image.height,
        **frame_fields(item),
        "url": item.url,
        "boxes": [
            {
                "class_name": b.class_name,
                "xyxyn": list(b.xyxyn),
                "bbox": xywh(pixels(b.xyxyn, image.width, image.height)),
                "confidence": b.confidence,
                "track_id": b.track_id,
            }
            for b in item.boxes
        ],
    }
    if item.false_positives:
        line["false_positives"] = false_positive_fields(item)
    return line


class JsonlWriter(Writer):
    """`annotations.jsonl`: one JSON object per image with its boxes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lines = spool()

    def add(self, item: Item) -> None:
        """Spool the image's line."""
        super().add(item)
        self.lines.write(json_bytes(record(item)) + b"\n")

    def finish(self) -> None:
        """Write annotations.jsonl and the manifest."""
        self.sink.write_file("annotations.jsonl", self.lines)
        self.lines.close()
        super().finish()
