"""Datasets into Lookout: COCO files and YOLO folders, as analyses or reviews."""
