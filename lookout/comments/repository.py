"""Comments as the caller may read them: scoped by the project they belong to."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.accounts.models import User
from lookout.auth.principal import Principal
from lookout.comments.models import Comment
from lookout.db import AnySelect
from lookout.errors import NotFound
from lookout.projects.models import Project


class CommentRepository:
    """Reads of comments scoped to one caller, built once per request."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def readable(self) -> AnySelect:
        """Comments of projects in the caller's groups, with their authors."""
        return (
            sa.select(Comment, User)
            .join(Project, Project.id == Comment.project_id)
            .outerjoin(User, User.id == Comment.author_id)
            .where(self.principal.scope.clause(Project.group_id))
        )

    def get(self, comment_id: uuid.UUID) -> tuple[Comment, User | None]:
        """The comment and its author, or NotFound whether missing or another group's."""
        row = self.session.execute(self.readable().where(Comment.id == comment_id)).first()
        if row is None:
            raise NotFound(f"comment {comment_id} not found")
        return row[0], row[1]

    def newest_first(
        self,
        *,
        image_id: uuid.UUID | None = None,
        sequence_id: uuid.UUID | None = None,
        skip: int = 0,
        limit: int = 100,
    ) -> list[tuple[Comment, User | None]]:
        """The comments of one image or one sequence, newest first."""
        query = self.readable()
        if image_id is not None:
            query = query.where(Comment.image_id == image_id)
        if sequence_id is not None:
            query = query.where(Comment.sequence_id == sequence_id)
        query = query.order_by(Comment.created_at.desc(), Comment.id.desc())
        return [(row[0], row[1]) for row in self.session.execute(query.offset(skip).limit(limit))]
