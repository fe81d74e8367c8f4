"""Groups and their members as the API shows them (shared by the API, pages and CLI)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lookout.auth.principal import Principal
from lookout.grouping import service
from lookout.grouping.models import GroupMember, SequenceGroup
from lookout.grouping.schemas import GroupDetail, GroupRead, MemberRead
from lookout.sequences.models import Sequence


def group_read(group: SequenceGroup, camera: str | None, email: str | None) -> GroupRead:
    return GroupRead(
        id=group.id,
        project_id=group.project_id,
        number=group.number,
        camera_id=group.camera_id,
        camera_name=camera,
        pose=group.pose,
        camera_azimuth=group.camera_azimuth,
        box=[round(v, 6) for v in (group.x1, group.y1, group.x2, group.y2)],
        member_count=group.member_count,
        first_seen_at=group.first_seen_at,
        last_seen_at=group.last_seen_at,
        decision=group.decision,
        smoke_type=group.smoke_type,
        false_positive_types=list(group.false_positive_types or []),
        decided_by=email,
        decided_at=group.decided_at,
        created_at=group.created_at,
    )


def member_read(
    group: SequenceGroup, member: GroupMember, sequence: Sequence, review: Any
) -> MemberRead:
    key = str(group.id)
    track = service.track_of(review, key)
    box = [member.x1, member.y1, member.x2, member.y2]
    frame_id = _frame_of(track)
    decision = track.get("decision") if track else None
    return MemberRead(
        id=member.id,
        sequence_id=sequence.id,
        sequence_source_id=sequence.source_id,
        track_index=member.track_index,
        started_at=sequence.started_at,
        last_seen_at=sequence.last_seen_at,
        platform_score=sequence.platform_score,
        platform_label=sequence.platform_label,
        box=[round(v, 6) for v in box],
        crop=service.crop_of(box),
        iou=member.iou,
        joined_at=member.joined_at,
        frame_id=frame_id,
        frame_url=f"/api/images/{frame_id}/content" if frame_id else None,
        decision=decision,
        smoke_type=track.get("smoke_type") if track else None,
        false_positive_types=list(track.get("false_positive_types") or []) if track else [],
        status=service.member_status(track, key),
        processing_stage=review.processing_stage if review is not None else None,
    )


def _frame_of(track: dict[str, Any] | None) -> Any:
    """The frame in the middle of the track: one that shows the object."""
    boxes = [b for b in (track or {}).get("boxes") or () if isinstance(b, dict)]
    return boxes[len(boxes) // 2].get("frame_id") if boxes else None


def group_detail(session: Session, principal: Principal, group: SequenceGroup) -> GroupDetail:
    camera, email = service.names_of(session, principal=principal, group=group)
    members = service.members_of(session, principal=principal, group=group)
    return GroupDetail(
        **group_read(group, camera, email).model_dump(),
        members=[member_read(group, m, s, r) for m, s, r in members],
    )
