"""The bboxes parser: both schemas' strings as data, malformed strings rejected, nothing run."""

from __future__ import annotations

import builtins

import pytest

from lookout.fake_platform.data import format_boxes
from lookout.platform_import.boxes import BoxParseError, ParsedBox, parse_bboxes
from lookout.platform_import.platform_models import PlatformDetection


def test_2025_string_with_several_boxes() -> None:
    boxes = parse_bboxes("[(0.12,0.4,0.2,0.5,0.83),(0.6,0.41,0.65,0.47,0.31)]")
    assert boxes == [ParsedBox(0.12, 0.4, 0.2, 0.5, 0.83), ParsedBox(0.6, 0.41, 0.65, 0.47, 0.31)]
    assert boxes[0].xyxyn == [0.12, 0.4, 0.2, 0.5]


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("[]", 0),
        ("  [ ]  ", 0),
        ("[(0, 0, 1, 1, 1)]", 1),
        ("[ ( 0.1 , 0.2 , 0.3 , 0.4 , 0.5 ) , ]", 1),
        ("[[0.1,0.2,0.3,0.4,0.5],[0.2,0.2,0.3,0.4,0.5]]", 2),
        ("[(1e-1,2E-1,.3,0.4,5e-1)]", 1),
        ("[(0.5,0.5,0.5,0.55,0.12)]", 1),  # zero width: passed through for the server to drop
    ],
)
def test_accepted_spellings(text: str, count: int) -> None:
    assert len(parse_bboxes(text)) == count


def test_fake_platform_strings_round_trip() -> None:
    boxes = [(0.1, 0.2, 0.3, 0.4, 0.5), (0.0, 0.0, 1.0, 1.0, 0.99)]
    assert [tuple(b) for b in parse_bboxes(format_boxes(boxes))] == boxes


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('touch /tmp/pwned')",
        "[__import__('os')]",
        "[(0.1,0.2,0.3,0.4,0.5)] + [exit()]",
        "[(0.1,0.2,0.3,0.4,0.5)];print(1)",
        "[(0.1,0.2,0.3,0.4)]",
        "[(0.1,0.2,0.3,0.4,0.5,0.6)]",
        "[(0.1,0.2,0.3,0.4,nan)]",
        "[(0.1,0.2,0.3,0.4,inf)]",
        "[(0.1,0.2,0.3,0.4,1.5)]",
        "[(-0.1,0.2,0.3,0.4,0.5)]",
        "[(0.3,0.2,0.1,0.4,0.5)]",
        "[(0.1,0.2,0.3,0.4,0.5)",
        "(0.1,0.2,0.3,0.4,0.5)",
        "[(0.1,0.2,0.3,0.4,0.5]",
        "[(0.1,,0.3,0.4,0.5)]",
        "[,]",
        "[(True,0.2,0.3,0.4,0.5)]",
        "",
        "[" + "(0.1,0.2,0.3,0.4,0.5)," * 3000 + "]",
    ],
)
def test_malformed_strings_are_rejected(text: str) -> None:
    with pytest.raises(BoxParseError):
        parse_bboxes(text)


def test_nothing_is_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a string that would call code is only matched against the grammar."""
    called = []
    monkeypatch.setattr(builtins, "__import__", lambda *a, **k: called.append(a) or None)
    try:
        with pytest.raises(BoxParseError):
            parse_bboxes("__import__('os')")
    finally:
        monkeypatch.undo()
    assert called == []


def test_decoded_lists_and_wrong_types() -> None:
    assert parse_bboxes([[0.1, 0.2, 0.3, 0.4, 0.5]]) == [ParsedBox(0.1, 0.2, 0.3, 0.4, 0.5)]
    assert parse_bboxes([0.1, 0.2, 0.3, 0.4, 0.5]) == [ParsedBox(0.1, 0.2, 0.3, 0.4, 0.5)]
    assert parse_bboxes(None) == []
    with pytest.raises(BoxParseError):
        parse_bboxes(42)
    with pytest.raises(BoxParseError):
        parse_bboxes(["(0.1,0.2,0.3,0.4,0.5)"])


def _detection(**fields: object) -> PlatformDetection:
    return PlatformDetection.model_validate(
        {"id": 7, "created_at": "2024-01-01T00:00:00.000001"} | fields
    )


def test_2025_detection_boxes() -> None:
    det = _detection(bboxes="[(0.1,0.2,0.3,0.4,0.5),(0.5,0.5,0.6,0.6,0.2)]")
    assert len(det.boxes) == 2


def test_later_detection_tracked_box_first_then_others() -> None:
    det = _detection(
        bbox="[(0.1,0.2,0.3,0.4,0.5)]",
        others_bboxes="[(0.5,0.5,0.6,0.6,0.2)]",
        recorded_at="2023-12-31T23:59:58.5",
    )
    assert [b.confidence for b in det.boxes] == [0.5, 0.2]
    assert det.captured_at.isoformat() == "2023-12-31T23:59:58.500000+00:00"
    alone = _detection(bbox="[(0.1,0.2,0.3,0.4,0.5)]", others_bboxes=None)
    assert len(alone.boxes) == 1
