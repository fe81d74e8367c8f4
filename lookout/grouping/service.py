"""Groups of recurring objects: joining them as sequences are drafted, labelling them once.

A drafted track joins the group of its camera (and pose or heading) whose box its median box
overlaps most, at least by the IoU setting (`LOOKOUT_GROUP_IOU`), or starts a group of its own.
Only the groups of that camera are compared, one stored box each, so joining costs the same
however many sequences the project holds. A decision on a group is written into every member
track still undecided (or still following the group), as a new version of each review; a
person's own decision on a track is never overwritten.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Sequence as Seq
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from lookout.accounts.models import User
from lookout.auth.principal import Principal
from lookout.db import affected_rows, utcnow
from lookout.errors import InvalidInput, NotFound
from lookout.grouping.models import GroupMember, SequenceGroup
from lookout.grouping.repository import GroupFilters, GroupRepository
from lookout.grouping.schemas import GroupDecision
from lookout.projects.models import Project
from lookout.projects.repository import ProjectRepository
from lookout.sequences import reviews
from lookout.sequences.models import (
    FALSE_POSITIVE_TYPES,
    Camera,
    Sequence,
    SequenceReview,
    TrackDecision,
)
from lookout.sequences.service import get_sequence

# IoU computed in floating point may land a hair under a threshold it meets exactly.
IOU_TOLERANCE = 1e-9
# Two headings this close (degrees) are the same view of a camera without poses.
AZIMUTH_TOLERANCE = 3.0
# A member's crop: this many times its box, at least CROP_MIN of the frame a side.
CROP_SCALE = 3.0
CROP_MIN = 0.15

Box = tuple[float, float, float, float]


# --- geometry (pure) ---------------------------------------------------------------------


def median_box(track: dict[str, Any]) -> Box | None:
    """The per-coordinate median of a track's boxes (normalized xyxy), or None without any."""
    boxes = [
        b["xyxyn"]
        for b in track.get("boxes") or ()
        if isinstance(b, dict) and isinstance(b.get("xyxyn"), list) and len(b["xyxyn"]) == 4
    ]
    if not boxes:
        return None
    x1, y1, x2, y2 = (float(statistics.median(b[i] for b in boxes)) for i in range(4))
    return x1, y1, x2, y2


def box_iou(a: Seq[float], b: Seq[float]) -> float:
    """Intersection over union of two xyxy boxes (0 when either is empty)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def crop_of(box: Seq[float]) -> list[float]:
    """Where to crop a frame to show a box enlarged with its surroundings (inside the frame)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    w = min(1.0, max(CROP_MIN, (box[2] - box[0]) * CROP_SCALE))
    h = min(1.0, max(CROP_MIN, (box[3] - box[1]) * CROP_SCALE))
    x1 = min(max(0.0, cx - w / 2), 1.0 - w)
    y1 = min(max(0.0, cy - h / 2), 1.0 - h)
    return [round(x1, 6), round(y1, 6), round(x1 + w, 6), round(y1 + h, 6)]


def view_of(sequence: Sequence) -> tuple[str | None, float | None]:
    """The camera's pose (the platform's `pose_id`) and heading of a sequence, when known."""
    extra = sequence.extra if isinstance(sequence.extra, dict) else {}
    pose = extra.get("pose_id")
    known = pose is not None and not isinstance(pose, bool) and str(pose).strip()
    return (str(pose).strip()[:100] if known else None), sequence.camera_azimuth


def same_view(group: SequenceGroup, pose: str | None, azimuth: float | None) -> bool:
    """Does the camera look the same way as when the group began? Unknown views match."""
    if group.pose is not None and pose is not None:
        return group.pose == pose
    if group.camera_azimuth is not None and azimuth is not None:
        gap = abs(group.camera_azimuth - azimuth) % 360
        return min(gap, 360 - gap) <= AZIMUTH_TOLERANCE
    return True


def _box_of(row: SequenceGroup | GroupMember) -> Box:
    return row.x1, row.y1, row.x2, row.y2


# --- joining, as sequences are drafted ------------------------------------------------------


def join_after_draft(session: Session, sequence_id: uuid.UUID, *, iou_threshold: float) -> int:
    """Put the drafted tracks of a sequence into its camera's groups; how many joined one.

    Runs after a draft is stored (its own transaction). A review a person has touched is left
    alone; a re-drafted sequence leaves its old groups first. A track joining a decided group
    gets the group's decision as a suggestion, or, when the project says so
    (`auto_apply_group_decisions`), as its decision. Drafts of one camera's sequences are
    grouped one at a time (`_sequence_with_camera_locked`), so two at the same moment never
    each start a group for one object. When two drafts of one sequence group it at the same
    moment (two importers over the same days), the one that commits first stands.
    """
    try:
        return _join(session, sequence_id, iou_threshold)
    except IntegrityError:
        session.rollback()
        return 0


def _join(session: Session, sequence_id: uuid.UUID, iou_threshold: float) -> int:
    sequence = _sequence_with_camera_locked(session, sequence_id)
    if sequence is None:
        return 0
    review = reviews.review_of(session, sequence_id)
    if review is None:
        return 0
    if reviews.is_human(review):
        return 0
    left = _leave_all(session, sequence_id)
    pose, azimuth = view_of(sequence)
    tracks = [dict(t) for t in review.tracks]
    boxes = [b for b in (median_box(t) for t in tracks) if b is not None]
    candidates: list[SequenceGroup] = []
    if boxes:
        # Only the camera's groups whose box overlaps a track's (no overlap, no IoU): the
        # (project, camera) index narrows to the camera, this to a handful of rows.
        overlapping = sa.or_(
            *(
                sa.and_(
                    SequenceGroup.x1 < b[2],
                    SequenceGroup.x2 > b[0],
                    SequenceGroup.y1 < b[3],
                    SequenceGroup.y2 > b[1],
                )
                for b in boxes
            )
        )
        query = (
            sa.select(SequenceGroup)
            .where(
                SequenceGroup.project_id == sequence.project_id,
                SequenceGroup.camera_id == sequence.camera_id,
                overlapping,
            )
            # The rows as stored now: a session kept across joins (the demo loader, the
            # bench) may hold copies from before other drafts joined these groups.
            .execution_options(populate_existing=True)
        )
        candidates = [g for g in session.scalars(query) if same_view(g, pose, azimuth)]
    auto_apply: bool | None = None  # the project's setting, read once a decided group is met
    taken: set[uuid.UUID] = set()
    started: list[dict[str, Any]] = []  # groups this sequence starts, inserted at the end
    members: list[dict[str, Any]] = []
    now = utcnow()
    auto_by: uuid.UUID | None = None
    for index, track in enumerate(tracks):
        for name in reviews.GROUP_FIELDS:
            track.pop(name, None)
        box = median_box(track)
        if box is None:
            continue
        group, iou = _best_group(candidates, taken, box, iou_threshold)
        if group is not None and not _add_to_group(session, group, box, sequence):
            candidates.remove(group)  # emptied and removed by another draft meanwhile
            group = None
        if group is None:
            # No candidate for this sequence's other tracks: one sequence's tracks never
            # share a group (`taken`).
            started.append(_group_values(sequence, pose, azimuth, box, now))
            group_id, iou = started[-1]["id"], 1.0
        else:
            group_id = group.id
        taken.add(group_id)
        members.append(_member_values(group_id, sequence.id, index, box, iou, now))
        track["group_id"] = str(group_id)
        if group is not None and group.decision is not None:
            if auto_apply is None:
                project = session.get_one(Project, sequence.project_id)
                auto_apply = project.auto_apply_group_decisions
            if auto_apply:
                _apply(track, group, _email(session, group.decided_by_id), now, auto=True)
                auto_by = auto_by or group.decided_by_id
            else:
                track["suggestion"] = _suggestion(session, group)
    _insert_groups(session, sequence.project_id, started)
    if members:
        session.connection().execute(sa.insert(GroupMember), members)
    joined = len(members)
    if any(_decided_automatically(tracks)):
        reviews.write_group_tracks(
            session,
            review,
            tracks,
            by_id=auto_by,
            reason="the group's decision, applied by the project's setting",
        )
    elif (joined or left) and not reviews.set_draft_tracks(session, review, tracks):
        session.rollback()  # a person saved meanwhile: their review stands, ungrouped
        return 0
    session.commit()
    return joined


def _sequence_with_camera_locked(session: Session, sequence_id: uuid.UUID) -> Sequence | None:
    """The sequence (None without a camera), its camera's drafts grouped one at a time until
    this transaction ends.

    Without it, drafts of two sequences of the camera grouped at the same moment each see no
    group at a place and each start one: one object, two groups. On PostgreSQL the camera's
    row is locked (FOR NO KEY UPDATE: rows being inserted for the camera, which only check
    that it exists, are not held up); in READ COMMITTED every statement after it sees the
    groups the other draft committed. On SQLite every transaction begins with BEGIN IMMEDIATE
    (lookout.db), which takes the database's write lock before the first read, so the join
    already runs alone and no read snapshot ever has to become a write; FOR UPDATE is not
    rendered there.
    """
    return session.scalar(
        sa.select(Sequence)
        .join(Camera, Camera.id == Sequence.camera_id)
        .where(Sequence.id == sequence_id)
        .with_for_update(of=Camera, key_share=True)
    )


def _decided_automatically(tracks: list[dict[str, Any]]) -> list[bool]:
    return [bool((t.get("decided_by_group") or {}).get("auto")) for t in tracks]


def _best_group(
    candidates: list[SequenceGroup], taken: set[uuid.UUID], box: Box, threshold: float
) -> tuple[SequenceGroup | None, float]:
    best: SequenceGroup | None = None
    best_iou = 0.0
    for group in candidates:
        if group.id in taken:
            continue
        iou = box_iou(box, _box_of(group))
        if iou >= threshold - IOU_TOLERANCE and iou > best_iou:
            best, best_iou = group, iou
    return best, best_iou


def _group_values(
    sequence: Sequence, pose: str | None, azimuth: float | None, box: Box, now: datetime
) -> dict[str, Any]:
    """The row of a group started by one track (its number is given when it is inserted)."""
    assert sequence.camera_id is not None
    return {
        "id": uuid.uuid4(),
        "project_id": sequence.project_id,
        "camera_id": sequence.camera_id,
        "pose": pose,
        "camera_azimuth": azimuth,
        "x1": box[0],
        "y1": box[1],
        "x2": box[2],
        "y2": box[3],
        "member_count": 1,
        "first_seen_at": sequence.started_at,
        "last_seen_at": sequence.last_seen_at or sequence.started_at,
        "false_positive_types": [],
        "created_at": now,
        "updated_at": now,
    }


def _member_values(
    group_id: uuid.UUID,
    sequence_id: uuid.UUID,
    track_index: int,
    box: Box,
    iou: float,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "group_id": group_id,
        "sequence_id": sequence_id,
        "track_index": track_index,
        "x1": box[0],
        "y1": box[1],
        "x2": box[2],
        "y2": box[3],
        "iou": round(iou, 6),
        "joined_at": now,
    }


def _insert_groups(session: Session, project_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    """The groups a sequence starts, numbered in track order and inserted at once.

    On the connection, two statements whatever their count: the unit of work's flush of new
    rows, and a statement per group, cost more than the rest of the join (measured in an
    import). Their members are inserted after them.
    """
    if not rows:
        return
    last = _raise_group_number(session, project_id, len(rows))
    for number, row in enumerate(rows, start=last - len(rows) + 1):
        row["number"] = number
    session.connection().execute(sa.insert(SequenceGroup), rows)


def _raise_group_number(session: Session, project_id: uuid.UUID, count: int) -> int:
    """The project's group counter raised by `count`, in the caller's transaction: the new
    last number (numbers last - count + 1 .. last are the caller's).

    The camera's lock does not cover other cameras of the project. On PostgreSQL the UPDATE
    locks the project's row until the transaction ends (a draft of another camera creating a
    group waits, then counts from the number committed); on SQLite the transaction already
    holds the database's write lock. The unique (project, number) index stands behind both.
    """
    # On the connection: the ORM's UPDATE path (synchronizing the session's copies, which
    # nothing here reads) cost more than the statement.
    params = {"project_id": project_id, "count": count}
    return int(session.connection().execute(_RAISE_GROUP_NUMBER, params).scalar_one())


# Built once: building it took a quarter of a new group's time in an import (py-spy).
_RAISE_GROUP_NUMBER = (
    sa.update(Project)
    .where(Project.id == sa.bindparam("project_id"))
    .values(last_group_number=Project.last_group_number + sa.bindparam("count"))
    .returning(Project.last_group_number)
)


def _add_to_group(session: Session, group: SequenceGroup, box: Box, sequence: Sequence) -> bool:
    """One more member: the group's box becomes the mean of its members' boxes. One UPDATE
    computed from the row as stored, so members joining at once are all counted; False when
    the group is gone (another draft left it empty and removed it since it was read)."""
    n = SequenceGroup.member_count
    seen = sequence.last_seen_at or sequence.started_at
    values: dict[str, Any] = {
        "member_count": n + 1,
        "x1": (SequenceGroup.x1 * n + box[0]) / (n + 1),
        "y1": (SequenceGroup.y1 * n + box[1]) / (n + 1),
        "x2": (SequenceGroup.x2 * n + box[2]) / (n + 1),
        "y2": (SequenceGroup.y2 * n + box[3]) / (n + 1),
        "updated_at": utcnow(),
    }
    if group.first_seen_at is None or sequence.started_at < group.first_seen_at:
        values["first_seen_at"] = sequence.started_at
    if group.last_seen_at is None or seen > group.last_seen_at:
        values["last_seen_at"] = seen
    result = session.execute(
        sa.update(SequenceGroup)
        .where(SequenceGroup.id == group.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if affected_rows(result) != 1:
        return False
    # The in-memory copy follows for the next track of this sequence, without being written
    # back: the UPDATE above is what is stored (a flush of these values would undo the others'
    # joins made meanwhile).
    count = group.member_count
    pairs = zip(_box_of(group), box, strict=True)
    moved = ((old * count + new) / (count + 1) for old, new in pairs)
    for name, value in zip(("x1", "y1", "x2", "y2"), moved, strict=True):
        set_committed_value(group, name, value)
    set_committed_value(group, "member_count", count + 1)
    return True


def _leave(session: Session, member: GroupMember) -> None:
    """A member leaves its group: the group's box and count without it (in one UPDATE); an
    undecided group left empty goes."""
    n = SequenceGroup.member_count
    box = _box_of(member)

    def without(column: Any, value: float) -> Any:
        return sa.case((n > 1, (column * n - value) / (n - 1)), else_=column)

    session.execute(
        sa.update(SequenceGroup)
        .where(SequenceGroup.id == member.group_id)
        .values(
            x1=without(SequenceGroup.x1, box[0]),
            y1=without(SequenceGroup.y1, box[1]),
            x2=without(SequenceGroup.x2, box[2]),
            y2=without(SequenceGroup.y2, box[3]),
            member_count=sa.case((n > 0, n - 1), else_=0),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(sa.delete(GroupMember).where(GroupMember.id == member.id))
    session.execute(
        sa.delete(SequenceGroup).where(
            SequenceGroup.id == member.group_id,
            SequenceGroup.member_count <= 0,
            SequenceGroup.decision.is_(None),
        )
    )
    session.expunge(member)
    group = session.identity_map.get(session.identity_key(SequenceGroup, member.group_id))
    if group is not None:
        session.expire(group)


def leave_groups(session: Session, sequence_id: uuid.UUID) -> int:
    """Before a sequence is purged (lookout.sequences.trash): its tracks leave their groups,
    whose boxes and counts go on without them; not committed."""
    return _leave_all(session, sequence_id)


def _leave_all(session: Session, sequence_id: uuid.UUID) -> int:
    """The sequence's tracks leave their groups (before it is grouped again); how many."""
    query = sa.select(GroupMember).where(GroupMember.sequence_id == sequence_id)
    members = list(session.scalars(query))
    for member in members:
        _leave(session, member)
    return len(members)


# --- decisions --------------------------------------------------------------------------------


def _email(session: Session, user_id: uuid.UUID | None) -> str | None:
    if user_id is None:
        return None
    return session.scalar(sa.select(User.email).where(User.id == user_id))


def _suggestion(session: Session, group: SequenceGroup) -> dict[str, Any]:
    return {
        "group_id": str(group.id),
        "decision": group.decision,
        "smoke_type": group.smoke_type,
        "false_positive_types": list(group.false_positive_types or []),
        "by": _email(session, group.decided_by_id),
        "at": group.decided_at.isoformat() if group.decided_at else None,
    }


def _apply(
    track: dict[str, Any], group: SequenceGroup, by: str | None, at: datetime, *, auto: bool
) -> None:
    """Write the group's decision into a track, marked as the group's."""
    smoke = group.decision == TrackDecision.SMOKE
    track["decision"] = group.decision
    track["is_smoke"] = smoke
    track["smoke_type"] = group.smoke_type if smoke else None
    track["false_positive_types"] = [] if smoke else list(group.false_positive_types or [])
    mark: dict[str, Any] = {"group_id": str(group.id), "by": by, "at": at.isoformat()}
    if auto:
        mark["auto"] = True
    track["decided_by_group"] = mark
    track.pop("suggestion", None)


def _undecide(track: dict[str, Any]) -> None:
    track.update(decision=TrackDecision.UNDECIDED, is_smoke=True, smoke_type=None)
    track["false_positive_types"] = []
    track.pop("decided_by_group", None)


def _following(track: dict[str, Any], group_id: str) -> bool:
    return (track.get("decided_by_group") or {}).get("group_id") == group_id


def _check_decision(body: GroupDecision) -> None:
    if body.decision == TrackDecision.SMOKE and body.false_positive_types:
        raise InvalidInput(
            "false_positive_types go with decision false_positive, not smoke",
            field="false_positive_types",
        )
    if body.decision == TrackDecision.FALSE_POSITIVE and body.smoke_type is not None:
        raise InvalidInput(
            "smoke_type goes with decision smoke, not false_positive", field="smoke_type"
        )


def describe(decision: str | None, smoke_type: str | None, types: Seq[str]) -> str:
    """A decision in words: "false positive (antenna, building)", "smoke (wildfire)"."""
    if decision is None:
        return "undecided"
    detail = smoke_type if decision == TrackDecision.SMOKE else ", ".join(types)
    words = decision.replace("_", " ")
    return f"{words} ({detail.replace('_', ' ')})" if detail else words


def decide_group(
    session: Session, *, principal: Principal, group_id: uuid.UUID, body: GroupDecision
) -> tuple[SequenceGroup, int, int]:
    """Decide a group: every member track undecided or following the group takes the decision
    (a new version of its review, all in one transaction); tracks a person decided otherwise
    are kept. Returns the group, how many tracks took it and how many were kept."""
    _check_decision(body)
    group = GroupRepository(session, principal).get(group_id)
    now = utcnow()
    group.decision = body.decision
    group.smoke_type = body.smoke_type if body.decision == TrackDecision.SMOKE else None
    chosen = set(body.false_positive_types)
    group.false_positive_types = (
        [t for t in FALSE_POSITIVE_TYPES if t in chosen]
        if body.decision == TrackDecision.FALSE_POSITIVE
        else []
    )
    group.decided_by_id = principal.user_id
    group.decided_at = now
    session.flush()
    key = str(group.id)
    reason = (
        f"group decision: {describe(group.decision, group.smoke_type, group.false_positive_types)}"
    )
    applied = kept = 0
    for _member, _sequence, review in GroupRepository(session, principal).members(group):
        if review is None:
            continue
        tracks = [dict(t) for t in review.tracks]
        changed = False
        for track in tracks:
            if str(track.get("group_id")) != key:
                continue
            if _following(track, key) or reviews.verdict(track)[0] == TrackDecision.UNDECIDED:
                _apply(track, group, principal.email, now, auto=False)
                applied += 1
                changed = True
            else:
                kept += 1
        if changed:
            reviews.write_group_tracks(
                session, review, tracks, by_id=principal.user_id, reason=reason
            )
    session.commit()
    return group, applied, kept


def remove_member(
    session: Session, *, principal: Principal, group_id: uuid.UUID, member_id: uuid.UUID
) -> None:
    """Take a track out of a group: it no longer follows the group (a decision that came from
    the group is undone: the track is undecided again); a person's own decision stays."""
    group = GroupRepository(session, principal).get(group_id)
    member = session.get(GroupMember, member_id)
    if member is None or member.group_id != group.id:
        raise NotFound(f"group {group_id} has no member {member_id}")
    review = reviews.review_of(session, member.sequence_id)
    if review is not None:
        _unmark(session, principal, review, str(group.id))
    _leave(session, member)
    session.commit()


def _unmark(session: Session, principal: Principal, review: SequenceReview, group_key: str) -> None:
    tracks = [dict(t) for t in review.tracks]
    undone = marked = False
    for track in tracks:
        if str(track.get("group_id")) != group_key:
            continue
        marked = True
        if _following(track, group_key):
            _undecide(track)
            undone = True
        for name in reviews.GROUP_FIELDS:
            track.pop(name, None)
    if not marked:
        return
    if undone or reviews.is_human(review):
        reason = "taken out of its group" + (": the group's decision undone" if undone else "")
        reviews.write_group_tracks(session, review, tracks, by_id=principal.user_id, reason=reason)
    else:
        reviews.set_draft_tracks(session, review, tracks)


# --- reads --------------------------------------------------------------------------------------


def get_group(session: Session, *, principal: Principal, group_id: uuid.UUID) -> SequenceGroup:
    return GroupRepository(session, principal).get(group_id)


def get_group_by_number(
    session: Session, *, principal: Principal, project_id: uuid.UUID, number: int
) -> SequenceGroup:
    return GroupRepository(session, principal).by_number(project_id, number)


def list_groups(
    session: Session, *, principal: Principal, filters: GroupFilters, limit: int, offset: int
) -> tuple[list[tuple[SequenceGroup, str | None, str | None]], int]:
    return GroupRepository(session, principal).page(filters, limit=limit, offset=offset)


def names_of(
    session: Session, *, principal: Principal, group: SequenceGroup
) -> tuple[str | None, str | None]:
    return GroupRepository(session, principal).names(group)


def members_of(
    session: Session, *, principal: Principal, group: SequenceGroup
) -> list[tuple[GroupMember, Sequence, Any]]:
    return GroupRepository(session, principal).members(group)


def groups_of_sequence(
    session: Session, *, principal: Principal, sequence_id: uuid.UUID
) -> list[tuple[GroupMember, SequenceGroup]]:
    """The groups the tracks of a sequence the caller may read are in."""
    sequence = get_sequence(session, principal=principal, sequence_id=sequence_id)
    return GroupRepository(session, principal).of_sequence(sequence.id)


def track_of(review: Any, group_key: str) -> dict[str, Any] | None:
    """The track of a review that is in the group, if it is still there."""
    if review is None:
        return None
    for track in review.tracks:
        if isinstance(track, dict) and str(track.get("group_id")) == group_key:
            return track
    return None


def member_status(track: dict[str, Any] | None, group_key: str) -> str:
    """following, suggested, undecided, own_decision or gone."""
    if track is None:
        return "gone"
    if _following(track, group_key):
        return "following"
    if (track.get("suggestion") or {}).get("group_id") == group_key:
        return "suggested"
    if reviews.verdict(track)[0] == TrackDecision.UNDECIDED:
        return "undecided"
    return "own_decision"


def set_auto_apply(
    session: Session, *, principal: Principal, project_id: uuid.UUID, value: bool
) -> Project:
    """Whether tracks joining a decided group of the project take its decision by themselves."""
    project = ProjectRepository(session, principal).get(project_id)
    project.auto_apply_group_decisions = value
    session.commit()
    return project
