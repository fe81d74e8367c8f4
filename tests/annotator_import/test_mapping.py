"""What a pyro-annotator annotation becomes in Lookout (pure), and the client's paging."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lookout.annotator_import.client import AnnotatorClient
from lookout.annotator_import.mapping import (
    STAGES,
    Frame,
    MappingProblem,
    annotator_email,
    lookout_stage,
    review_of,
)
from lookout.annotator_import.shapes import AnnotatorSequenceAnnotation
from lookout.fake_annotator import start_fake_annotator
from lookout.httpretry import RetryPolicy, pooled_client

FRAMES = {10: Frame("f-10", 0), 11: Frame("f-11", 1), 12: Frame("f-12", 2)}


def annotation(
    stage: str, tracks: list[dict[str, Any]], **extra: Any
) -> AnnotatorSequenceAnnotation:
    return AnnotatorSequenceAnnotation.model_validate(
        {
            "id": 1,
            "sequence_id": 1,
            "annotation": {"sequences_bbox": tracks},
            "processing_stage": stage,
            "created_at": "2024-01-01T10:00:00",
        }
        | extra
    )


def test_every_stage_maps_and_an_unknown_one_is_refused() -> None:
    assert {stage: lookout_stage(stage) for stage in STAGES} == {
        "imported": "ready_to_annotate",
        "ready_to_annotate": "ready_to_annotate",
        "under_annotation": "in_review",
        "seq_annotation_done": "annotated",
        "annotated": "annotated",
        "in_review": "needs_check",
        "needs_manual": "needs_check",
    }
    with pytest.raises(MappingProblem, match="unknown processing stage 'archived'"):
        lookout_stage("archived")


def test_decided_tracks_keep_types_and_boxes_in_frame_order() -> None:
    tracks = [
        {
            "is_smoke": True,
            "smoke_type": "industrial",
            "false_positive_types": ["antenna"],  # not a false positive: dropped
            "bboxes": [
                {"detection_id": 12, "xyxyn": [0.3, 0.3, 0.4, 0.4]},
                {"detection_id": 10, "xyxyn": [0.1, 0.1, 0.2, 0.2]},
            ],
        },
        {"is_smoke": False, "false_positive_types": ["dust", "dust", "light"], "bboxes": []},
    ]
    mapped = review_of(annotation("annotated", tracks, has_missed_smoke=True), FRAMES)
    assert mapped.processing_stage == "annotated" and mapped.decided
    assert mapped.has_missed_smoke is True
    smoke, false = mapped.tracks
    assert (smoke["decision"], smoke["smoke_type"], smoke["false_positive_types"]) == (
        "smoke",
        "industrial",
        [],
    )
    assert [b["frame_id"] for b in smoke["boxes"]] == ["f-10", "f-12"]
    assert (false["decision"], false["is_smoke"], false["false_positive_types"]) == (
        "false_positive",
        False,
        ["dust", "light"],
    )


def test_draft_tracks_stay_undecided_and_bad_boxes_are_left_out() -> None:
    tracks = [
        {
            "is_smoke": True,
            "smoke_type": "wildfire",
            "bboxes": [
                {"detection_id": 10, "xyxyn": [0.1, 0.1, 0.2, 0.2]},
                {"detection_id": 10, "xyxyn": [0.5, 0.5, 0.6, 0.6]},  # second on a frame
                {"detection_id": 99, "xyxyn": [0.1, 0.1, 0.2, 0.2]},  # not in the sequence
                {"detection_id": 11, "xyxyn": [0.1, 0.1, 0.1, 0.2]},  # no area
            ],
        }
    ]
    mapped = review_of(annotation("ready_to_annotate", tracks, is_unsure=True), FRAMES)
    assert mapped.processing_stage == "ready_to_annotate" and not mapped.decided
    assert mapped.tracks[0]["decision"] == "undecided"
    assert mapped.tracks[0]["smoke_type"] is None
    assert mapped.is_unsure is False
    assert [b["xyxyn"] for b in mapped.tracks[0]["boxes"]] == [[0.1, 0.1, 0.2, 0.2]]
    assert mapped.boxes_left_out == 3


def test_unknown_types_are_refused() -> None:
    with pytest.raises(MappingProblem, match="unknown smoke type 'volcano'"):
        review_of(
            annotation("annotated", [{"is_smoke": True, "smoke_type": "volcano", "bboxes": []}]),
            FRAMES,
        )
    with pytest.raises(MappingProblem, match="unknown false-positive type 'ufo'"):
        review_of(
            annotation(
                "annotated", [{"is_smoke": False, "false_positive_types": ["ufo"], "bboxes": []}]
            ),
            FRAMES,
        )


def test_naive_timestamps_are_utc_and_annotators_become_emails() -> None:
    ann = annotation("annotated", [])
    assert ann.changed_at == datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    assert annotator_email("Alice", "example.org") == "alice@example.org"
    assert annotator_email("Jean Dupont", "example.org") == "jean-dupont@example.org"
    assert annotator_email("Bob@Pyronear.org", "example.org") == "bob@pyronear.org"


def test_the_client_reads_every_page() -> None:
    policy = RetryPolicy(attempts=2, timeout_s=5, backoff_base_s=0.01, max_wait_s=0.05)
    with start_fake_annotator() as fake, pooled_client(policy, pool_size=2) as http:
        client = AnnotatorClient(
            http, fake.url, username="admin", password="admin-pass", policy=policy, page_size=2
        )
        client.login()
        listed = client.sequences()
        assert [s.alert_api_id for s in listed.items] == [9001, 9002, 9003, 9004, 9005]
        assert fake.state.requests["/api/v1/sequences/"] == 3
        assert [d.alert_api_id for d in client.detections(1).items] == [90010, 90011, 90012]
        fake.state.revoke_tokens()  # an expired token: logged in again once
        assert len(client.sequence_annotations().items) == 4
        assert fake.state.requests["/api/v1/auth/login"] == 2


def test_a_box_under_one_pixel_of_its_frame_is_left_out() -> None:
    frames = {10: Frame("f-10", 0, 64, 48), 11: Frame("f-11", 1, 64, 48)}
    tracks = [
        {
            "is_smoke": True,
            "smoke_type": "wildfire",
            "bboxes": [
                {"detection_id": 10, "xyxyn": [0.1, 0.1, 0.11, 0.5]},  # 0.64 px wide
                {"detection_id": 11, "xyxyn": [0.1, 0.1, 0.12, 0.5]},  # 1.28 px wide
            ],
        }
    ]
    mapped = review_of(annotation("annotated", tracks), frames)
    assert [b["frame_id"] for b in mapped.tracks[0]["boxes"]] == ["f-11"]
    assert mapped.boxes_left_out == 1
