"""What the fake pyro-annotator serves: users, sequences, detections, their annotations, images.

Rows are kept as the JSON the real API answers (its `SequenceRead`, `DetectionRead`,
`SequenceAnnotationRead` and `DetectionAnnotationRead`), timestamps as the ISO strings it
sends (UTC with a `Z`). Tests change them in place (``state.data``) between two imports.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image, ImageDraw

# The demo users: name -> (password, id). The first is the admin seeded at start.
DEMO_USERS = {"admin": ("admin-pass", 1), "alice": ("alice-pass", 2), "bob": ("bob-pass", 3)}
START = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
IMAGE_SIZE = (64, 48)


def stamp(value: datetime) -> str:
    """A timestamp as the real API writes it (pydantic: ISO 8601, UTC as `Z`)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FakeAnnotatorData:
    """Everything the fake serves, by id."""

    users: dict[str, tuple[str, int]] = field(default_factory=lambda: dict(DEMO_USERS))
    # False: the 2025 API, which has no accounts (no login; every route open).
    accounts: bool = True
    sequences: dict[int, dict[str, Any]] = field(default_factory=dict)
    detections: dict[int, dict[str, Any]] = field(default_factory=dict)
    sequence_annotations: dict[int, dict[str, Any]] = field(default_factory=dict)
    detection_annotations: dict[int, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)

    def username(self, user_id: int) -> str:
        """The name of a user id."""
        return next(name for name, (_, uid) in self.users.items() if uid == user_id)

    def contributor(self, name: str) -> dict[str, Any]:
        """A contributor as the API lists one: id and username."""
        return {"id": self.users[name][1], "username": name}


def render_jpeg(seed: int) -> bytes:
    """A small JPEG, different for every seed."""
    image = Image.new("RGB", IMAGE_SIZE, ((seed * 53) % 256, (seed * 97) % 256, 180))
    ImageDraw.Draw(image).rectangle((4 + seed % 20, 6, 30 + seed % 20, 30), fill=(230, 230, 230))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def add_sequence(
    data: FakeAnnotatorData,
    seq_id: int,
    *,
    alert_api_id: int,
    camera: tuple[int, str],
    organisation: tuple[int, str],
    recorded_at: datetime,
    frames: int,
    azimuth: int | None = 120,
    is_wildfire: str | None = "wildfire_smoke",
) -> list[int]:
    """A sequence and its detections (one box of the AI each); returns the detection ids."""
    data.sequences[seq_id] = {
        "id": seq_id,
        "source_api": "pyronear_french",
        "alert_api_id": alert_api_id,
        "created_at": stamp(recorded_at + timedelta(minutes=30)),
        "recorded_at": stamp(recorded_at),
        "last_seen_at": stamp(recorded_at + timedelta(seconds=30 * (frames - 1))),
        "camera_name": camera[1],
        "camera_id": camera[0],
        "lat": 44.5,
        "lon": 4.2,
        "azimuth": azimuth,
        "is_wildfire_alertapi": is_wildfire,
        "organisation_name": organisation[1],
        "organisation_id": organisation[0],
        "platform_alert_id": alert_api_id,
        "sequence_group_id": None,
    }
    ids = []
    for index in range(frames):
        det_id = max(data.detections, default=0) + 1
        at = recorded_at + timedelta(seconds=30 * index)
        key = f"sequences/{seq_id}/detections/{det_id}.jpg"
        x = 0.1 + 0.02 * index
        data.detections[det_id] = {
            "id": det_id,
            "sequence_id": seq_id,
            "recorded_at": stamp(at),
            "alert_api_id": alert_api_id * 10 + index,
            "bucket_key": key,
            "algo_predictions": {
                "predictions": [
                    {"xyxyn": [x, 0.2, x + 0.2, 0.4], "confidence": 0.8, "class_name": "smoke"}
                ]
            },
            "created_at": stamp(at + timedelta(minutes=30)),
        }
        data.images[key] = render_jpeg(det_id)
        ids.append(det_id)
    return ids


def box(detection_id: int, xyxyn: list[float]) -> dict[str, Any]:
    """One box of a `sequences_bbox` entry."""
    return {"detection_id": detection_id, "xyxyn": xyxyn}


def add_sequence_annotation(
    data: FakeAnnotatorData,
    sequence_id: int,
    sequences_bbox: list[dict[str, Any]],
    *,
    stage: str,
    contributors: list[str],
    at: datetime,
    has_missed_smoke: bool = False,
    is_unsure: bool = False,
) -> dict[str, Any]:
    """A sequence annotation with the flags the real API derives from its tracks."""
    ann_id = max(data.sequence_annotations, default=0) + 1
    fp_types = list(dict.fromkeys(t for b in sequences_bbox for t in b["false_positive_types"]))
    smoke_types = list(
        dict.fromkeys(b["smoke_type"] for b in sequences_bbox if b["is_smoke"] and b["smoke_type"])
    )
    row = {
        "id": ann_id,
        "sequence_id": sequence_id,
        "has_smoke": any(b["is_smoke"] for b in sequences_bbox),
        "has_false_positives": any(b["false_positive_types"] for b in sequences_bbox),
        "false_positive_types": fp_types,
        "smoke_types": smoke_types,
        "has_missed_smoke": has_missed_smoke,
        "is_unsure": is_unsure,
        "annotation": {"sequences_bbox": sequences_bbox},
        "processing_stage": stage,
        "created_at": stamp(at),
        "updated_at": stamp(at + timedelta(minutes=5)),
        "contributors": [data.contributor(name) for name in contributors],
        "group_propagation_warning": None,
    }
    data.sequence_annotations[ann_id] = row
    return row


def add_detection_annotation(
    data: FakeAnnotatorData,
    detection_id: int,
    boxes: list[tuple[list[float], str]],
    *,
    stage: str,
    at: datetime,
) -> dict[str, Any]:
    """A detection annotation: the boxes drawn on one frame, each with its smoke type."""
    ann_id = max(data.detection_annotations, default=0) + 1
    row = {
        "id": ann_id,
        "detection_id": detection_id,
        "annotation": {
            "annotation": [
                {"xyxyn": xyxyn, "class_name": "smoke", "smoke_type": smoke_type}
                for xyxyn, smoke_type in boxes
            ]
        },
        "processing_stage": stage,
        "created_at": stamp(at),
        "updated_at": None,
    }
    data.detection_annotations[ann_id] = row
    return row


def track(
    is_smoke: bool,
    boxes: list[dict[str, Any]],
    smoke_type: str | None = None,
    false_positive_types: list[str] | None = None,
) -> dict[str, Any]:
    """One `sequences_bbox` entry."""
    return {
        "is_smoke": is_smoke,
        "smoke_type": smoke_type,
        "false_positive_types": false_positive_types or [],
        "bboxes": boxes,
    }


def demo_data() -> FakeAnnotatorData:
    """Five sequences covering each kind of annotation the importer meets.

    1. annotated by alice: a wildfire track on three frames and a false-positive track
       (antenna, building) on two; every frame's detection annotation is annotated.
    2. seq_annotation_done by bob then alice: an industrial smoke track, missed smoke.
    3. ready_to_annotate: an automatic draft (smoke, no type), nobody decided it.
    4. no annotation at all.
    5. annotated by bob, unsure: a high-cloud false positive without boxes.
    """
    data = FakeAnnotatorData()
    cam_a, cam_b = (11, "cam-a"), (12, "cam-b")
    org1, org2 = (1, "org1"), (2, "org2")
    d1 = add_sequence(
        data, 1, alert_api_id=9001, camera=cam_a, organisation=org1, recorded_at=START, frames=3
    )
    add_sequence_annotation(
        data,
        1,
        [
            track(
                True,
                [
                    box(d1[0], [0.1, 0.2, 0.3, 0.4]),
                    box(d1[1], [0.12, 0.2, 0.32, 0.42]),
                    box(d1[2], [0.14, 0.2, 0.34, 0.44]),
                ],
                smoke_type="wildfire",
            ),
            track(
                False,
                [box(d1[0], [0.6, 0.6, 0.7, 0.8]), box(d1[1], [0.6, 0.6, 0.7, 0.8])],
                false_positive_types=["antenna", "building"],
            ),
        ],
        stage="annotated",
        contributors=["alice"],
        at=START + timedelta(days=1),
    )
    for index, det in enumerate(d1):
        x = 0.1 + 0.02 * index
        add_detection_annotation(
            data,
            det,
            [([x, 0.2, x + 0.2, 0.4], "wildfire")],
            stage="annotated",
            at=START + timedelta(days=1, hours=1),
        )
    d2 = add_sequence(
        data,
        2,
        alert_api_id=9002,
        camera=cam_b,
        organisation=org2,
        recorded_at=START + timedelta(hours=2),
        frames=2,
        is_wildfire="other_smoke",
    )
    add_sequence_annotation(
        data,
        2,
        [
            track(
                True,
                [box(d2[0], [0.5, 0.1, 0.7, 0.3]), box(d2[1], [0.5, 0.1, 0.72, 0.32])],
                smoke_type="industrial",
            )
        ],
        stage="seq_annotation_done",
        contributors=["bob", "alice"],
        at=START + timedelta(days=2),
        has_missed_smoke=True,
    )
    d3 = add_sequence(
        data,
        3,
        alert_api_id=9003,
        camera=cam_a,
        organisation=org1,
        recorded_at=START + timedelta(hours=4),
        frames=2,
        is_wildfire=None,
    )
    add_sequence_annotation(
        data,
        3,
        [track(True, [box(d3[0], [0.2, 0.2, 0.4, 0.4]), box(d3[1], [0.21, 0.2, 0.41, 0.4])])],
        stage="ready_to_annotate",
        contributors=[],
        at=START + timedelta(hours=5),
    )
    add_sequence(
        data,
        4,
        alert_api_id=9004,
        camera=cam_b,
        organisation=org2,
        recorded_at=START + timedelta(hours=6),
        frames=1,
        is_wildfire="other",
    )
    add_sequence(
        data,
        5,
        alert_api_id=9005,
        camera=cam_a,
        organisation=org1,
        recorded_at=START + timedelta(hours=8),
        frames=1,
        is_wildfire="other",
    )
    add_sequence_annotation(
        data,
        5,
        [track(False, [], false_positive_types=["high_cloud"])],
        stage="annotated",
        contributors=["bob"],
        at=START + timedelta(days=3),
        is_unsure=True,
    )
    return data


def demo_data_2025() -> FakeAnnotatorData:
    """The demo data as pyro-annotator's 2025 API served it: no accounts (no login, no
    contributors), `is_wildfire_alertapi` a boolean, tracks without `smoke_type`, sequence
    stages imported, ready_to_annotate and annotated only, no alert grouping fields."""
    data = demo_data()
    data.accounts = False
    for seq in data.sequences.values():
        label = seq["is_wildfire_alertapi"]
        seq["is_wildfire_alertapi"] = None if label is None else label == "wildfire_smoke"
        del seq["platform_alert_id"], seq["sequence_group_id"]
    for ann in data.sequence_annotations.values():
        del ann["contributors"], ann["group_propagation_warning"], ann["is_unsure"]
        for entry in ann["annotation"]["sequences_bbox"]:
            del entry["smoke_type"]
        if ann["processing_stage"] == "seq_annotation_done":
            ann["processing_stage"] = "annotated"
    return data
