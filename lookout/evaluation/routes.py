"""HTTP: run, list, compare and inspect evaluations of models against reviewed truth."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query, Response, status

from lookout.db import MAX_OFFSET
from lookout.deps import PrincipalDep, SessionDep
from lookout.errors import InvalidInput
from lookout.evaluation import service
from lookout.evaluation.schemas import (
    EvaluationCreate,
    EvaluationSummary,
    ModelVersion,
    OutcomePage,
    OutcomeRead,
    summary_of,
)
from lookout.jsonbody import CheckedJSONRoute
from lookout.route_table import RouteTable

router = RouteTable(tags=["evaluations"], route_class=CheckedJSONRoute)


@router.post(
    "/api/evaluations",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "Computed without storing (store: false)"}},
)
def create_evaluation(
    body: EvaluationCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> dict[str, Any]:
    """Judge a model against the reviewed truth: AP, precision/recall/F1, sequences caught.

    Stored with the outcome of every box (TP, FP, FN) unless `store` is false.
    """
    metrics, run = service.evaluate_model(session, principal=principal, request=body)
    if run is None:
        response.status_code = status.HTTP_200_OK
    return metrics


@router.get("/api/evaluations", response_model=list[EvaluationSummary])
def list_evaluations(
    session: SessionDep,
    principal: PrincipalDep,
    project_id: uuid.UUID | None = None,
    model_name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[EvaluationSummary]:
    """Stored evaluations, newest first, with their headline figures."""
    runs = service.list_evaluations(
        session, principal=principal, project_id=project_id, model_name=model_name, limit=limit
    )
    return [summary_of(run) for run in runs]


@router.get("/api/evaluations/compare", response_model=list[EvaluationSummary])
def compare_evaluations(
    session: SessionDep,
    principal: PrincipalDep,
    ids: Annotated[list[uuid.UUID], Query(description="Evaluation ids (repeatable)")],
) -> list[EvaluationSummary]:
    """Several evaluations side by side, in the order given."""
    if len(ids) > 50:
        raise InvalidInput("ids: compare at most 50 evaluations", field="ids")
    return [
        summary_of(r) for r in service.compare(session, principal=principal, evaluation_ids=ids)
    ]


@router.get("/api/evaluations/models", response_model=list[ModelVersion])
def list_models(
    session: SessionDep, principal: PrincipalDep, project_id: uuid.UUID
) -> list[ModelVersion]:
    """Models with completed analyses in a project (what can be evaluated)."""
    rows = service.list_models(session, principal=principal, project_id=project_id)
    return [ModelVersion(model_name=n, model_version=v, images=c) for n, v, c in rows]


@router.get("/api/evaluations/{evaluation_id}")
def get_evaluation(
    evaluation_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """The stored metrics of an evaluation."""
    return service.get_evaluation(session, principal=principal, evaluation_id=evaluation_id).metrics


@router.get("/api/evaluations/{evaluation_id}/outcomes", response_model=OutcomePage)
def list_outcomes(
    evaluation_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    outcome: Annotated[
        str | None, Query(description="tp, fp (false alarms) or fn (misses)")
    ] = None,
    class_name: str | None = None,
    image_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> OutcomePage:
    """Judged boxes, most confident first: filter to a model's misses or false alarms."""
    rows, total = service.list_outcomes(
        session,
        principal=principal,
        evaluation_id=evaluation_id,
        outcome=outcome,
        class_name=class_name,
        image_id=image_id,
        limit=limit,
        offset=offset,
    )
    items = [
        OutcomeRead(
            id=r.id,
            image_id=r.image_id,
            sequence_id=r.sequence_id,
            prediction_id=r.prediction_id,
            track_id=r.track_id,
            outcome=r.outcome,
            class_name=r.class_name,
            confidence=r.confidence,
            iou=r.iou,
            xyxyn=[r.x1, r.y1, r.x2, r.y2],
            image_url=f"/api/images/{r.image_id}/content",
            thumbnail_url=f"/api/images/{r.image_id}/thumbnail",
        )
        for r in rows
    ]
    return OutcomePage(items=items, total=total, limit=limit, offset=offset)


@router.delete("/api/evaluations/{evaluation_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_evaluation(
    evaluation_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> None:
    service.delete_evaluation(session, principal=principal, evaluation_id=evaluation_id)
