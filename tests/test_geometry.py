"""Pure geometry: IoU, conversion to normalized xyxy, area and degeneracy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lookout.geometry import (
    box_area,
    iou,
    iou_matrix,
    is_degenerate,
    sanitize_xyxyn,
    to_xyxyn,
)

W, H = 640, 480


# --- iou / iou_matrix ---------------------------------------------------------------


def test_iou_identical_boxes_is_one() -> None:
    assert iou((0.1, 0.2, 0.5, 0.6), (0.1, 0.2, 0.5, 0.6)) == pytest.approx(1.0)


def test_iou_hand_computed_partial_overlap() -> None:
    # Overlap 1x2 = 2, union 4 + 4 - 2 = 6.
    assert iou((0, 0, 2, 2), (1, 0, 3, 2)) == pytest.approx(1 / 3)


def test_iou_contained_box() -> None:
    # Inner area 0.25 inside outer area 1.0.
    assert iou((0, 0, 1, 1), (0.25, 0.25, 0.75, 0.75)) == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((0, 0, 1, 1), (2, 2, 3, 3)),  # disjoint
        ((0, 0, 1, 1), (1, 0, 2, 1)),  # sharing an edge only
        ((0.5, 0.5, 0.5, 0.5), (0.5, 0.5, 0.5, 0.5)),  # two points: empty union
    ],
)
def test_iou_no_overlap_is_zero(a: tuple, b: tuple) -> None:
    assert iou(a, b) == 0.0


def test_iou_matrix_matches_scalar_iou() -> None:
    a = [(0, 0, 2, 2), (0.5, 0.5, 1.5, 1.5)]
    b = [(1, 0, 3, 2), (0, 0, 2, 2), (5, 5, 6, 6)]
    m = iou_matrix(a, b)
    assert m.shape == (2, 3)
    for i, box_a in enumerate(a):
        for j, box_b in enumerate(b):
            assert m[i, j] == pytest.approx(iou(box_a, box_b))
    assert m[0, 0] == pytest.approx(1 / 3)
    assert m[0, 1] == pytest.approx(1.0)
    assert m[1, 2] == 0.0


def test_iou_matrix_empty_inputs_and_empty_union() -> None:
    assert iou_matrix([], [(0, 0, 1, 1)]).shape == (0, 1)
    assert iou_matrix([(0, 0, 1, 1)], np.empty((0, 4))).shape == (1, 0)
    m = iou_matrix([(0.5, 0.5, 0.5, 0.5)], [(0.5, 0.5, 0.5, 0.5)])
    # Zero-area against zero-area must be 0, not NaN.
    assert m[0, 0] == 0.0


# --- to_xyxyn conversions on a 640x480 image --------------------------------------------


def test_xywh_pixels() -> None:
    # x: 64/640 = 0.1, (64+320)/640 = 0.6; y: 48/480 = 0.1, (48+240)/480 = 0.6.
    assert to_xyxyn((64, 48, 320, 240), "xywh", W, H) == pytest.approx((0.1, 0.1, 0.6, 0.6))


def test_xyxy_pixels() -> None:
    # 160/640 = 0.25, 120/480 = 0.25, 480/640 = 0.75, 360/480 = 0.75.
    assert to_xyxyn([160, 120, 480, 360], "xyxy", W, H) == pytest.approx((0.25, 0.25, 0.75, 0.75))


def test_xyxyn_is_passed_through() -> None:
    assert to_xyxyn((0.1, 0.2, 0.3, 0.4), "xyxyn") == pytest.approx((0.1, 0.2, 0.3, 0.4))


def test_xywhn_adds_size_to_origin() -> None:
    assert to_xyxyn((0.1, 0.2, 0.3, 0.4), "xywhn") == pytest.approx((0.1, 0.2, 0.4, 0.6))


def test_normalized_formats_ignore_image_size() -> None:
    assert to_xyxyn((0.1, 0.2, 0.3, 0.4), "xywhn", W, H) == pytest.approx((0.1, 0.2, 0.4, 0.6))


def test_result_is_tuple_of_floats() -> None:
    out = to_xyxyn((0, 0, 320, 240), "xyxy", W, H)
    assert isinstance(out, tuple)
    assert all(type(v) is float for v in out)
    assert out == (0.0, 0.0, 0.5, 0.5)


def test_pixel_box_is_clipped_to_image() -> None:
    # -64/640 -> -0.1 -> 0; 704/640 = 1.1 -> 1; 240/480 = 0.5.
    assert to_xyxyn((-64, -48, 704, 240), "xyxy", W, H) == pytest.approx((0.0, 0.0, 1.0, 0.5))


def test_normalized_box_is_clipped() -> None:
    assert to_xyxyn((0.9, 0.9, 0.2, 0.2), "xywhn") == pytest.approx((0.9, 0.9, 1.0, 1.0))


def test_zero_size_box_is_allowed_by_conversion() -> None:
    # Conversion only rejects impossible input; degeneracy is a separate question.
    out = to_xyxyn((64, 48, 0, 0), "xywh", W, H)
    assert out == pytest.approx((0.1, 0.1, 0.1, 0.1))
    assert is_degenerate(out)


@pytest.mark.parametrize(
    ("bbox", "fmt", "size", "message"),
    [
        ((1, 2, 3), "xyxy", (W, H), "exactly 4"),
        ((1, 2, 3, 4, 5), "xyxyn", (None, None), "exactly 4"),
        ("0123", "xyxyn", (None, None), "sequence of 4 numbers"),
        (("a", 0, 1, 1), "xyxyn", (None, None), "sequence of 4 numbers"),
        (None, "xyxyn", (None, None), "sequence of 4 numbers"),
        ((0, math.nan, 1, 1), "xyxyn", (None, None), "finite"),
        ((0, 0, math.inf, 1), "xyxy", (W, H), "finite"),
        ((10, 10, -5, 20), "xywh", (W, H), "non-negative"),
        ((0.1, 0.1, 0.2, -0.1), "xywhn", (None, None), "non-negative"),
        ((100, 10, 50, 20), "xyxy", (W, H), "x2 < x1"),
        ((0.1, 0.5, 0.2, 0.4), "xyxyn", (None, None), "y2 < y1"),
        ((0, 0, 1, 1), "cxcywh", (W, H), "unknown bbox format"),
        ((0, 0, 10, 10), "xywh", (None, H), "width and height are required"),
        ((0, 0, 10, 10), "xyxy", (W, None), "width and height are required"),
        ((0, 0, 10, 10), "xyxy", (0, H), "positive"),
        ((0, 0, 10, 10), "xywh", (W, math.nan), "positive"),
    ],
)
def test_to_xyxyn_errors(bbox: object, fmt: str, size: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_xyxyn(bbox, fmt, *size)  # type: ignore[arg-type]


# --- area and degeneracy -------------------------------------------------------------


def test_box_area() -> None:
    assert box_area((0.0, 0.0, 0.5, 0.2)) == pytest.approx(0.1)
    assert box_area((0.5, 0.5, 0.2, 0.9)) == 0.0  # inverted x
    assert box_area((0.0, 0.0, math.nan, 1.0)) == 0.0
    assert box_area((-math.inf, 0.0, math.inf, 1.0)) == 0.0


@pytest.mark.parametrize(
    "box",
    [
        None,
        (),
        (0.1, 0.2, 0.3),
        (0.1, 0.1, 0.1, 0.3),  # zero width
        (0.1, 0.3, 0.4, 0.3),  # zero height
        (0.4, 0.1, 0.2, 0.3),  # inverted
        (0.1, math.nan, 0.2, 0.3),
        (0.1, 0.1, math.inf, 0.3),
        (1.2, 0.1, 1.5, 0.3),  # wholly right of the image: zero width once clipped
        ("x", 0.1, 0.2, 0.3),
    ],
)
def test_is_degenerate_true(box: object) -> None:
    assert is_degenerate(box)  # type: ignore[arg-type]
    assert sanitize_xyxyn(box) is None  # type: ignore[arg-type]


def test_is_degenerate_false_for_partly_outside_box() -> None:
    assert not is_degenerate((-0.1, 0.5, 0.2, 1.4))
    assert sanitize_xyxyn((-0.1, 0.5, 0.2, 1.4)) == (0.0, 0.5, 0.2, 1.0)


def test_sanitize_accepts_lists_and_ints() -> None:
    assert sanitize_xyxyn([0, 0, 1, 1]) == (0.0, 0.0, 1.0, 1.0)
