"""What pyro-annotator's annotations become in Lookout (pure: no I/O).

Processing stages (pyro-annotator's sequence annotation -> Lookout's review):

| pyro-annotator | Lookout | the tracks |
|---|---|---|
| `imported`, `ready_to_annotate` | `ready_to_annotate` | undecided (a draft: nobody decided them) |
| `under_annotation` | `in_review` | decided as written |
| `seq_annotation_done`, `annotated` | `annotated` | decided as written |
| `in_review`, `needs_manual` | `needs_check` | decided as written |

A decided track is `smoke` (with its smoke type) when `is_smoke`, else `false_positive` (with
its false-positive types). Each box `{detection_id, xyxyn}` lands on the frame stored for that
detection; a box on a detection the sequence does not have, without area, under one pixel wide
or high on its frame (as a person's review refuses it), or a second box of a track on the same
frame is left out and counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lookout.annotator_import.shapes import AnnotatorSequenceAnnotation, AnnotatorTrack
from lookout.sequences.models import FALSE_POSITIVE_TYPES, SMOKE_TYPES, TrackDecision
from lookout.sequences.reviews import MIN_BOX_PIXELS

SOURCE = "pyro-annotator"
# pyro-annotator's name of the Pyronear alert platform: its ids are the platform import's.
PYRONEAR_SOURCE_API = "pyronear_french"

STAGES: dict[str, str] = {
    "imported": "ready_to_annotate",
    "ready_to_annotate": "ready_to_annotate",
    "under_annotation": "in_review",
    "seq_annotation_done": "annotated",
    "annotated": "annotated",
    "in_review": "needs_check",
    "needs_manual": "needs_check",
}
# Stages in which a person has decided the tracks.
DECIDED = frozenset(
    {"under_annotation", "seq_annotation_done", "annotated", "in_review", "needs_manual"}
)
# Detection annotations a person finished: the only ones imported.
DETECTION_DONE = "annotated"


class MappingProblem(ValueError):
    """An annotation Lookout cannot hold as it is (an unknown stage or type)."""


@dataclass(frozen=True)
class Frame:
    """The Lookout frame stored for one pyro-annotator detection (its size in pixels when
    known: a dry run's frames to be created have none yet)."""

    frame_id: str
    index: int
    width: int | None = None
    height: int | None = None

    def too_small(self, xyxyn: list[float]) -> bool:
        """Is the box under MIN_BOX_PIXELS wide or high on this frame (empty to training
        tools, refused in a person's review)?"""
        if self.width is None or self.height is None:
            return False
        width = (xyxyn[2] - xyxyn[0]) * self.width
        height = (xyxyn[3] - xyxyn[1]) * self.height
        return min(width, height) < MIN_BOX_PIXELS - 1e-6


@dataclass(frozen=True)
class MappedReview:
    """A review to write: its tracks and flags, and how many boxes were left out."""

    tracks: list[dict[str, Any]]
    processing_stage: str
    decided: bool
    has_missed_smoke: bool
    is_unsure: bool
    boxes_left_out: int


def platform_source(source_api: str, pyronear: str) -> str:
    """The Lookout `source` of a sequence's origin: `pyronear` (as the platform import stores
    it) for the Pyronear platform, else pyro-annotator's name of the origin (alert_wildfire,
    api_cenia), whose ids are not the Pyronear platform's."""
    return pyronear if source_api == PYRONEAR_SOURCE_API else source_api


def lookout_stage(stage: str) -> str:
    """The Lookout stage of a pyro-annotator sequence-annotation stage."""
    try:
        return STAGES[stage]
    except KeyError:
        raise MappingProblem(f"unknown processing stage {stage!r}") from None


def _check_types(track: AnnotatorTrack, position: int) -> None:
    if track.smoke_type is not None and track.smoke_type not in SMOKE_TYPES:
        raise MappingProblem(f"track {position}: unknown smoke type {track.smoke_type!r}")
    for fp in track.false_positive_types:
        if fp not in FALSE_POSITIVE_TYPES:
            raise MappingProblem(f"track {position}: unknown false-positive type {fp!r}")


def _boxes(track: AnnotatorTrack, frames: Mapping[int, Frame]) -> tuple[list[dict[str, Any]], int]:
    """A track's boxes on Lookout frames, in frame order; how many could not be kept."""
    kept: dict[str, tuple[int, dict[str, Any]]] = {}
    left_out = 0
    for box in track.bboxes:
        frame = frames.get(box.detection_id)
        x1, y1, x2, y2 = box.xyxyn
        if (
            frame is None
            or x2 <= x1
            or y2 <= y1
            or frame.too_small(box.xyxyn)
            or frame.frame_id in kept
        ):
            left_out += 1
            continue
        entry = {"frame_id": frame.frame_id, "xyxyn": [x1, y1, x2, y2], "confidence": None}
        kept[frame.frame_id] = (frame.index, entry)
    return [entry for _, entry in sorted(kept.values(), key=lambda pair: pair[0])], left_out


def track_of(
    track: AnnotatorTrack, frames: Mapping[int, Frame], *, decided: bool, position: int
) -> tuple[dict[str, Any], int]:
    """One `sequences_bbox` entry as a Lookout track (the JSON a review stores)."""
    _check_types(track, position)
    boxes, left_out = _boxes(track, frames)
    if not decided:
        decision = TrackDecision.UNDECIDED
    elif track.is_smoke:
        decision = TrackDecision.SMOKE
    else:
        decision = TrackDecision.FALSE_POSITIVE
    return {
        "decision": decision,
        "is_smoke": decision != TrackDecision.FALSE_POSITIVE,
        "smoke_type": track.smoke_type if decision == TrackDecision.SMOKE else None,
        "false_positive_types": (
            list(dict.fromkeys(track.false_positive_types))
            if decision == TrackDecision.FALSE_POSITIVE
            else []
        ),
        "confidence": None,
        "boxes": boxes,
    }, left_out


def review_of(annotation: AnnotatorSequenceAnnotation, frames: Mapping[int, Frame]) -> MappedReview:
    """A pyro-annotator sequence annotation as a Lookout review."""
    stage = lookout_stage(annotation.processing_stage)
    decided = annotation.processing_stage in DECIDED
    tracks, left_out = [], 0
    for position, entry in enumerate(annotation.annotation.sequences_bbox, start=1):
        track, dropped = track_of(entry, frames, decided=decided, position=position)
        tracks.append(track)
        left_out += dropped
    return MappedReview(
        tracks=tracks,
        processing_stage=stage,
        decided=decided,
        has_missed_smoke=annotation.has_missed_smoke if decided else False,
        is_unsure=bool(annotation.is_unsure) if decided else False,
        boxes_left_out=left_out,
    )


_NOT_IN_EMAIL = re.compile(r"[^a-z0-9._+-]+")


def annotator_email(username: str, domain: str) -> str:
    """The Lookout user of a pyro-annotator username: itself when it is an email address,
    else `<username>@<domain>`."""
    name = username.strip().lower()
    if "@" in name:
        return name
    local = _NOT_IN_EMAIL.sub("-", name).strip("-.") or "user"
    return f"{local}@{domain}"
