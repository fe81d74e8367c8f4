"""ONNX object detection with the YOLOv8 / YOLO11 output layout, in numpy and onnxruntime.

The model takes one letterboxed RGB image, `[1, 3, H, W]` float in [0, 1], and answers
`[1, 4 + num_classes, N]`: for each of N candidates the box centre, width and height in input
pixels followed by one score per class (already sigmoid-ed, no objectness). Exports that answer
the transposed `[1, N, 4 + num_classes]` are recognised when the class count is known.

Decoding: best class per candidate, confidence filter, class-wise NMS, at most
`max_detections`, then boxes are mapped back through the letterbox to original pixels and
clipped to the image.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

DEFAULT_SIZE = 640
PAD_VALUE = 114
MAX_PIXELS = 200_000_000


class ModelError(Exception):
    """The model file cannot be used (missing, corrupt, or not a YOLO detector)."""


class ImageError(Exception):
    """The image bytes cannot be decoded."""


@dataclass(frozen=True)
class Detection:
    """One box in original image pixels."""

    x1: float
    y1: float
    x2: float
    y2: float
    confidence: float
    class_id: int
    class_name: str

    @property
    def xyxy(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the model input: scale, then padding on the left and top."""

    scale: float
    pad_x: int
    pad_y: int
    input_width: int
    input_height: int


# --- image ----------------------------------------------------------------------------------


def decode_image(data: bytes) -> Image.Image:
    """Decode image bytes fully into RGB, or raise ImageError saying what is wrong."""
    if not data:
        raise ImageError("the image is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise ImageError(f"the image is {img.width}x{img.height}: too many pixels")
                img.load()
                return img.convert("RGB")
    except UnidentifiedImageError as exc:
        raise ImageError("could not decode the image: not a known image format") from exc
    except (
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise ImageError(f"could not decode the image: {exc}") from exc


def letterbox(image: Image.Image, width: int, height: int) -> tuple[np.ndarray, Letterbox]:
    """The image resized to fit (width, height) keeping its aspect, centred on grey padding.

    Returns the model input `[1, 3, height, width]` float32 in [0, 1] and the transform.
    """
    w, h = image.size
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    pad_x = round((width - new_w) / 2 - 0.1)
    pad_y = round((height - new_h) / 2 - 0.1)
    resized = (
        image
        if (new_w, new_h) == (w, h)
        else image.resize((new_w, new_h), Image.Resampling.BILINEAR)
    )
    canvas = Image.new("RGB", (width, height), (PAD_VALUE, PAD_VALUE, PAD_VALUE))
    canvas.paste(resized, (pad_x, pad_y))
    array = np.asarray(canvas, dtype=np.float32) / 255.0
    tensor = np.ascontiguousarray(array.transpose(2, 0, 1)[None])
    return tensor, Letterbox(scale, pad_x, pad_y, width, height)


def unletterbox(boxes: np.ndarray, box: Letterbox, width: int, height: int) -> np.ndarray:
    """xyxy boxes in model input pixels → original image pixels, clipped to the image."""
    out = boxes.astype(np.float64).copy()
    out[:, [0, 2]] = (out[:, [0, 2]] - box.pad_x) / box.scale
    out[:, [1, 3]] = (out[:, [1, 3]] - box.pad_y) / box.scale
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out


# --- decoding -------------------------------------------------------------------------------


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box with each of `boxes`."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, highest score first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[best], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """NMS within each class only (a box never suppresses another class's box)."""
    keep: list[np.ndarray] = []
    for class_id in np.unique(class_ids):
        index = np.flatnonzero(class_ids == class_id)
        keep.append(index[nms(boxes[index], scores[index], iou_threshold)])
    if not keep:
        return np.zeros(0, dtype=np.int64)
    merged = np.concatenate(keep)
    return merged[np.argsort(-scores[merged], kind="stable")]


def decode_predictions(
    output: np.ndarray,
    *,
    num_classes: int | None,
    confidence: float,
    iou: float,
    max_detections: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw YOLO output → (xyxy boxes in input pixels, scores, class ids) after filter and NMS."""
    array = np.asarray(output)
    if array.ndim == 3:
        if array.shape[0] != 1:
            raise ModelError(f"expected a batch of 1, the model answered {list(array.shape)}")
        array = array[0]
    if array.ndim != 2:
        raise ModelError(
            f"the model output has shape {list(np.shape(output))}; a YOLOv8/YOLO11 detector "
            "answers [1, 4 + classes, N]"
        )
    rows, cols = array.shape
    if num_classes is not None and rows != 4 + num_classes and cols == 4 + num_classes:
        array = array.T  # [N, 4 + classes] exports
    if array.shape[0] < 5:
        raise ModelError(
            f"the model output has shape {list(np.shape(output))}; a YOLOv8/YOLO11 detector "
            "answers [1, 4 + classes, N] with at least one class"
        )
    if num_classes is not None and array.shape[0] != 4 + num_classes:
        raise ModelError(
            f"the model output has {array.shape[0] - 4} class scores per box but "
            f"{num_classes} class names are known"
        )
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise ModelError("the model output contains NaN or infinite values")
    class_scores = array[4:]
    class_ids = class_scores.argmax(axis=0)
    scores = class_scores[class_ids, np.arange(class_scores.shape[1])]
    mask = scores >= confidence
    cx, cy, w, h = (array[i][mask] for i in range(4))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    scores, class_ids = scores[mask], class_ids[mask]
    valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores, class_ids = boxes[valid], scores[valid], class_ids[valid]
    keep = batched_nms(boxes, scores, class_ids, iou)[:max_detections]
    return boxes[keep], scores[keep], class_ids[keep]


# --- the model ------------------------------------------------------------------------------


def parse_class_names(raw: str | None) -> list[str] | None:
    """Class names from Ultralytics metadata ("{0: 'person', ...}"), JSON or a list."""
    if not raw:
        return None
    for parse in (json.loads, ast.literal_eval):
        try:
            value: Any = parse(raw)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            try:
                return [str(value[k]) for k in sorted(value, key=int)]
            except (TypeError, ValueError):
                return None
        if isinstance(value, list | tuple):
            return [str(v) for v in value]
    return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Detector:
    """A YOLO ONNX model loaded with onnxruntime; `detect` is safe to call from several threads."""

    path: Path
    confidence: float = 0.25
    iou: float = 0.45
    max_detections: int = 300
    class_names: list[str] | None = None
    threads: int = 0  # onnxruntime intra-op threads; 0 = its default
    input_width: int = field(init=False)
    input_height: int = field(init=False)
    sha256: str = field(init=False)
    metadata: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.is_file():
            raise ModelError(f"model file {self.path} does not exist")
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ModelError(
                "onnxruntime is not installed: the worker needs the `worker` extra "
                "(pip install 'lookout[worker]', or uv sync --extra worker)"
            ) from exc

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if self.threads:
            options.intra_op_num_threads = self.threads
        try:
            self._session = ort.InferenceSession(
                str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"could not load model {self.path.name}: {_first_line(exc)}") from exc
        self.sha256 = file_sha256(self.path)
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            shapes = [list(i.shape) for i in inputs]
            raise ModelError(
                f"model {self.path.name} has inputs {shapes}; a YOLO detector takes one "
                "[1, 3, H, W] image"
            )
        self._input = inputs[0]
        self._dtype = np.float16 if "float16" in self._input.type else np.float32
        self.metadata = dict(self._session.get_modelmeta().custom_metadata_map)
        if self.class_names is None:
            self.class_names = parse_class_names(self.metadata.get("names"))
        self.input_height, self.input_width = self._input_size()

    def _input_size(self) -> tuple[int, int]:
        _, _, h, w = self._input.shape
        if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
            return h, w
        try:  # Ultralytics exports write imgsz as "[height, width]"
            size = ast.literal_eval(self.metadata.get("imgsz", ""))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            size = None
        if (
            isinstance(size, list | tuple)
            and len(size) == 2
            and all(isinstance(s, int) and s > 0 for s in size)
        ):
            return int(size[0]), int(size[1])
        return DEFAULT_SIZE, DEFAULT_SIZE

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) if self.class_names else None

    def class_name(self, class_id: int) -> str:
        names = self.class_names or []
        return names[class_id] if 0 <= class_id < len(names) else f"class_{class_id}"

    def detect(
        self, image: Image.Image, *, confidence: float | None = None, iou: float | None = None
    ) -> list[Detection]:
        """Boxes found in an RGB image, in its pixels, best first (thresholds may be overridden)."""
        tensor, box = letterbox(image, self.input_width, self.input_height)
        try:
            outputs = self._session.run(None, {self._input.name: tensor.astype(self._dtype)})
        except Exception as exc:
            raise ModelError(f"inference failed: {_first_line(exc)}") from exc
        boxes, scores, class_ids = decode_predictions(
            outputs[0],
            num_classes=self.num_classes,
            confidence=self.confidence if confidence is None else confidence,
            iou=self.iou if iou is None else iou,
            max_detections=self.max_detections,
        )
        if not len(boxes):
            return []
        pixels = unletterbox(boxes, box, image.width, image.height)
        found = []
        for (x1, y1, x2, y2), score, class_id in zip(pixels, scores, class_ids, strict=True):
            if x2 <= x1 or y2 <= y1:
                continue  # entirely in the padding
            found.append(
                Detection(
                    round(float(x1), 2),
                    round(float(y1), 2),
                    round(float(x2), 2),
                    round(float(y2), 2),
                    round(float(score), 4),
                    int(class_id),
                    self.class_name(int(class_id)),
                )
            )
        return found


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]
