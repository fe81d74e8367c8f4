"""Datasets out of Lookout: COCO, YOLO, VOC, CSV and JSON Lines, streamed."""
