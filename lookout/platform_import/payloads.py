"""Payload shaping: the platform's cameras, sequences and detections as Lookout request bodies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lookout.platform_import.boxes import ParsedBox
from lookout.platform_import.platform_models import (
    PlatformCamera,
    PlatformDetection,
    PlatformSequence,
)

SOURCE = "pyronear"
MODEL_NAME = "platform"
MODEL_VERSION = "pyronear-alert-api"
# Camera fields with a column of their own in Lookout (the others go to ``extra``).
CAMERA_FIELDS = frozenset(
    {
        "id",
        "organization_id",
        "name",
        "angle_of_view",
        "elevation",
        "lat",
        "lon",
        "is_trustable",
        # A presigned URL that expires within a day: not worth keeping.
        "last_image_url",
    }
)


@dataclass(frozen=True)
class Target:
    """Where a platform camera's sequences go in Lookout."""

    project_id: str
    camera_id: str
    camera: PlatformCamera
    organization_name: str


def iso(value: datetime | None) -> str | None:
    """ISO-8601 with an explicit UTC offset."""
    return value.isoformat() if value is not None else None


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    """Drop the keys whose value is None."""
    return {k: v for k, v in values.items() if v is not None}


def camera_payload(target_project: str, cam: PlatformCamera, org_name: str) -> dict[str, Any]:
    """POST /api/cameras body for a platform camera."""
    extra = {k: v for k, v in cam.model_dump(mode="json").items() if k not in CAMERA_FIELDS}
    return {
        "project_id": target_project,
        "source": SOURCE,
        "source_id": str(cam.id),
        "name": cam.name,
        "organization_id": str(cam.organization_id),
        "organization_name": org_name,
        "lat": cam.lat,
        "lon": cam.lon,
        "elevation": cam.elevation,
        "angle_of_view": cam.angle_of_view,
        "is_trustable": cam.is_trustable,
        "extra": _compact(extra),
    }


def _sequence_extra(seq: PlatformSequence, target: Target) -> dict[str, Any]:
    """The platform's sequence fields Lookout keeps in ``extra``, with its camera's names."""
    cam = target.camera
    return {
        "cone_azimuth": seq.cone_azimuth,
        "cone_angle": seq.cone_angle,
        "pose_id": seq.pose_id,
        "max_conf": seq.max_conf,
        "temporal_model_score": seq.temporal_model_score,
        "detections_count": seq.detections_count,
        "is_validated": seq.is_validated,
        "camera_azimuth": seq.camera_azimuth,
        "sequence_azimuth": seq.sequence_azimuth,
        "is_wildfire": seq.is_wildfire,
        "camera_name": cam.name,
        "organisation_id": cam.organization_id,
        "organisation_name": target.organization_name,
    }


def platform_score(seq: PlatformSequence, detections: Sequence[PlatformDetection]) -> float | None:
    """The platform's confidence in the sequence: its `max_conf` (2026), else the highest
    confidence among the sequence's own boxes (2025 sends no score; context boxes of other
    sequences' objects do not count)."""
    if seq.max_conf is not None:
        return seq.max_conf
    own = [
        box.confidence
        for det in detections
        for index, box in enumerate(det.boxes)
        if det.is_tracked(index) is not False
    ]
    return max(own, default=None)


def sequence_payload(
    seq: PlatformSequence, target: Target, detections: Sequence[PlatformDetection] = ()
) -> dict[str, Any]:
    """POST /api/sequences body for a platform sequence."""
    cam = target.camera
    return {
        "project_id": target.project_id,
        "camera_id": target.camera_id,
        "source": SOURCE,
        "source_id": str(seq.id),
        # `azimuth` is sent as the camera's heading too, for a Lookout server before 0010.
        "azimuth": seq.camera_heading,
        "camera_azimuth": seq.camera_heading,
        "smoke_azimuth": seq.smoke_direction,
        "platform_score": platform_score(seq, detections),
        "started_at": iso(seq.started_at),
        "last_seen_at": iso(seq.last_seen_at),
        "source_label": seq.source_label,
        "lat": cam.lat,
        "lon": cam.lon,
        "extra": _compact(_sequence_extra(seq, target)) | seq.unknown_fields(),
    }


def predictions(det: PlatformDetection) -> dict[str, Any]:
    """The detection's boxes as one analysis of the platform's model."""
    # Lookout refuses a box without area (and drafting would drop it): leave those out.
    annotations = [
        {
            "annotation_type": "bounding_box",
            "class_name": "smoke",
            "confidence": box.confidence,
            "data": _box_data(box, det.is_tracked(index)),
        }
        for index, box in enumerate(det.boxes)
        if box.has_area
    ]
    return {"model_name": MODEL_NAME, "model_version": MODEL_VERSION, "annotations": annotations}


def _box_data(box: ParsedBox, tracked: bool | None) -> dict[str, Any]:
    """A box's data; since 2026 whether it is the sequence's own object (`tracked`) or
    another sequence's on the same frame (drawn as context, never drafted)."""
    data: dict[str, Any] = {"bbox": box.xyxyn, "format": "xyxyn"}
    if tracked is not None:
        data["tracked"] = tracked
    return data


def frame_metadata(det: PlatformDetection) -> dict[str, Any]:
    """Frame fields besides the image itself (the multipart ``metadata``)."""
    return {
        "captured_at": iso(det.captured_at),
        "source": SOURCE,
        "source_id": str(det.id),
        "predictions": predictions(det),
    }


def frame_from_url(det: PlatformDetection) -> dict[str, Any]:
    """A frame Lookout fetches itself: the metadata and the detection's URL."""
    return frame_metadata(det) | {"url": det.url}
