"""Image classes and classifications as the caller may read them: scoped by the project."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.auth.principal import Principal
from lookout.classes.models import ImageClass, ImageClassification
from lookout.errors import NotFound
from lookout.images.models import Image
from lookout.projects.models import Project


class ClassRepository:
    """Reads of classes and classifications scoped to one caller, built once per request."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def classes(self) -> sa.Select[ImageClass]:
        """Classes of projects in the caller's groups."""
        return (
            sa.select(ImageClass)
            .join(Project, Project.id == ImageClass.project_id)
            .where(self.principal.scope.clause(Project.group_id))
        )

    def get_class(self, class_id: uuid.UUID) -> ImageClass:
        """The class, or NotFound whether it is missing or another group's."""
        found = self.session.scalar(self.classes().where(ImageClass.id == class_id))
        if found is None:
            raise NotFound(f"image class {class_id} not found", field="class_id")
        return found

    def of_project(self, project_id: uuid.UUID) -> list[tuple[ImageClass, int]]:
        """A project's classes by name, each with how many images have it."""
        used = (
            sa.select(sa.func.count(ImageClassification.id))
            .where(ImageClassification.class_id == ImageClass.id)
            .scalar_subquery()
        )
        query = (
            self.classes()
            .add_columns(used)
            .where(ImageClass.project_id == project_id)
            .order_by(ImageClass.name)
        )
        return [(row[0], row[1]) for row in self.session.execute(query)]

    def classifications(self) -> sa.Select[ImageClassification]:
        """Classifications of images in the caller's groups' projects."""
        return (
            sa.select(ImageClassification)
            .join(Image, Image.id == ImageClassification.image_id)
            .join(Project, Project.id == Image.project_id)
            .where(self.principal.scope.clause(Project.group_id))
        )

    def get_classification(self, classification_id: uuid.UUID) -> ImageClassification:
        found = self.session.scalar(
            self.classifications().where(ImageClassification.id == classification_id)
        )
        if found is None:
            raise NotFound(f"classification {classification_id} not found")
        return found
