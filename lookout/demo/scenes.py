"""The demo's cameras, sequences and frames: generated landscapes with plumes, clouds,
glare and dust, and the boxes the platform's model "saw" on each frame."""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFilter

WIDTH, HEIGHT = 800, 450


BASE_TIME = datetime(2025, 7, 14, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class CameraSpec:
    key: str
    name: str
    lat: float
    lon: float
    azimuth: float
    seed: int


CAMERAS = (
    CameraSpec("cam-north-ridge", "North ridge", 44.553, 4.221, 112.0, 11),
    CameraSpec("cam-valley-tower", "Valley tower", 44.418, 4.386, 248.0, 23),
)


@dataclass(frozen=True)
class SequenceSpec:
    key: str
    camera: int
    kind: str  # what the frames show; see _render_frame
    frames: int
    day: int  # days after BASE_TIME
    minute: int
    label: str | None  # what the platform said


SEQUENCES = (
    SequenceSpec("demo-seq-01", 0, "wildfire", 8, 0, 62, "True"),
    SequenceSpec("demo-seq-02", 0, "cloud", 7, 0, 185, "True"),
    SequenceSpec("demo-seq-03", 1, "wildfire_far", 10, 1, 20, "True"),
    SequenceSpec("demo-seq-04", 1, "industrial", 6, 1, 240, None),
    SequenceSpec("demo-seq-05", 0, "glare", 6, 2, 390, None),
    SequenceSpec("demo-seq-06", 1, "wildfire_cloud", 9, 3, 95, "True"),
    SequenceSpec("demo-seq-07", 0, "dust", 7, 4, 300, None),
    SequenceSpec("demo-seq-08", 1, "wildfire_small", 8, 5, 150, None),
    # Recurring false alarms, the same object at the same place day after day: a mast glinting
    # on the north ridge and a farm's chimney steaming below the valley tower.
    SequenceSpec("demo-seq-09", 0, "antenna", 5, 1, 410, "False"),
    SequenceSpec("demo-seq-10", 0, "antenna", 5, 2, 415, "False"),
    SequenceSpec("demo-seq-11", 0, "antenna", 5, 4, 405, "False"),
    SequenceSpec("demo-seq-12", 0, "antenna", 5, 6, 420, None),
    SequenceSpec("demo-seq-13", 1, "chimney", 5, 1, 480, "False"),
    SequenceSpec("demo-seq-14", 1, "chimney", 5, 2, 470, "False"),
    SequenceSpec("demo-seq-15", 1, "chimney", 5, 3, 490, None),
    SequenceSpec("demo-seq-16", 1, "chimney", 5, 5, 475, None),
)

# The recurring objects' place on their camera's frames (x of the base, as a share of the width).
_RECURRING_X = {"antenna": 0.64, "chimney": 0.17}


Box = tuple[float, float, float, float]


@dataclass
class Scene:
    jpeg: bytes
    platform_boxes: list[tuple[Box, float]]
    plume_mask: PILImage.Image
    origin: tuple[float, float]


def _ridge(rng: random.Random, base: float, amplitude: float) -> np.ndarray:
    xs = np.arange(WIDTH, dtype=np.float32)
    line = np.full(WIDTH, base, dtype=np.float32)
    for octave in range(1, 5):
        phase = rng.uniform(0, 2 * math.pi)
        line += amplitude / octave * np.sin(xs / WIDTH * math.pi * (octave * 1.7 + 0.6) + phase)
    return line


def _background(camera: CameraSpec) -> tuple[np.ndarray, np.ndarray]:
    """Sky gradient, a far ridge and a near slope; returns the RGB array and the far ridge line."""
    rng = random.Random(camera.seed)
    rows = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None]
    top = np.array([88, 142, 204], dtype=np.float32)
    horizon = np.array([196, 214, 228], dtype=np.float32)
    sky = top + (horizon - top) * rows[..., None] ** 0.8
    image = np.broadcast_to(sky, (HEIGHT, WIDTH, 3)).copy()
    ys = np.arange(HEIGHT, dtype=np.float32)[:, None]
    far = _ridge(rng, HEIGHT * 0.5, 22)
    near = _ridge(rng, HEIGHT * 0.7, 30)
    far_mask = ys >= far[None, :]
    near_mask = ys >= near[None, :]
    image[far_mask] = np.array([112, 128, 140], dtype=np.float32)
    shade = np.clip((ys - near[None, :]) / (HEIGHT * 0.4), 0, 1)[..., None]
    near_color = np.array([70, 92, 58], dtype=np.float32) * (1 - 0.45 * shade)
    image = np.where(near_mask[..., None], np.broadcast_to(near_color, image.shape), image)
    noise = np.random.default_rng(camera.seed).normal(0, 3.0, image.shape)
    return np.clip(image + noise, 0, 255), far


def _soft(draw_fn: Callable[[ImageDraw.ImageDraw], None], blur: float) -> PILImage.Image:
    mask = PILImage.new("L", (WIDTH, HEIGHT), 0)
    draw_fn(ImageDraw.Draw(mask))
    return mask.filter(ImageFilter.GaussianBlur(blur))


def _plume(
    origin: tuple[float, float],
    progress: float,
    *,
    height: float,
    drift: float,
    width: float,
    rng: random.Random,
) -> PILImage.Image:
    x0, y0 = origin
    top = height * (0.35 + 0.65 * progress)

    def draw(d: ImageDraw.ImageDraw) -> None:
        steps = 14
        for j in range(steps):
            t = j / (steps - 1)
            cx = x0 + drift * top * t**1.6 + rng.uniform(-2, 2)
            cy = y0 - top * t
            r = width * (0.7 + 1.3 * t) * (0.6 + 0.4 * progress)
            d.ellipse((cx - r, cy - r * 0.8, cx + r, cy + r * 0.8), fill=int(245 - 100 * t))

    return _soft(draw, 5)


def _mask_box(mask: PILImage.Image, pad: float = 0.004) -> Box | None:
    bbox = mask.point(lambda v: 255 if v > 50 else 0).getbbox()
    if bbox is None:
        return None
    x1, y1, x2, y2 = bbox
    return (
        max(0.0, x1 / WIDTH - pad),
        max(0.0, y1 / HEIGHT - pad),
        min(1.0, x2 / WIDTH + pad),
        min(1.0, y2 / HEIGHT + pad),
    )


@dataclass
class _Frame:
    """What the kinds of a sequence add to one of its frames: layers to paint, boxes seen."""

    spec: SequenceSpec
    index: int
    progress: float
    origin: tuple[float, float]
    far: np.ndarray
    rng: random.Random
    image: PILImage.Image
    boxes: list[tuple[Box, float]] = field(default_factory=list)
    layers: list[tuple[PILImage.Image, tuple[int, int, int], float]] = field(default_factory=list)
    plume_mask: PILImage.Image = field(default_factory=lambda: PILImage.new("L", (WIDTH, HEIGHT)))

    def add(self, mask: PILImage.Image, color: tuple[int, int, int], strength: float) -> None:
        self.layers.append((mask, color, strength))

    def see(self, box: Box | None, confidence: float) -> None:
        if box is not None:
            self.boxes.append((box, confidence))


_ANCHOR_X = {
    "wildfire": 0.36,
    "wildfire_far": 0.58,
    "wildfire_cloud": 0.3,
    "wildfire_small": 0.7,
    "industrial": 0.45,
}


def _wildfire(f: _Frame) -> None:
    scale = {"wildfire_far": 0.6, "wildfire_small": 0.45}.get(f.spec.kind, 1.0)
    f.plume_mask = _plume(
        f.origin, f.progress, height=150 * scale, drift=0.55, width=16 * scale, rng=f.rng
    )
    f.add(f.plume_mask, (206, 204, 200), 0.82)
    box = _mask_box(f.plume_mask)
    if box is not None and not (f.spec.kind == "wildfire_small" and f.index == 3):  # missed
        f.see(box, min(0.95, 0.3 + 0.6 * f.progress + f.rng.uniform(-0.04, 0.04)))


def _industrial(f: _Frame) -> None:
    x, y = f.origin
    f.plume_mask = _plume(
        (x, y - 26), 0.7 + 0.3 * f.progress, height=90, drift=0.1, width=7, rng=f.rng
    )
    f.add(f.plume_mask, (240, 240, 240), 0.9)
    ImageDraw.Draw(f.image).rectangle((x - 3, y - 26, x + 3, y), fill=(60, 60, 64))
    f.see(_mask_box(f.plume_mask), 0.55 + 0.2 * f.progress)


def _cloud(f: _Frame) -> None:
    cx = WIDTH * (0.55 + 0.05 * f.progress) if f.spec.kind == "cloud" else WIDTH * 0.72
    cy = float(f.far[int(min(cx, WIDTH - 1))]) - 14
    cloud = _soft(lambda d: d.ellipse((cx - 90, cy - 18, cx + 90, cy + 18), fill=230), 12)
    f.add(cloud, (244, 246, 248), 0.9)
    box = _mask_box(cloud, pad=-0.01)
    if box is not None and f.index % 4 != 3:
        f.see(box, 0.36 + 0.15 * f.rng.random())


def _glare(f: _Frame) -> None:
    sx, sy = WIDTH * 0.84, HEIGHT * 0.12

    def flare(d: ImageDraw.ImageDraw) -> None:
        d.ellipse((sx - 30, sy - 30, sx + 30, sy + 30), fill=255)
        for k in range(1, 4):
            fx, fy = sx - k * 95 + f.index * 3, sy + k * 70
            d.ellipse((fx - 12 * k, fy - 12 * k, fx + 12 * k, fy + 12 * k), fill=110)

    f.add(_soft(flare, 4), (255, 250, 225), 0.85)
    fx, fy = sx - 2 * 95 + f.index * 3, sy + 2 * 70
    f.see(
        ((fx - 30) / WIDTH, (fy - 30) / HEIGHT, (fx + 30) / WIDTH, (fy + 30) / HEIGHT),
        0.41 + 0.03 * f.index,
    )


def _dust(f: _Frame) -> None:
    dx, dy = WIDTH * (0.2 + 0.08 * f.index), HEIGHT * 0.86

    def dust(d: ImageDraw.ImageDraw) -> None:
        d.ellipse((dx - 70, dy - 30, dx + 40, dy + 10), fill=240)
        d.ellipse((dx - 130, dy - 20, dx - 40, dy + 8), fill=140)

    cloud = _soft(dust, 9)
    f.add(cloud, (186, 164, 126), 0.9)
    f.see(_mask_box(cloud), 0.33 + 0.05 * (f.index % 3))


def _antenna(f: _Frame) -> None:
    """A mast on the ridge whose top glints in the afternoon sun: seen as a thin plume."""
    x, y = f.origin
    ImageDraw.Draw(f.image).line((x, y, x, y - 46), fill=(48, 50, 56), width=3)
    glint = 0.6 + 0.4 * math.sin(f.index * 1.3 + f.spec.day)
    halo = _soft(lambda d: d.ellipse((x - 9, y - 58, x + 9, y - 36), fill=int(200 * glint)), 4)
    f.add(halo, (255, 252, 236), 0.9)
    jitter = f.rng.uniform(-0.002, 0.002)
    box = (
        (x - 12) / WIDTH + jitter,
        (y - 62) / HEIGHT,
        (x + 12) / WIDTH + jitter,
        (y + 2) / HEIGHT,
    )
    f.see(box, 0.3 + 0.12 * glint)


def _chimney(f: _Frame) -> None:
    """A farm's chimney and its steam, always in the same place below the ridge."""
    x, y = f.origin[0], f.origin[1] + 40
    ImageDraw.Draw(f.image).rectangle((x - 4, y - 22, x + 4, y), fill=(92, 70, 64))
    steam = _plume((x, y - 22), 0.55, height=44, drift=0.25, width=6, rng=f.rng)
    f.add(steam, (236, 236, 236), 0.75)
    box = _mask_box(steam)
    if box is not None:
        f.see(box, 0.34 + 0.08 * f.rng.random())


def _painters(kind: str) -> list[Callable[[_Frame], None]]:
    """What a kind of sequence shows, in the order it is painted."""
    painters: list[Callable[[_Frame], None]] = []
    if kind.startswith("wildfire"):
        painters.append(_wildfire)
    if kind == "industrial":
        painters.append(_industrial)
    if kind in ("cloud", "wildfire_cloud"):
        painters.append(_cloud)
    if kind == "glare":
        painters.append(_glare)
    if kind == "dust":
        painters.append(_dust)
    if kind == "antenna":
        painters.append(_antenna)
    if kind == "chimney":
        painters.append(_chimney)
    return painters


def render_frame(spec: SequenceSpec, index: int, *, with_pixels: bool = True) -> Scene:
    """One frame of a sequence: the scene, and the boxes the platform's model saw on it."""
    camera = CAMERAS[spec.camera]
    background, far = _background(camera)
    ox = WIDTH * _ANCHOR_X.get(spec.kind, _RECURRING_X.get(spec.kind, 0.4))
    frame = _Frame(
        spec=spec,
        index=index,
        progress=(index + 1) / spec.frames,
        origin=(ox, float(far[int(ox)]) + 4),
        far=far,
        rng=random.Random(f"{spec.key}:{index}"),
        image=PILImage.fromarray(background.astype(np.uint8), "RGB"),
    )
    for paint in _painters(spec.kind):
        paint(frame)
    if not with_pixels:
        return Scene(b"", frame.boxes, frame.plume_mask, frame.origin)
    return Scene(_jpeg(frame, camera), frame.boxes, frame.plume_mask, frame.origin)


def _jpeg(frame: _Frame, camera: CameraSpec) -> bytes:
    """The frame's layers painted over its background, stamped with camera and time."""
    image = frame.image
    for mask, color, strength in frame.layers:
        alpha = mask.point(lambda v, s=strength: int(v * s))
        image.paste(PILImage.new("RGB", image.size, color), (0, 0), alpha)
    spec, draw = frame.spec, ImageDraw.Draw(image)
    stamp = BASE_TIME + timedelta(days=spec.day, minutes=spec.minute, seconds=30 * frame.index)
    draw.rectangle((0, HEIGHT - 18, 260, HEIGHT), fill=(0, 0, 0))
    draw.text((6, HEIGHT - 15), f"{camera.name}  {stamp:%Y-%m-%d %H:%M:%S}", fill=(235, 235, 235))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80, optimize=True)
    return out.getvalue()
