"""Images as the caller may read them: every image read starts here."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.auth.principal import Principal
from lookout.errors import NotFound
from lookout.images.models import Image
from lookout.projects.models import Project


class ImageRepository:
    """Reads of images scoped to one caller, built once per request or command."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def readable(self) -> sa.Select[Image]:
        """Images of projects in the caller's groups."""
        return (
            sa.select(Image)
            .join(Project, Project.id == Image.project_id)
            .where(self.principal.scope.clause(Project.group_id))
        )

    def get(self, image_id: uuid.UUID) -> Image:
        """The image, or NotFound whether it is missing or outside the caller's groups."""
        image = self.session.scalar(self.readable().where(Image.id == image_id))
        if image is None:
            raise NotFound(f"image {image_id} not found")
        return image
