"""The overlay artifact: the analysed image with its boxes and labels drawn on it, as a PNG."""

from __future__ import annotations

import colorsys
import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from lookout.worker.detector import Detection

MAX_SIDE = 2048


def class_color(class_id: int) -> tuple[int, int, int]:
    """A distinct, saturated colour per class (golden-ratio hues)."""
    hue = (class_id * 0.618033988749895 + 0.05) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return round(r * 255), round(g * 255), round(b * 255)


def draw_overlay(
    image: Image.Image, detections: Sequence[Detection], *, max_side: int = MAX_SIDE
) -> bytes:
    """PNG bytes of the image (scaled down to `max_side` at most) with every box labelled."""
    canvas = image.convert("RGB")
    scale = min(1.0, max_side / max(canvas.size))
    if scale < 1.0:
        size = (max(1, round(canvas.width * scale)), max(1, round(canvas.height * scale)))
        canvas = canvas.resize(size, Image.Resampling.BILINEAR)
    else:
        canvas = canvas.copy()
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    line = max(1, round(max(canvas.size) / 400))
    for det in detections:
        color = class_color(det.class_id)
        box = [det.x1 * scale, det.y1 * scale, det.x2 * scale, det.y2 * scale]
        draw.rectangle(box, outline=color, width=line)
        label = f"{det.class_name} {det.confidence:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        text_w, text_h = right - left + 4, bottom - top + 4
        x = min(max(0.0, box[0]), max(0.0, canvas.width - text_w))
        y = box[1] - text_h if box[1] - text_h >= 0 else box[1]
        draw.rectangle([x, y, x + text_w, y + text_h], fill=color)
        draw.text((x + 2, y + 2 - top), label, fill=(0, 0, 0), font=font)
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()
