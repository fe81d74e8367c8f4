"""Annotations of the demo's pipeline models: boxes near the platform's, and one image
carrying every annotation type (polygon and RLE segmentation, keypoints, a heatmap)."""

from __future__ import annotations

import io
import math
import random
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import ImageFilter

from lookout.demo.scenes import HEIGHT, WIDTH, Box, Scene, SequenceSpec


def box_annotation(box: Box, confidence: float, class_name: str = "smoke") -> dict[str, Any]:
    return {
        "annotation_type": "bounding_box",
        "class_name": class_name,
        "confidence": round(confidence, 3),
        "data": {"bbox": [round(v, 5) for v in box], "format": "xyxyn"},
    }


def _jitter(box: Box, rng: random.Random, amount: float) -> Box:
    x1, y1, x2, y2 = (v + rng.uniform(-amount, amount) for v in box)
    x1, y1 = max(0.0, x1), max(0.0, y1)
    x2, y2 = min(1.0, max(x2, x1 + 0.01)), min(1.0, max(y2, y1 + 0.01))
    return (x1, y1, x2, y2)


def pipeline_boxes(
    model_name: str, spec: SequenceSpec, index: int, scene: Scene
) -> list[tuple[Box, float]]:
    """Two models that partly agree: both see the plume, each has its own extra boxes."""
    rng = random.Random(f"{model_name}:{spec.key}:{index}")
    out: list[tuple[Box, float]] = []
    smoke = [b for b, _ in scene.platform_boxes[:1]] if spec.kind.startswith("wildfire") else []
    progress = (index + 1) / spec.frames
    for box in smoke:
        # The newer model picks the plume up one frame later, while it is still faint.
        if model_name == "yolo_v11" and index == 0:
            continue
        out.append((_jitter(box, rng, 0.008), 0.45 + 0.5 * progress * rng.uniform(0.9, 1.0)))
    if model_name == "yolo_v8" and index % 2 == 0:
        out.append(((0.62, 0.18, 0.78, 0.27), rng.uniform(0.3, 0.45)))  # a cloud
    if model_name == "yolo_v11" and index % 3 == 1:
        out.append(((0.08, 0.47, 0.13, 0.52), rng.uniform(0.28, 0.4)))  # a glint on the ridge
    return out


def all_type_annotations(scene: Scene) -> list[dict[str, Any]]:
    """One annotation of each type (and both segmentation formats) for the plume."""
    (x1, y1, x2, y2), _ = scene.platform_boxes[0]
    mask = scene.plume_mask
    polygon = _polygon(mask, points=28)
    small = mask.resize((WIDTH // 5, HEIGHT // 5), PILImage.Resampling.BILINEAR)
    rle = rle_encode(np.asarray(small) > 60)
    top = min(polygon, key=lambda p: p[1])
    return [
        {
            "annotation_type": "bounding_box",
            "class_name": "smoke",
            "confidence": 0.91,
            "data": {
                "bbox": [
                    round(x1 * WIDTH),
                    round(y1 * HEIGHT),
                    round(x2 * WIDTH),
                    round(y2 * HEIGHT),
                ],
                "format": "xyxy",
            },
        },
        {
            "annotation_type": "bounding_box",
            "class_name": "cloud",
            "confidence": 0.42,
            "data": {"bbox": [500, 80, 120, 40], "format": "xywh"},
        },
        {
            "annotation_type": "segmentation",
            "class_name": "smoke",
            "confidence": 0.88,
            "data": {"points": [[round(x), round(y)] for x, y in polygon], "format": "polygon"},
        },
        {
            "annotation_type": "segmentation",
            "class_name": "smoke",
            "confidence": 0.86,
            "data": {"rle": {"counts": rle, "size": [HEIGHT // 5, WIDTH // 5]}, "format": "rle"},
        },
        {
            "annotation_type": "keypoint",
            "class_name": "plume",
            "confidence": 0.8,
            "data": {
                "keypoints": [
                    {
                        "name": "source",
                        "x": round(scene.origin[0]),
                        "y": round(scene.origin[1]),
                        "confidence": 0.93,
                    },
                    {"name": "top", "x": round(top[0]), "y": round(top[1]), "confidence": 0.81},
                    {
                        "name": "drift",
                        "x": round(x2 * WIDTH) - 12,
                        "y": round(y1 * HEIGHT) + 20,
                        "confidence": 0.66,
                    },
                ]
            },
        },
        {
            "annotation_type": "classification",
            "class_name": "smoke",
            "confidence": 0.93,
            "data": {"scores": {"smoke": 0.93, "cloud": 0.05, "clear": 0.02}},
        },
        {
            "annotation_type": "heatmap",
            "class_name": "smoke",
            "confidence": 0.9,
            "data": {"artifact_name": "heatmap.png", "colormap": "inferno"},
        },
    ]


def rle_encode(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE: column-major run lengths, starting with a run of zeros."""
    flat = np.asarray(mask, dtype=bool).flatten(order="F")
    counts: list[int] = []
    current, run = False, 0
    for value in flat:
        if value == current:
            run += 1
        else:
            counts.append(run)
            current, run = bool(value), 1
    counts.append(run)
    return counts


def _polygon(mask: PILImage.Image, points: int) -> list[tuple[float, float]]:
    """A star-shaped outline of the mask: the farthest masked pixel along each ray."""
    array = np.asarray(mask) > 60
    ys, xs = np.nonzero(array)
    cx, cy = float(xs.mean()), float(ys.mean())
    outline = []
    for k in range(points):
        angle = 2 * math.pi * k / points
        dx, dy = math.cos(angle), math.sin(angle)
        radius = 0.0
        for step in range(1, 400):
            x, y = int(cx + dx * step), int(cy + dy * step)
            if not (0 <= x < WIDTH and 0 <= y < HEIGHT):
                break
            if array[y, x]:
                radius = step
        outline.append((cx + dx * max(radius, 3), cy + dy * max(radius, 3)))
    return outline


def heatmap_png(mask: PILImage.Image) -> bytes:
    """A saliency map of the plume: transparent where cold, yellow to red where hot."""
    small = mask.resize((WIDTH // 4, HEIGHT // 4), PILImage.Resampling.BILINEAR)
    heat = np.asarray(small.filter(ImageFilter.GaussianBlur(6)), dtype=np.float32) / 255.0
    heat = np.clip(heat / max(float(heat.max()), 1e-6), 0, 1)
    rgba = np.zeros((*heat.shape, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = (230 * (1 - heat)).astype(np.uint8)
    rgba[..., 2] = (40 * (1 - heat)).astype(np.uint8)
    rgba[..., 3] = (220 * np.sqrt(heat)).astype(np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(rgba, "RGBA").save(out, format="PNG", optimize=True)
    return out.getvalue()
