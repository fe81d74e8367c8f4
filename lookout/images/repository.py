"""Images as the caller may read them: every image read starts here.

Images in the trash (`deleted_at` set) are left out of every read unless the caller asks for
them by name: `readable(trash="all")`, `readable(trash="only")` or `get(..., include_deleted=True)`.
"""

from __future__ import annotations

import uuid
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.auth.principal import Principal
from lookout.errors import NotFound
from lookout.images.models import Image
from lookout.projects.models import Project

Trash = Literal["hidden", "all", "only"]


def trash_clause(trash: Trash = "hidden") -> sa.ColumnElement[bool] | None:
    """The condition on Image for a view of the trash: none for "all"."""
    if trash == "hidden":
        return Image.deleted_at.is_(None)
    if trash == "only":
        return Image.deleted_at.is_not(None)
    return None


class ImageRepository:
    """Reads of images scoped to one caller, built once per request or command."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def readable(self, trash: Trash = "hidden") -> sa.Select[Image]:
        """Images of projects in the caller's groups (those in the trash only when asked)."""
        query = (
            sa.select(Image)
            .join(Project, Project.id == Image.project_id)
            .where(self.principal.scope.clause(Project.group_id))
        )
        condition = trash_clause(trash)
        return query if condition is None else query.where(condition)

    def get(self, image_id: uuid.UUID, *, include_deleted: bool = False) -> Image:
        """The image, or NotFound whether it is missing, in the trash (unless
        `include_deleted`) or outside the caller's groups."""
        query = self.readable("all" if include_deleted else "hidden")
        image = self.session.scalar(query.where(Image.id == image_id))
        if image is None:
            raise NotFound(f"image {image_id} not found")
        return image
