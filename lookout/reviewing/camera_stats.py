"""Per camera: sequences per day, the false-positive rate of reviewed tracks over time, the
false-positive types met most, and the share of sequences in recurring-object groups, so a
team sees which camera needs a mask or a new model.

A sequence counts on the UTC day it started. Rates come from the track decisions of reviews
saved as annotated: false positives / (smoke + false positives); undecided and unsure tracks
do not count, and a day without a decided track has no rate (null).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.auth.principal import Principal
from lookout.db import UTCDateTime
from lookout.errors import InvalidInput
from lookout.grouping.models import GroupMember, SequenceGroup
from lookout.projects.repository import ProjectRepository
from lookout.reviewing.schemas import CameraDay, CameraRead, CameraStatsRead, TypeCount
from lookout.sequences.models import (
    Camera,
    ProcessingStage,
    Sequence,
    SequenceReview,
    TrackDecision,
)

# Without dates: the 30 days up to the project's latest sequence.
DEFAULT_DAYS = 30
MAX_DAYS = 366
TOP_TYPES = 5


@dataclass
class DayCounts:
    sequences: int = 0
    reviewed: int = 0
    smoke_tracks: int = 0
    false_positive_tracks: int = 0

    @property
    def false_positive_rate(self) -> float | None:
        decided = self.smoke_tracks + self.false_positive_tracks
        return round(self.false_positive_tracks / decided, 4) if decided else None


@dataclass
class CameraCounts:
    camera_id: uuid.UUID | None
    name: str
    organization_name: str | None
    total: DayCounts = field(default_factory=DayCounts)
    days: dict[date, DayCounts] = field(default_factory=lambda: defaultdict(DayCounts))
    types: Counter[str] = field(default_factory=Counter)
    share_in_groups: float | None = None


@dataclass(frozen=True)
class CameraStats:
    project_id: uuid.UUID
    since: date
    until: date
    cameras: list[CameraCounts]


def share_in_groups(
    session: Session, *, camera_ids: list[uuid.UUID], since: date, until: date
) -> dict[uuid.UUID, float] | None:
    """Share of each camera's sequences of the period that hold a track of a recurring object
    (a group seen in more than one sequence): what a mask or a group decision would spare."""
    if not camera_ids:
        return {}
    recurring = (
        sa.select(GroupMember.sequence_id)
        .join(SequenceGroup, SequenceGroup.id == GroupMember.group_id)
        .where(SequenceGroup.member_count > 1)
    )
    in_group = Sequence.id.in_(recurring)
    query = (
        sa.select(
            Sequence.camera_id,
            sa.func.count(),
            sa.func.count().filter(in_group),
        )
        .where(
            Sequence.camera_id.in_(camera_ids),
            Sequence.deleted_at.is_(None),
            Sequence.started_at >= _start(since),
            Sequence.started_at < _start(until + timedelta(days=1)),
        )
        .group_by(Sequence.camera_id)
    )
    rows = session.execute(query)
    return {camera: grouped / total for camera, total, grouped in rows if camera and total}


def _start(day: date) -> Any:
    return sa.literal(datetime.combine(day, time.min), UTCDateTime())


def _period(
    session: Session, project_id: uuid.UUID, since: date | None, until: date | None
) -> tuple[date, date]:
    if since and until and until < since:
        raise InvalidInput("until is before since", field="until")
    if until is None:
        if since is not None:
            until = since + timedelta(days=DEFAULT_DAYS - 1)
        else:
            latest = session.scalar(
                sa.select(sa.func.max(Sequence.started_at)).where(Sequence.project_id == project_id)
            )
            until = latest.date() if latest is not None else datetime.now().date()
    if since is None:
        since = until - timedelta(days=DEFAULT_DAYS - 1)
    if (until - since).days + 1 > MAX_DAYS:
        raise InvalidInput(f"since: at most {MAX_DAYS} days at once", field="since")
    return since, until


def camera_stats(
    session: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    since: date | None = None,
    until: date | None = None,
) -> CameraStats:
    """Counts per camera and day of a project the caller may read (404 otherwise)."""
    project = ProjectRepository(session, principal).get(project_id)
    since, until = _period(session, project.id, since, until)
    query = (
        sa.select(
            Sequence.camera_id,
            Camera.name,
            Camera.organization_name,
            Sequence.started_at,
            SequenceReview.processing_stage,
            SequenceReview.tracks,
        )
        .outerjoin(Camera, Camera.id == Sequence.camera_id)
        .outerjoin(SequenceReview, SequenceReview.sequence_id == Sequence.id)
        .where(
            Sequence.project_id == project.id,
            Sequence.deleted_at.is_(None),  # not in the trash
            Sequence.started_at >= _start(since),
            Sequence.started_at < _start(until + timedelta(days=1)),
        )
    )
    cameras: dict[uuid.UUID | None, CameraCounts] = {}
    for camera_id, name, organization, started_at, stage, tracks in session.execute(query):
        counts = cameras.setdefault(
            camera_id, CameraCounts(camera_id, name or "no camera", organization)
        )
        day = counts.days[started_at.date()]
        for tally in (day, counts.total):
            tally.sequences += 1
        if stage != ProcessingStage.ANNOTATED:
            continue
        for tally in (day, counts.total):
            tally.reviewed += 1
        for track in tracks or []:
            decision = track.get("decision") if isinstance(track, dict) else None
            if decision == TrackDecision.SMOKE:
                day.smoke_tracks += 1
                counts.total.smoke_tracks += 1
            elif decision == TrackDecision.FALSE_POSITIVE:
                day.false_positive_tracks += 1
                counts.total.false_positive_tracks += 1
                counts.types.update(str(t) for t in track.get("false_positive_types") or [])
    ids = [c for c in cameras if c is not None]
    shares = share_in_groups(session, camera_ids=ids, since=since, until=until)
    if shares is not None:
        for camera_id, counts in cameras.items():
            counts.share_in_groups = shares.get(camera_id, 0.0) if camera_id else None
    ordered = sorted(cameras.values(), key=lambda c: (c.camera_id is None, c.name.lower()))
    return CameraStats(project.id, since, until, ordered)


def _camera_read(counts: CameraCounts, since: date, until: date) -> CameraRead:
    days = []
    for offset in range((until - since).days + 1):
        day = since + timedelta(days=offset)
        tally = counts.days.get(day, DayCounts())
        days.append(
            CameraDay(
                day=day,
                sequences=tally.sequences,
                reviewed=tally.reviewed,
                smoke_tracks=tally.smoke_tracks,
                false_positive_tracks=tally.false_positive_tracks,
                false_positive_rate=tally.false_positive_rate,
            )
        )
    total = counts.total
    top = sorted(counts.types.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_TYPES]
    return CameraRead(
        camera_id=counts.camera_id,
        name=counts.name,
        organization_name=counts.organization_name,
        sequences=total.sequences,
        reviewed=total.reviewed,
        smoke_tracks=total.smoke_tracks,
        false_positive_tracks=total.false_positive_tracks,
        false_positive_rate=total.false_positive_rate,
        top_false_positive_types=[TypeCount(type=t, count=n) for t, n in top],
        share_in_groups=counts.share_in_groups,
        days=days,
    )


def stats_read(found: CameraStats) -> CameraStatsRead:
    """The statistics as the API answers them (the project page draws them)."""
    return CameraStatsRead(
        project_id=found.project_id,
        since=found.since,
        until=found.until,
        cameras=[_camera_read(c, found.since, found.until) for c in found.cameras],
    )
