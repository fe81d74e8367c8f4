"""HTTP endpoints of image classes and classifications, on VISTA's paths."""

from __future__ import annotations

import uuid

from fastapi import Response, status

from lookout.auth.dependencies import RawBodyDep
from lookout.classes import service
from lookout.classes.schemas import (
    ClassificationCreate,
    ClassificationRead,
    ImageClassCreate,
    ImageClassRead,
    ImageClassUpdate,
)
from lookout.deps import PrincipalDep, SessionDep
from lookout.errors import InvalidInput
from lookout.jsonbody import CheckedJSONRoute, openapi_body, parse_model
from lookout.route_table import RouteTable

router = RouteTable(prefix="/api", tags=["image classes"], route_class=CheckedJSONRoute)


def _class_read(use: service.ClassUse) -> ImageClassRead:
    read = ImageClassRead.model_validate(use.image_class)
    return read.model_copy(update={"image_count": use.image_count})


@router.get("/projects/{project_id}/classes", response_model=list[ImageClassRead])
def list_classes(
    project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> list[ImageClassRead]:
    """The project's image classes by name, each with how many images have it."""
    uses = service.list_classes(session, principal=principal, project_id=project_id)
    return [_class_read(use) for use in uses]


@router.post(
    "/projects/{project_id}/classes",
    response_model=ImageClassRead,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=openapi_body(ImageClassCreate),
)
def create_class(
    project_id: uuid.UUID, body: RawBodyDep, session: SessionDep, principal: PrincipalDep
) -> ImageClassRead:
    """A new class (409 when the project has one of that name)."""
    request = parse_model(ImageClassCreate, body)
    if request.project_id is not None and request.project_id != project_id:
        raise InvalidInput(
            "project_id: the body names another project than the path", field="project_id"
        )
    use = service.create_class(
        session,
        principal=principal,
        project_id=project_id,
        name=request.name,
        description=request.description,
    )
    return _class_read(use)


@router.get("/classes/{class_id}", response_model=ImageClassRead)
def get_class(class_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ImageClassRead:
    return _class_read(service.get_class(session, principal=principal, class_id=class_id))


@router.patch(
    "/classes/{class_id}",
    response_model=ImageClassRead,
    openapi_extra=openapi_body(ImageClassUpdate),
)
def update_class(
    class_id: uuid.UUID, body: RawBodyDep, session: SessionDep, principal: PrincipalDep
) -> ImageClassRead:
    """Rename a class or change its description (409 when the name is taken)."""
    request = parse_model(ImageClassUpdate, body)
    use = service.update_class(
        session,
        principal=principal,
        class_id=class_id,
        name=request.name,
        description=request.description,
        description_given="description" in request.model_fields_set,
    )
    return _class_read(use)


@router.delete("/classes/{class_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_class(class_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> None:
    """Delete a class no image has (409 naming it when some do)."""
    service.delete_class(session, principal=principal, class_id=class_id)


def _classification_read(found: service.Classification) -> ClassificationRead:
    return ClassificationRead.model_validate(found)


@router.get("/images/{image_id}/classifications", response_model=list[ClassificationRead])
def list_classifications(
    image_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> list[ClassificationRead]:
    """The image's classes, who gave each and when."""
    found = service.list_classifications(session, principal=principal, image_id=image_id)
    return [_classification_read(c) for c in found]


@router.post(
    "/images/{image_id}/classifications",
    response_model=ClassificationRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ClassificationRead, "description": "The image has it already"}},
    openapi_extra=openapi_body(ClassificationCreate),
)
def classify(
    image_id: uuid.UUID,
    body: RawBodyDep,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> ClassificationRead:
    """Give the image a class of its project (`{"class_id"}`); 200 when it has it already."""
    request = parse_model(ClassificationCreate, body)
    if request.image_id is not None and request.image_id != image_id:
        raise InvalidInput("image_id: the body names another image than the path", field="image_id")
    done = service.classify(
        session, principal=principal, image_id=image_id, class_id=request.class_id
    )
    if done.existing:
        response.status_code = status.HTTP_200_OK
    return _classification_read(done.classification)


@router.delete("/classifications/{classification_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_classification(
    classification_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> None:
    """Take a class off an image: whoever gave it, or an admin (403 otherwise)."""
    service.remove_classification(session, principal=principal, classification_id=classification_id)
