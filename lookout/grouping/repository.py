"""Groups of recurring objects as the caller may read them: every such read starts here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.accounts.models import User
from lookout.auth.principal import Principal
from lookout.errors import NotFound
from lookout.grouping.models import GroupMember, SequenceGroup
from lookout.projects.models import Project
from lookout.sequences.models import Camera, Sequence, SequenceReview


@dataclass(frozen=True)
class GroupFilters:
    project_id: uuid.UUID | None = None
    camera_id: uuid.UUID | None = None
    number: int | None = None  # the group of that number (in its project: with project_id)
    decided: bool | None = None
    min_members: int = 1  # 2: recurring objects only (seen in more than one sequence)


class GroupRepository:
    """Reads of groups scoped to one caller (through their project's access group)."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def readable(self) -> sa.Select[SequenceGroup]:
        """Groups of projects in the caller's access groups."""
        return (
            sa.select(SequenceGroup)
            .join(Project, Project.id == SequenceGroup.project_id)
            .where(self.principal.scope.clause(Project.group_id))
        )

    def get(self, group_id: uuid.UUID) -> SequenceGroup:
        """The group, or NotFound whether it is missing or outside the caller's access."""
        group = self.session.scalar(self.readable().where(SequenceGroup.id == group_id))
        if group is None:
            raise NotFound(f"group {group_id} not found")
        return group

    def by_number(self, project_id: uuid.UUID, number: int) -> SequenceGroup:
        """The project's group of that number, or NotFound (also outside the caller's access)."""
        group = self.session.scalar(
            self.readable().where(
                SequenceGroup.project_id == project_id, SequenceGroup.number == number
            )
        )
        if group is None:
            raise NotFound(f"project {project_id} has no group {number}")
        return group

    def page(
        self, filters: GroupFilters, *, limit: int, offset: int
    ) -> tuple[list[tuple[SequenceGroup, str | None, str | None]], int]:
        """(group, camera name, decider's email) of one page, most recently seen first, and
        how many groups match."""
        query = self.readable().where(SequenceGroup.member_count >= max(1, filters.min_members))
        if filters.project_id is not None:
            query = query.where(SequenceGroup.project_id == filters.project_id)
        if filters.camera_id is not None:
            query = query.where(SequenceGroup.camera_id == filters.camera_id)
        if filters.number is not None:
            query = query.where(SequenceGroup.number == filters.number)
        if filters.decided is not None:
            decided = SequenceGroup.decision.is_not(None)
            query = query.where(decided if filters.decided else sa.not_(decided))
        total = self.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
        rows = self.session.execute(
            query.add_columns(Camera.name, User.email)
            .join(Camera, Camera.id == SequenceGroup.camera_id)
            .outerjoin(User, User.id == SequenceGroup.decided_by_id)
            .order_by(
                SequenceGroup.last_seen_at.desc().nulls_last(),
                SequenceGroup.member_count.desc(),
                SequenceGroup.id,
            )
            .limit(limit)
            .offset(offset)
        )
        return [(g, camera, email) for g, camera, email in rows], total or 0

    def names(self, group: SequenceGroup) -> tuple[str | None, str | None]:
        """The group's camera name and the email of who decided it."""
        camera = self.session.scalar(sa.select(Camera.name).where(Camera.id == group.camera_id))
        email = None
        if group.decided_by_id is not None:
            email = self.session.scalar(sa.select(User.email).where(User.id == group.decided_by_id))
        return camera, email

    def members(self, group: SequenceGroup) -> list[tuple[GroupMember, Sequence, Any]]:
        """The group's members in time order, with their sequence and review (or None)."""
        query = (
            sa.select(GroupMember, Sequence, SequenceReview)
            .join(Sequence, Sequence.id == GroupMember.sequence_id)
            .outerjoin(SequenceReview, SequenceReview.sequence_id == Sequence.id)
            .where(GroupMember.group_id == group.id, Sequence.deleted_at.is_(None))
            .order_by(Sequence.started_at, GroupMember.track_index)
        )
        return [(m, s, r) for m, s, r in self.session.execute(query)]

    def of_sequence(self, sequence_id: uuid.UUID) -> list[tuple[GroupMember, SequenceGroup]]:
        """The groups a sequence's tracks are in (the sequence is the caller's already)."""
        query = (
            sa.select(GroupMember, SequenceGroup)
            .join(SequenceGroup, SequenceGroup.id == GroupMember.group_id)
            .where(GroupMember.sequence_id == sequence_id)
            .order_by(GroupMember.track_index)
        )
        return [(m, g) for m, g in self.session.execute(query)]
