"""The detector on its own: letterbox, YOLO decoding, class-wise NMS, the ONNX model, overlay."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from lookout.worker.detector import (
    Detector,
    ImageError,
    ModelError,
    batched_nms,
    decode_image,
    decode_predictions,
    letterbox,
    nms,
    parse_class_names,
    unletterbox,
)
from lookout.worker.overlay import class_color, draw_overlay
from tests.support import jpeg_bytes
from tests.worker.support import (
    EXPECTED,
    IMAGE_H,
    IMAGE_W,
    NAMES,
    tiny_yolo,
    yolo_output,
)


def test_letterbox_fits_the_image_and_pads_it_evenly():
    image = Image.new("RGB", (IMAGE_W, IMAGE_H), (255, 0, 0))
    tensor, box = letterbox(image, 64, 64)
    assert tensor.shape == (1, 3, 64, 64) and tensor.dtype == np.float32
    assert (box.scale, box.pad_x, box.pad_y) == (0.5, 0, 8)
    grey = 114 / 255
    assert np.allclose(tensor[0, :, :8, :], grey) and np.allclose(tensor[0, :, 56:, :], grey)
    assert np.allclose(tensor[0, 0, 8:56, :], 1.0) and np.allclose(tensor[0, 1, 8:56, :], 0.0)


def test_letterbox_of_a_tall_image_pads_the_sides_and_maps_back():
    image = Image.new("RGB", (50, 200))
    _, box = letterbox(image, 64, 64)
    assert box.scale == pytest.approx(0.32) and box.pad_y == 0 and box.pad_x == 24
    back = unletterbox(np.array([[24.0, 0.0, 40.0, 64.0]]), box, 50, 200)
    assert back.tolist() == [[0.0, 0.0, 50.0, 200.0]]


def test_unletterbox_clips_to_the_image():
    image = Image.new("RGB", (IMAGE_W, IMAGE_H))
    _, box = letterbox(image, 64, 64)
    back = unletterbox(np.array([[-4.0, 0.0, 70.0, 64.0]]), box, IMAGE_W, IMAGE_H)
    assert back.tolist() == [[0.0, 0.0, 128.0, 96.0]]


def test_decoding_filters_by_confidence_and_suppresses_per_class():
    boxes, scores, classes = decode_predictions(
        yolo_output(), num_classes=2, confidence=0.25, iou=0.45, max_detections=300
    )
    assert classes.tolist() == [0, 1, 1]
    assert scores.tolist() == pytest.approx([0.9, 0.7, 0.6])
    assert boxes.tolist() == [[24, 24, 40, 40], [24, 24, 40, 40], [55, 45, 65, 55]]


def test_decoding_keeps_overlaps_below_the_iou_threshold_and_caps_the_count():
    _, scores, _ = decode_predictions(
        yolo_output(), num_classes=2, confidence=0.25, iou=0.95, max_detections=300
    )
    assert scores.tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])  # IoU 0.88 < 0.95: kept
    _, scores, _ = decode_predictions(
        yolo_output(), num_classes=2, confidence=0.25, iou=0.45, max_detections=2
    )
    assert scores.tolist() == pytest.approx([0.9, 0.7])


def test_transposed_exports_are_read_when_the_class_count_is_known():
    transposed = yolo_output().transpose(0, 2, 1)  # [1, N, 4 + nc]
    _, scores, classes = decode_predictions(
        transposed, num_classes=2, confidence=0.25, iou=0.45, max_detections=300
    )
    assert classes.tolist() == [0, 1, 1] and scores.tolist() == pytest.approx([0.9, 0.7, 0.6])


@pytest.mark.parametrize(
    ("output", "num_classes", "message"),
    [
        (np.zeros((1, 4, 10)), None, "at least one class"),
        (np.zeros((2, 6, 10)), None, "batch of 1"),
        (np.zeros((6, 10, 2, 2)), None, "[1, 4 + classes, N]"),
        (np.zeros((1, 7, 10)), 2, "3 class scores per box but 2 class names"),
        (np.full((1, 6, 3), np.nan), 2, "NaN"),
    ],
)
def test_outputs_that_are_not_yolo_are_refused_with_a_clear_message(output, num_classes, message):
    with pytest.raises(ModelError, match=message.replace("[", r"\[").replace("+", r"\+")):
        decode_predictions(
            output, num_classes=num_classes, confidence=0.25, iou=0.45, max_detections=300
        )


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=np.float32)
    scores = np.array([0.5, 0.9, 0.3], dtype=np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert batched_nms(boxes, scores, np.array([0, 1, 0]), 0.5).tolist() == [1, 0, 2]


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("{0: 'person', 1: 'bicycle'}", ["person", "bicycle"]),
        ('{"1": "b", "0": "a"}', ["a", "b"]),
        ('["smoke", "fire"]', ["smoke", "fire"]),
        ("not names", None),
        (None, None),
    ],
)
def test_class_names_come_from_ultralytics_metadata(raw, names):
    assert parse_class_names(raw) == names


def test_the_onnx_model_yields_the_known_boxes_in_original_pixels(tmp_path):
    detector = Detector(tiny_yolo(tmp_path / "m.onnx"))
    assert (detector.input_width, detector.input_height) == (64, 64)
    assert detector.class_names == NAMES
    found = detector.detect(decode_image(jpeg_bytes(IMAGE_W, IMAGE_H)))
    assert [(d.class_name, d.confidence, d.xyxy) for d in found] == EXPECTED
    stricter = detector.detect(decode_image(jpeg_bytes(IMAGE_W, IMAGE_H)), confidence=0.65)
    assert [d.confidence for d in stricter] == [0.9, 0.7]


def test_dynamic_input_sizes_come_from_the_metadata(tmp_path):
    path = tiny_yolo(tmp_path / "m.onnx", input_size="size", metadata={"imgsz": "[64, 64]"})
    detector = Detector(path)
    assert (detector.input_width, detector.input_height) == (64, 64)
    found = detector.detect(decode_image(jpeg_bytes(IMAGE_W, IMAGE_H)))
    assert [d.xyxy for d in found] == [e[2] for e in EXPECTED]


def test_without_metadata_classes_are_numbered_or_named_by_the_caller(tmp_path):
    path = tiny_yolo(tmp_path / "m.onnx", names=None)
    image = decode_image(jpeg_bytes(IMAGE_W, IMAGE_H))
    assert [d.class_name for d in Detector(path).detect(image)] == ["class_0", "class_1", "class_1"]
    named = Detector(path, class_names=["a", "b"]).detect(image)
    assert [d.class_name for d in named] == ["a", "b", "b"]


def test_a_corrupt_or_missing_model_is_a_model_error(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not an onnx model")
    with pytest.raises(ModelError, match="could not load model broken.onnx"):
        Detector(broken)
    with pytest.raises(ModelError, match="does not exist"):
        Detector(tmp_path / "missing.onnx")


def test_a_model_with_the_wrong_output_fails_at_inference(tmp_path):
    path = tiny_yolo(tmp_path / "m.onnx", np.zeros((1, 3), dtype=np.float32), names=None)
    with pytest.raises(ModelError, match="YOLOv8/YOLO11"):
        Detector(path).detect(decode_image(jpeg_bytes(IMAGE_W, IMAGE_H)))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"garbage bytes", "not a known image format"),
        (jpeg_bytes(IMAGE_W, IMAGE_H)[:200], "could not decode the image"),
    ],
)
def test_corrupt_images_are_image_errors(data, message):
    with pytest.raises(ImageError, match=message):
        decode_image(data)


def test_the_overlay_is_a_png_of_the_image_with_the_boxes(tmp_path):
    detector = Detector(tiny_yolo(tmp_path / "m.onnx"))
    image = Image.new("RGB", (IMAGE_W, IMAGE_H), (0, 0, 0))
    found = detector.detect(image)
    png = draw_overlay(image, found)
    with Image.open(io.BytesIO(png)) as drawn:
        assert drawn.format == "PNG" and drawn.size == (IMAGE_W, IMAGE_H)
        rgb = drawn.convert("RGB")
        assert rgb.getpixel((127, 94)) == class_color(1)  # bottom-right corner of the fire box
        assert rgb.getpixel((5, 90)) == (0, 0, 0)  # untouched outside the boxes
    big = draw_overlay(Image.new("RGB", (4000, 3000)), found, max_side=1000)
    with Image.open(io.BytesIO(big)) as drawn:
        assert drawn.size == (1000, 750)


def test_the_worker_imports_no_server_code():
    """The worker is a client: it must run where only the SDK's dependencies are usable."""
    import subprocess
    import sys

    code = (
        "import sys; import lookout.worker.runner, lookout.worker.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'fastapi', 'starlette', 'alembic', 'boto3'} or m.startswith("
        "('lookout.analyses', 'lookout.db', 'lookout.images', 'lookout.storage', 'lookout.auth'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
