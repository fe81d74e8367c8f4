"""The rules of image classes: names unique per project, a class in use is not deleted, an
image holds each class once, a classification is removed by whoever gave it or an admin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lookout.accounts.models import User
from lookout.auth.principal import Principal
from lookout.classes.models import ImageClass, ImageClassification
from lookout.classes.repository import ClassRepository
from lookout.db import AnySelect
from lookout.errors import Conflict, Forbidden, InvalidInput
from lookout.images.repository import ImageRepository
from lookout.projects.repository import ProjectRepository


@dataclass(frozen=True)
class ClassUse:
    image_class: ImageClass
    image_count: int


@dataclass(frozen=True)
class Classification:
    """A classification with its class's name and its author's email."""

    id: uuid.UUID
    image_id: uuid.UUID
    class_id: uuid.UUID
    class_name: str
    created_by_id: uuid.UUID | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime | None


def list_classes(
    session: Session, *, principal: Principal, project_id: uuid.UUID
) -> list[ClassUse]:
    """A project's classes by name, with how many images have each."""
    project = ProjectRepository(session, principal).get(project_id)
    return [ClassUse(c, n) for c, n in ClassRepository(session, principal).of_project(project.id)]


def get_class(session: Session, *, principal: Principal, class_id: uuid.UUID) -> ClassUse:
    image_class = ClassRepository(session, principal).get_class(class_id)
    return ClassUse(image_class, _use_count(session, image_class.id))


def _use_count(session: Session, class_id: uuid.UUID) -> int:
    query = sa.select(sa.func.count()).where(ImageClassification.class_id == class_id)
    return session.scalar(query) or 0


def _taken(name: str) -> Conflict:
    return Conflict(f"name: the project already has a class named {name!r}", field="name")


def create_class(
    session: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    name: str,
    description: str | None = None,
) -> ClassUse:
    """A new class of the project; a name the project has is 409."""
    project = ProjectRepository(session, principal).get(project_id)
    image_class = ImageClass(project_id=project.id, name=name, description=description)
    session.add(image_class)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise _taken(name) from None
    return ClassUse(image_class, 0)


def update_class(
    session: Session,
    *,
    principal: Principal,
    class_id: uuid.UUID,
    name: str | None = None,
    description: str | None = None,
    description_given: bool = False,
) -> ClassUse:
    """Rename a class or change its description (classifications follow: they hold its id)."""
    image_class = ClassRepository(session, principal).get_class(class_id)
    if name is not None:
        image_class.name = name
    if description_given:
        image_class.description = description
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise _taken(name or "") from None
    return ClassUse(image_class, _use_count(session, image_class.id))


def delete_class(session: Session, *, principal: Principal, class_id: uuid.UUID) -> None:
    """Delete a class nobody gave an image; one in use is 409 naming it and how often."""
    image_class = ClassRepository(session, principal).get_class(class_id)
    used = _use_count(session, image_class.id)
    if used:
        raise Conflict(
            f"class {image_class.name!r} is given to {used} image{'s' if used != 1 else ''}; "
            "remove those classifications first",
            field="class_id",
        )
    session.delete(image_class)
    try:
        session.commit()
    except IntegrityError:  # classified by another request meanwhile
        session.rollback()
        raise Conflict(
            f"class {image_class.name!r} was just given to an image; it stays", field="class_id"
        ) from None


def _classification_query() -> AnySelect:
    return (
        sa.select(ImageClassification, ImageClass.name, User.email)
        .join(ImageClass, ImageClass.id == ImageClassification.class_id)
        .outerjoin(User, User.id == ImageClassification.created_by_id)
    )


def _read(row: ImageClassification, class_name: str, email: str | None) -> Classification:
    return Classification(
        id=row.id,
        image_id=row.image_id,
        class_id=row.class_id,
        class_name=class_name,
        created_by_id=row.created_by_id,
        created_by=email,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_classifications(
    session: Session, *, principal: Principal, image_id: uuid.UUID
) -> list[Classification]:
    """An image's classes, in the order they were given."""
    image = ImageRepository(session, principal).get(image_id)
    query = _classification_query().where(ImageClassification.image_id == image.id)
    rows = session.execute(query.order_by(ImageClassification.created_at, ImageClass.name))
    return [_read(row[0], row[1], row[2]) for row in rows]


@dataclass(frozen=True)
class Classified:
    classification: Classification
    existing: bool


def classify(
    session: Session, *, principal: Principal, image_id: uuid.UUID, class_id: uuid.UUID
) -> Classified:
    """Give an image a class of its project; giving it again answers the one there."""
    image = ImageRepository(session, principal).get(image_id)
    image_class = session.scalar(
        sa.select(ImageClass).where(
            ImageClass.id == class_id, ImageClass.project_id == image.project_id
        )
    )
    if image_class is None:
        raise InvalidInput(
            f"class_id: no class {class_id} in this image's project", field="class_id"
        )
    existing = _find(session, image.id, image_class.id)
    if existing is not None:
        return Classified(existing, existing=True)
    row = ImageClassification(
        image_id=image.id, class_id=image_class.id, created_by_id=principal.user_id
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # the same class given at the same moment
        session.rollback()
        found = _find(session, image.id, image_class.id)
        if found is None:
            raise
        return Classified(found, existing=True)
    return Classified(_read(row, image_class.name, principal.email), existing=False)


def _find(session: Session, image_id: uuid.UUID, class_id: uuid.UUID) -> Classification | None:
    row = session.execute(
        _classification_query().where(
            ImageClassification.image_id == image_id, ImageClassification.class_id == class_id
        )
    ).first()
    return None if row is None else _read(row[0], row[1], row[2])


def remove_classification(
    session: Session, *, principal: Principal, classification_id: uuid.UUID
) -> None:
    """Remove a classification: whoever gave it, or an admin (403 otherwise, as in VISTA)."""
    row = ClassRepository(session, principal).get_classification(classification_id)
    if not principal.is_admin and row.created_by_id != principal.user_id:
        raise Forbidden("only who gave this class, or an admin, may remove it")
    session.delete(row)
    session.commit()
