"""The dataset formats' names, apart from their readers and writers.

The server's routes validate a format by name before any export runs; importing the writers
themselves (and Pillow, which the readers need) is left to the export that uses them, so a
server worker starts without them (issue 20, boot).
"""

from __future__ import annotations

READ_FORMATS = ("coco", "yolo", "voc", "csv", "jsonl")
RESULTS_FORMAT = "coco-results"  # a model's boxes as the list pycocotools' loadRes takes
WRITE_FORMATS = ("coco", RESULTS_FORMAT, "yolo", "voc", "csv", "jsonl")
RESULTS_FILE = "results.json"
SPLITS = ("train", "val", "test")
