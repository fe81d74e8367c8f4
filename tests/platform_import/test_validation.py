"""Platform answers are validated per item; a bad item is reported, never counted as zero."""

from __future__ import annotations

import pytest

from lookout.platform_import.platform_models import (
    PlatformCamera,
    PlatformDetection,
    PlatformSequence,
    validate_list,
)

SEQ = {
    "id": 5,
    "camera_id": 2,
    "azimuth": 121.5,
    "is_wildfire": None,
    "started_at": "2024-01-01T03:12:45.123456",
    "last_seen_at": "2024-01-01T03:20:00.000000",
    "cone_azimuth": 118.2,
    "cone_angle": 4.1,
}


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (None, None),
        (True, "True"),
        (False, "False"),
        ("wildfire_smoke", "wildfire_smoke"),
        ("Other_Smoke", "other_smoke"),
        ("other", "other"),
    ],
)
def test_is_wildfire_bool_or_enum(value: object, label: str | None) -> None:
    assert PlatformSequence.model_validate(SEQ | {"is_wildfire": value}).source_label == label


def test_later_sequence_fields_and_azimuth_fallback() -> None:
    later = SEQ | {
        "camera_azimuth": 120.0,
        "sequence_azimuth": 118.2,
        "pose_id": 3,
        "max_conf": 0.8,
        "temporal_model_score": None,
    }
    seq = PlatformSequence.model_validate(later)
    assert (seq.pose_id, seq.max_conf, seq.best_azimuth) == (3, 0.8, 121.5)
    no_azimuth = {k: v for k, v in later.items() if k != "azimuth"}
    assert PlatformSequence.model_validate(no_azimuth).best_azimuth == 118.2


def test_naive_timestamps_are_utc() -> None:
    seq = PlatformSequence.model_validate(SEQ)
    assert seq.started_at.utcoffset() is not None
    assert seq.started_at.isoformat() == "2024-01-01T03:12:45.123456+00:00"


def test_bad_items_are_reported_one_by_one() -> None:
    items = [
        SEQ,
        {k: v for k, v in SEQ.items() if k != "started_at"},
        SEQ | {"id": 6, "is_wildfire": "maybe"},
        SEQ | {"id": 7, "camera_id": "not-a-number"},
        "not an object",
        SEQ | {"id": 8, "extra_field": "kept"},
    ]
    result = validate_list(PlatformSequence, "sequence", items)
    assert [s.id for s in result.items] == [5, 8]
    assert result.items[1].unknown_fields() == {"extra_field": "kept"}
    assert [p.item_id for p in result.problems] == [5, 6, 7, "?"]
    assert "started_at" in result.problems[0].message
    assert "maybe" in result.problems[1].message


def test_a_non_list_answer_is_an_error() -> None:
    with pytest.raises(ValueError, match="expected a list"):
        validate_list(PlatformSequence, "sequence", {"detail": "oops"})


def test_detection_without_any_box_field_is_malformed() -> None:
    result = validate_list(
        PlatformDetection,
        "detection",
        [
            {"id": 1, "created_at": "2024-01-01T00:00:00", "boxes": "[(0.1,0.2,0.3,0.4,0.5)]"},
            {"id": 2, "created_at": "2024-01-01T00:00:00", "bboxes": "[(0.1,0.2)]"},
        ],
    )
    assert result.items == []
    assert "no boxes field" in result.problems[0].message
    assert "bad boxes" in result.problems[1].message


def test_camera_requires_its_organization() -> None:
    result = validate_list(PlatformCamera, "camera", [{"id": 1, "name": "cam"}])
    assert "organization_id" in result.problems[0].message
