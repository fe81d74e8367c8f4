"""HTTP endpoints of comments: VISTA's image paths, and the same for sequences."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, status

from lookout.auth.dependencies import RawBodyDep
from lookout.comments import service
from lookout.comments.schemas import CommentAuthor, CommentRead, CommentWrite
from lookout.db import MAX_OFFSET
from lookout.deps import PrincipalDep, SessionDep
from lookout.jsonbody import CheckedJSONRoute, openapi_body, parse_model
from lookout.route_table import RouteTable

router = RouteTable(prefix="/api", tags=["comments"], route_class=CheckedJSONRoute)

SkipQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
LimitQuery = Annotated[int, Query(ge=1, le=500)]


def comment_read(view: service.CommentView) -> CommentRead:
    comment, author = view.comment, view.author
    return CommentRead(
        id=comment.id,
        project_id=comment.project_id,
        image_id=comment.image_id,
        sequence_id=comment.sequence_id,
        text=comment.text,
        author_id=comment.author_id,
        author=(
            CommentAuthor(id=author.id, email=author.email, display_name=author.display_name)
            if author is not None
            else None
        ),
        created_at=comment.created_at,
        updated_at=comment.updated_at,
        edited=comment.updated_at != comment.created_at,
    )


@router.get("/images/{image_id}/comments", response_model=list[CommentRead])
def image_comments(
    image_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    skip: SkipQuery = 0,
    limit: LimitQuery = 100,
) -> list[CommentRead]:
    """The image's comments, newest first."""
    views = service.list_image_comments(
        session, principal=principal, image_id=image_id, skip=skip, limit=limit
    )
    return [comment_read(view) for view in views]


@router.post(
    "/images/{image_id}/comments",
    response_model=CommentRead,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=openapi_body(CommentWrite),
)
def comment_on_image(
    image_id: uuid.UUID, body: RawBodyDep, session: SessionDep, principal: PrincipalDep
) -> CommentRead:
    """Comment on an image (`{"text"}`: plain text, shown as typed)."""
    text = parse_model(CommentWrite, body).text
    view = service.comment_on_image(session, principal=principal, image_id=image_id, text=text)
    return comment_read(view)


@router.get("/sequences/{sequence_id}/comments", response_model=list[CommentRead])
def sequence_comments(
    sequence_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    skip: SkipQuery = 0,
    limit: LimitQuery = 100,
) -> list[CommentRead]:
    """The sequence's comments, newest first."""
    views = service.list_sequence_comments(
        session, principal=principal, sequence_id=sequence_id, skip=skip, limit=limit
    )
    return [comment_read(view) for view in views]


@router.post(
    "/sequences/{sequence_id}/comments",
    response_model=CommentRead,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=openapi_body(CommentWrite),
)
def comment_on_sequence(
    sequence_id: uuid.UUID, body: RawBodyDep, session: SessionDep, principal: PrincipalDep
) -> CommentRead:
    """Comment on a sequence (`{"text"}`)."""
    text = parse_model(CommentWrite, body).text
    view = service.comment_on_sequence(
        session, principal=principal, sequence_id=sequence_id, text=text
    )
    return comment_read(view)


@router.get("/comments/{comment_id}", response_model=CommentRead)
def get_comment(comment_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> CommentRead:
    return comment_read(service.get_comment(session, principal=principal, comment_id=comment_id))


@router.patch(
    "/comments/{comment_id}", response_model=CommentRead, openapi_extra=openapi_body(CommentWrite)
)
def edit_comment(
    comment_id: uuid.UUID, body: RawBodyDep, session: SessionDep, principal: PrincipalDep
) -> CommentRead:
    """Change a comment's text: its author only (403 for anyone else)."""
    text = parse_model(CommentWrite, body).text
    view = service.edit_comment(session, principal=principal, comment_id=comment_id, text=text)
    return comment_read(view)


@router.delete("/comments/{comment_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_comment(comment_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> None:
    """Delete a comment: its author or an admin (403 for anyone else)."""
    service.delete_comment(session, principal=principal, comment_id=comment_id)
