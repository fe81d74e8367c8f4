"""The rules of comments: on an image or a sequence the caller may read; edited by their
author only; deleted by their author or an admin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lookout.accounts.models import User
from lookout.auth.principal import Principal
from lookout.comments.models import Comment
from lookout.comments.repository import CommentRepository
from lookout.db import utcnow
from lookout.errors import Forbidden
from lookout.images.repository import ImageRepository
from lookout.sequences.repository import SequenceRepository


@dataclass(frozen=True)
class CommentView:
    comment: Comment
    author: User | None


def list_image_comments(
    session: Session, *, principal: Principal, image_id: uuid.UUID, skip: int, limit: int
) -> list[CommentView]:
    """An image's comments, newest first."""
    image = ImageRepository(session, principal).get(image_id)
    rows = CommentRepository(session, principal).newest_first(
        image_id=image.id, skip=skip, limit=limit
    )
    return [CommentView(*row) for row in rows]


def list_sequence_comments(
    session: Session, *, principal: Principal, sequence_id: uuid.UUID, skip: int, limit: int
) -> list[CommentView]:
    """A sequence's comments, newest first."""
    sequence = SequenceRepository(session, principal).get(sequence_id)
    rows = CommentRepository(session, principal).newest_first(
        sequence_id=sequence.id, skip=skip, limit=limit
    )
    return [CommentView(*row) for row in rows]


def _author(session: Session, principal: Principal) -> User | None:
    return session.get(User, principal.user_id)


def comment_on_image(
    session: Session, *, principal: Principal, image_id: uuid.UUID, text: str
) -> CommentView:
    image = ImageRepository(session, principal).get(image_id)
    return _add(session, principal, text, project_id=image.project_id, image_id=image.id)


def comment_on_sequence(
    session: Session, *, principal: Principal, sequence_id: uuid.UUID, text: str
) -> CommentView:
    sequence = SequenceRepository(session, principal).get(sequence_id)
    return _add(session, principal, text, project_id=sequence.project_id, sequence_id=sequence.id)


def _add(session: Session, principal: Principal, text: str, **about: uuid.UUID) -> CommentView:
    """Store a comment on what `about` names (its project and image or sequence)."""
    now = utcnow()
    comment = Comment(
        author_id=principal.user_id, text=text, created_at=now, updated_at=now, **about
    )
    session.add(comment)
    session.commit()
    return CommentView(comment, _author(session, principal))


def get_comment(session: Session, *, principal: Principal, comment_id: uuid.UUID) -> CommentView:
    return CommentView(*CommentRepository(session, principal).get(comment_id))


def edit_comment(
    session: Session, *, principal: Principal, comment_id: uuid.UUID, text: str
) -> CommentView:
    """Change a comment's text: its author only (403 for anyone else, admins too)."""
    comment, author = CommentRepository(session, principal).get(comment_id)
    if comment.author_id != principal.user_id:
        raise Forbidden("only the author may edit a comment")
    if comment.text != text:
        comment.text = text
        session.commit()
    return CommentView(comment, author)


def delete_comment(session: Session, *, principal: Principal, comment_id: uuid.UUID) -> None:
    """Delete a comment: its author or an admin (403 for anyone else)."""
    comment, _author_row = CommentRepository(session, principal).get(comment_id)
    if comment.author_id != principal.user_id and not principal.is_admin:
        raise Forbidden("only the author or an admin may delete a comment")
    session.delete(comment)
    session.commit()
