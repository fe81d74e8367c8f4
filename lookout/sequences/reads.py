"""A sequence as the API lists it (one renderer for every route that answers with sequences)."""

from __future__ import annotations

from typing import Any

from lookout.images.models import Image
from lookout.sequences.models import Camera, Sequence, SequenceReview
from lookout.sequences.schemas import FramePrediction, FrameRead, SequenceRead

_SEQUENCE_FIELDS = tuple(name for name in SequenceRead.model_fields if hasattr(Sequence, name))


def sequence_read(
    sequence: Sequence,
    *,
    camera: Camera | None = None,
    review: SequenceReview | None = None,
    frame_count: int = 0,
    reviewed_by: str | None = None,
    existing: bool = False,
) -> SequenceRead:
    """The sequence with its camera's name, its review's stage and flags, and its reviewer."""
    fields: dict[str, Any] = {name: getattr(sequence, name) for name in _SEQUENCE_FIELDS}
    if camera is not None:
        fields.update(camera_name=camera.name, organization_name=camera.organization_name)
    if review is not None:
        fields.update(
            processing_stage=review.processing_stage,
            is_unsure=review.is_unsure,
            has_smoke=review.has_smoke,
            has_false_positives=review.has_false_positives,
            has_missed_smoke=review.has_missed_smoke,
            draft_params=review.draft_params,
        )
    return SequenceRead(
        **fields, frame_count=frame_count, reviewed_by=reviewed_by, existing=existing
    )


def frame_read(
    image: Image, index: int, predictions: list[FramePrediction] | None = None
) -> FrameRead:
    """A frame of a sequence, at its place in time order."""
    return FrameRead(
        id=image.id,
        index=index,
        captured_at=image.captured_at,
        width=image.width,
        height=image.height,
        source_id=image.source_id,
        content_url=f"/api/images/{image.id}/content",
        thumbnail_url=f"/api/images/{image.id}/thumbnail",
        predictions=predictions or [],
    )
