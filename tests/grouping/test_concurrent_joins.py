"""Drafts of different sequences of one camera grouped at the same moment, on SQLite and
PostgreSQL: each object of the camera ends up as one group holding every sequence's track,
never as one group per draft (each seeing no group yet and starting its own)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from lookout.grouping.models import GroupMember, SequenceGroup
from lookout.grouping.service import join_after_draft
from lookout.projects.models import Project
from lookout.sequences.models import SequenceReview
from tests.grouping.conftest import ANTENNA, CHIMNEY, Camera, new_camera

DRAFTS = 4
ROUNDS = 6


def _forget_groups(camera: Camera) -> None:
    """The project's groups go, as if none had formed yet (the tracks keep their old marks,
    which joining replaces)."""
    project_id = uuid.UUID(camera.world.project_id)
    with camera.world.lookout.sessions() as session:
        groups = sa.select(SequenceGroup.id).where(SequenceGroup.project_id == project_id)
        session.execute(sa.delete(GroupMember).where(GroupMember.group_id.in_(groups)))
        session.execute(sa.delete(SequenceGroup).where(SequenceGroup.project_id == project_id))
        session.commit()


def _join_together(camera: Camera, sequence_ids: list[uuid.UUID]) -> list[int]:
    """Every sequence joins its camera's groups in its own thread and session, all let go at
    once; how many tracks of each joined a group."""
    lookout = camera.world.lookout
    start = threading.Barrier(len(sequence_ids))

    def join(sequence_id: uuid.UUID) -> int:
        with lookout.sessions() as session:
            start.wait(timeout=30)
            return join_after_draft(session, sequence_id, iou_threshold=lookout.settings.group_iou)

    with ThreadPoolExecutor(len(sequence_ids)) as pool:
        return list(pool.map(join, sequence_ids))


def test_concurrent_drafts_of_one_camera_make_one_group_per_object(camera: Camera) -> None:
    names = [f"seq-{n}" for n in range(DRAFTS)]
    for day, name in enumerate(names, start=1):
        camera.sequence(name, day, [ANTENNA, CHIMNEY])
    sequence_ids = [uuid.UUID(camera.sequences[n]) for n in names]
    # Drafted one after the other: one group per object.
    assert sorted(g["member_count"] for g in camera.groups()) == [DRAFTS, DRAFTS]

    for round_ in range(ROUNDS):
        _forget_groups(camera)
        joined = _join_together(camera, sequence_ids)
        assert joined == [2] * DRAFTS, f"round {round_}: tracks joined per draft {joined}"

        groups = camera.groups()
        counts = [g["member_count"] for g in groups]
        assert len(groups) == 2 and counts == [DRAFTS, DRAFTS], f"round {round_}: {counts}"
        antenna, chimney = sorted(groups, key=lambda g: -g["box"][0])
        assert antenna["box"][0] > 0.5 > chimney["box"][0]
        with camera.world.lookout.sessions() as session:
            members = session.execute(
                sa.select(GroupMember.group_id, GroupMember.sequence_id, GroupMember.track_index)
            ).all()
            marks = {
                (r.sequence_id, index): track.get("group_id")
                for r in session.scalars(
                    sa.select(SequenceReview).where(SequenceReview.sequence_id.in_(sequence_ids))
                )
                for index, track in enumerate(r.tracks)
            }
        # Every sequence's two tracks are members, one in each group, and say so.
        per_group = Counter(str(m.group_id) for m in members)
        assert per_group == {antenna["id"]: DRAFTS, chimney["id"]: DRAFTS}, round_
        for group in (antenna, chimney):
            mine = {m.sequence_id for m in members if str(m.group_id) == group["id"]}
            assert mine == set(sequence_ids), round_
        assert {marks[(m.sequence_id, m.track_index)] for m in members} == {
            antenna["id"],
            chimney["id"],
        }
        assert all(marks[(m.sequence_id, m.track_index)] == str(m.group_id) for m in members)


def test_groups_started_at_once_on_several_cameras_take_distinct_numbers(
    camera: Camera,
) -> None:
    """Drafts of different cameras of one project each start a group at the same moment: the
    camera's lock does not order them, the project's counter does (1, 2, 3... none twice)."""
    cameras = [camera] + [
        Camera(camera.world, new_camera(camera.world, f"cam-{n}")) for n in range(1, DRAFTS)
    ]
    sequence_ids = []
    for n, each in enumerate(cameras):
        each.sequence(f"seq-{n}", 1, [ANTENNA])
        sequence_ids.append(uuid.UUID(each.sequences[f"seq-{n}"]))
    assert sorted(g["number"] for g in camera.groups()) == list(range(1, DRAFTS + 1))

    project_id = uuid.UUID(camera.world.project_id)
    given = DRAFTS
    for round_ in range(ROUNDS):
        _forget_groups(camera)
        assert _join_together(camera, sequence_ids) == [1] * DRAFTS, round_
        groups = camera.groups()
        assert sorted(g["number"] for g in groups) == list(range(given + 1, given + DRAFTS + 1))
        assert {g["camera_id"] for g in groups} == {c.camera_id for c in cameras}
        given += DRAFTS
        with camera.world.lookout.sessions() as session:
            counter = session.scalar(
                sa.select(Project.last_group_number).where(Project.id == project_id)
            )
        assert counter == given, round_
