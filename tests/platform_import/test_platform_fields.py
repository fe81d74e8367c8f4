"""The platform's sequence fields in both schema versions: the fake platform sends each
version's field set, and the import stores the camera's heading, the smoke's direction, the
platform's score and its label in the same columns whichever version sent them.

Fake platform on loopback, Lookout on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from lookout.fake_platform import generate
from lookout.fake_platform.data import detection_json, schema_boxes, sequence_json
from tests.platform_import.helpers import DAYS, run_import, small_config

DATES = ["--date-from", DAYS[0], "--date-end", DAYS[-1]]
# How each schema's is_wildfire reads in Lookout's one vocabulary.
LABELS = {
    "2025": {"wildfire_smoke": "wildfire_smoke", "other_smoke": "other", "other": "other"},
    "later": {"wildfire_smoke": "wildfire_smoke", "other_smoke": "other_smoke", "other": "other"},
}


def _stored(lookout: Any) -> dict[str, dict[str, Any]]:
    body = lookout.client().get("/api/sequences", params={"source": "pyronear", "limit": 500})
    return {item["source_id"]: item for item in body.json()["items"]}


@pytest.mark.parametrize("schema", ["2025", "later"])
def test_both_schemas_fill_heading_direction_score_and_label(
    start_platform: Any, local_lookout: Any, schema: str
) -> None:
    fp = start_platform(schema=schema)
    data = generate(fp.config)
    run = run_import(fp.url, local_lookout.url, *DATES)
    assert run.exit_code == 0, run.output
    stored = _stored(local_lookout)
    assert stored  # organization 1 has sequences
    for source_id, item in stored.items():
        seq = data.sequence(int(source_id), schema)
        assert seq is not None
        rows = data.visible_detections(seq, schema)
        confs = [b[4] for d in rows for b in schema_boxes(d, schema)]
        assert item["camera_azimuth"] == pytest.approx(seq.camera_azimuth)
        assert item["azimuth"] == item["camera_azimuth"]  # the older name, same meaning
        assert item["smoke_azimuth"] == pytest.approx(seq.cone_azimuth)
        assert item["smoke_azimuth"] != item["camera_azimuth"]
        assert item["platform_score"] == pytest.approx(max(confs), abs=1e-3)
        expected = LABELS[schema].get(seq.label) if seq.label else None
        assert item["platform_label"] == expected
        _check_extra(item["extra"], seq, schema, len(data.visible_detections(seq, schema)))


def _check_extra(extra: dict[str, Any], seq: Any, schema: str, frames: int) -> None:
    """The rest of the platform's fields, raw, in `extra`."""
    raw = seq.label if schema == "later" else (seq.label == "wildfire_smoke" if seq.label else None)
    assert extra.get("is_wildfire") == raw
    assert extra["cone_angle"] == pytest.approx(seq.cone_angle)
    if schema == "2025":
        assert extra["cone_azimuth"] == pytest.approx(seq.cone_azimuth)
        assert "detections_count" not in extra
        return
    assert "cone_azimuth" not in extra
    assert extra["sequence_azimuth"] == pytest.approx(seq.cone_azimuth)
    assert extra["pose_id"] == seq.pose_id
    assert extra["detections_count"] == frames
    assert extra["is_validated"] is (seq.label is not None)
    assert extra.get("temporal_model_score") == seq.temporal_model_score


def test_the_fake_sends_each_versions_field_set() -> None:
    """2026 sequences lost azimuth and cone_azimuth and gained the camera's and smoke's
    azimuths, score, counts and validation; its detections lost azimuth, gained a crop."""
    data = generate(small_config(schema="later"))
    seq = next(iter(data.sequences.values()))
    later = sequence_json(seq, data, "later")
    old = sequence_json(seq, data, "2025")
    assert not {"azimuth", "cone_azimuth"} & set(later)
    assert {
        "camera_azimuth",
        "sequence_azimuth",
        "cone_angle",
        "pose_id",
        "max_conf",
        "temporal_model_score",
        "detections_count",
        "is_validated",
    } <= set(later)
    assert {"azimuth", "cone_azimuth", "cone_angle"} <= set(old)
    assert not {"camera_azimuth", "sequence_azimuth", "max_conf", "detections_count"} & set(old)
    det = data.visible_detections(seq, "later")[0]
    later_det = detection_json(det, "later", "http://x/img.jpg", "http://x/crop.jpg")
    assert "azimuth" not in later_det
    assert later_det["crop_url"] == "http://x/crop.jpg"
    assert later_det["crop_bucket_key"].endswith("_crop.jpg")
    assert {"recorded_at", "bbox", "others_bboxes"} <= set(later_det)
    assert "azimuth" in detection_json(det, "2025", "http://x/img.jpg")
