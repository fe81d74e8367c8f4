"""Evaluating a model against reviewed truth, storing metrics and per-box outcomes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.analyses.models import Analysis, AnalysisStatus
from lookout.auth.principal import Principal
from lookout.db import utcnow
from lookout.errors import InvalidInput, NotFound
from lookout.evaluation.models import EvaluationOutcome, EvaluationRun, Outcome
from lookout.evaluation.schemas import EvaluationCreate
from lookout.images.models import Image
from lookout.images.repository import live_image
from lookout.projects import service as projects
from lookout.projects.models import Project
from lookout.truth.reading import Box, Frame, check_camera, iter_groups, resolve_model, scope_for
from lookout.truth.selection import ModelRef, Selection, describe, make_selection

if TYPE_CHECKING:  # the metrics (and numpy) load when an evaluation runs, not at server boot
    from lookout.evaluation import metrics

ANY_CLASS = "any"
_INSERT_BATCH = 1000


@dataclass
class _ImageRef:
    image_id: uuid.UUID
    sequence_id: uuid.UUID | None
    truth: list[Box]
    predictions: list[Box]


@dataclass
class _Judged:
    """What an evaluation judges: one input per frame, and how frames form sequences."""

    inputs: list[metrics.ImageInput] = field(default_factory=list)
    refs: list[_ImageRef] = field(default_factory=list)
    groups: list[list[tuple[int, int]]] = field(default_factory=list)  # (position, frame index)
    not_analyzed: int = 0


def _label(name: str, agnostic: bool) -> str:
    return ANY_CLASS if agnostic else name


def _keep(boxes: list[Box], classes: set[str]) -> list[Box]:
    return [b for b in boxes if not classes or b.class_name in classes]


def _image_input(truth: list[Box], predictions: list[Box], agnostic: bool) -> metrics.ImageInput:
    """One frame's truth and detections as the metrics take them."""
    from lookout.evaluation import metrics

    return metrics.ImageInput(
        gt_boxes=[b.xyxyn for b in truth],
        gt_classes=[_label(b.class_name, agnostic) for b in truth],
        dt_boxes=[b.xyxyn for b in predictions],
        dt_scores=[1.0 if b.confidence is None else b.confidence for b in predictions],
        dt_classes=[_label(b.class_name, agnostic) for b in predictions],
    )


def _judge_group(
    judged: _Judged, frames: list[Frame], request: EvaluationCreate, wanted: set[str]
) -> None:
    """Add a sequence's reviewed frames (analyzed ones, unless told otherwise)."""
    group: list[tuple[int, int]] = []
    for frame in frames:
        if frame.truth is None:
            continue
        if frame.predictions is None and not request.include_unanalyzed:
            judged.not_analyzed += 1
            continue
        truth = _keep(frame.truth, wanted)
        predictions = _keep(frame.predictions or [], wanted)
        judged.inputs.append(_image_input(truth, predictions, request.class_agnostic))
        sequence_id = frame.sequence.id if frame.sequence else None
        judged.refs.append(_ImageRef(frame.image.id, sequence_id, truth, predictions))
        group.append((len(judged.inputs) - 1, frame.index or 0))
    if group:
        judged.groups.append(group)


def _selection(
    session: Session, principal: Principal, request: EvaluationCreate
) -> tuple[Project, Selection, ModelRef]:
    """The project (visible to the caller), the selection and the model with its version."""
    project = projects.get_project(session, principal=principal, project_id=request.project_id)
    check_camera(session, project_id=project.id, camera_id=request.camera_id)
    selection = make_selection(
        project_id=project.id,
        stage=request.stage,
        date_from=request.date_from,
        date_to=request.date_to,
        camera_id=request.camera_id,
        classes=request.classes,
        class_from=request.class_from,
    )
    model = resolve_model(
        session, project_id=project.id, model=ModelRef(request.model_name, request.model_version)
    )
    return project, selection, model


def _refuse_empty(judged: _Judged, selection: Selection, model: ModelRef) -> None:
    """Nothing to judge is an error that says why (e.g. frames the model never analyzed)."""
    if judged.inputs:
        return
    detail = f"{describe(selection)}, model {model.label}"
    if judged.not_analyzed:
        detail += f" ({judged.not_analyzed} reviewed frames were never analyzed by the model)"
    raise InvalidInput(
        f"the selection is empty: no reviewed frames to judge in {detail}", field="selection"
    )


def _sequence_frames(
    judged: _Judged, result: metrics.Evaluation, threshold: float
) -> list[list[metrics.SequenceFrame]]:
    """Per sequence, each frame's truth and whether the model fired on it at the threshold."""
    from lookout.evaluation import metrics

    return [
        [
            metrics.SequenceFrame(
                index, bool(judged.refs[i].truth), *result.image_fired(i, threshold)
            )
            for i, index in group
        ]
        for group in judged.groups
    ]


def _body(
    project: Project,
    selection: Selection,
    model: ModelRef,
    request: EvaluationCreate,
    judged: _Judged,
    result: metrics.Evaluation,
) -> dict[str, Any]:
    """The evaluation's answer: what was judged, overall, per class and per sequence."""
    from lookout.evaluation import metrics

    threshold = request.confidence_threshold
    sweep = request.sweep if request.sweep is not None else list(metrics.DEFAULT_SWEEP)
    return {
        "project_id": str(project.id),
        "model": {"name": model.name, "version": model.version or ""},
        "selection": {
            "stage": list(selection.review_stages or []) or "any",
            "date_from": request.date_from.isoformat() if request.date_from else None,
            "date_to": request.date_to.isoformat() if request.date_to else None,
            "camera_id": str(request.camera_id) if request.camera_id else None,
            "classes": list(selection.classes),
            "class_from": request.class_from,
            "class_agnostic": request.class_agnostic,
            "include_unanalyzed": request.include_unanalyzed,
        },
        "iou_threshold": request.iou_threshold,
        "confidence_threshold": threshold,
        "images": len(judged.inputs),
        "images_not_analyzed": judged.not_analyzed,
        "truth_boxes": sum(r.gt_count for r in result.results.values()),
        "detections": sum(r.dt_count for r in result.results.values()),
        "recall_points": [round(float(v), 2) for v in metrics.RECALL_POINTS],
        "overall": _block(result, None, threshold, sweep),
        "per_class": [_block(result, name, threshold, sweep) for name in result.classes],
        "sequences": metrics.sequence_metrics(_sequence_frames(judged, result, threshold)),
    }


def _store_run(
    session: Session,
    *,
    principal: Principal,
    project: Project,
    request: EvaluationCreate,
    model: ModelRef,
    body: dict[str, Any],
    judged: _Judged,
    result: metrics.Evaluation,
) -> EvaluationRun:
    """Store the run with its metrics (`body` gets its id and time) and per-box outcomes."""
    run = EvaluationRun(
        id=uuid.uuid4(),
        project_id=project.id,
        model_name=model.name,
        model_version=model.version or "",
        parameters=request.model_dump(mode="json"),
        created_by_id=principal.user_id if principal.via != "local" else None,
    )
    body["id"] = str(run.id)
    body["created_at"] = utcnow().isoformat()
    run.metrics = body
    session.add(run)
    session.flush()
    _store_outcomes(session, run.id, result, judged.refs, request.confidence_threshold)
    session.commit()
    return run


def evaluate_model(
    session: Session, *, principal: Principal, request: EvaluationCreate
) -> tuple[dict[str, Any], EvaluationRun | None]:
    """Compute the metrics (and store them with per-box outcomes unless told not to)."""
    from lookout.evaluation import metrics

    project, selection, model = _selection(session, principal, request)
    wanted = set(selection.classes)
    judged = _Judged()
    for frames in iter_groups(session, scope_for(selection, model)):
        _judge_group(judged, frames, request, wanted)
    _refuse_empty(judged, selection, model)
    result = metrics.evaluate(
        judged.inputs,
        iou_threshold=request.iou_threshold,
        classes=sorted(wanted) if wanted and not request.class_agnostic else None,
    )
    body = _body(project, selection, model, request, judged, result)
    if not request.store:
        return body, None
    run = _store_run(
        session,
        principal=principal,
        project=project,
        request=request,
        model=model,
        body=body,
        judged=judged,
        result=result,
    )
    return body, run


def _block(
    result: metrics.Evaluation, name: str | None, threshold: float, sweep: list[float]
) -> dict[str, Any]:
    """Metrics of one class (or overall, name None)."""
    import numpy as np

    counts = result.counts(threshold, name)
    best = result.best_f1(name)
    block: dict[str, Any] = {}
    if name is None:
        block.update(ap50=result.ap50(), ap=result.ap())
        found = [r for r in result.results.values() if r.has_truth]
        at_iou = [float(np.mean(r.precision[result.iou_index])) for r in found]
        block["ap_at_iou_threshold"] = float(np.mean(at_iou)) if at_iou else None
    else:
        r = result.results[name]
        block.update(class_name=name, truth_boxes=r.gt_count, detections=r.dt_count)
        block.update(ap50=r.ap(0), ap=r.ap(), ap_at_iou_threshold=r.ap(result.iou_index))
    block.update(counts.as_dict())
    block["best_f1"] = best.as_dict() if best else None
    block["pr_curve"] = result.pr_curve(name)
    block["sweep"] = [c.as_dict() for c in result.sweep(sweep, name)]
    return block


def _store_outcomes(
    session: Session,
    evaluation_id: uuid.UUID,
    result: metrics.Evaluation,
    refs: list[_ImageRef],
    threshold: float,
) -> None:
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for i, ref in enumerate(refs):
        for item in result.image_outcomes(i, threshold):
            if item["dt"] is not None:
                box = ref.predictions[item["dt"]]
                track = ref.truth[item["gt"]].track_id if item["gt"] is not None else None
            else:
                box = ref.truth[item["gt"]]
                track = box.track_id
            x1, y1, x2, y2 = box.xyxyn
            rows.append(
                {
                    "evaluation_id": evaluation_id,
                    "image_id": ref.image_id,
                    "sequence_id": ref.sequence_id,
                    "prediction_id": box.prediction_id,
                    "track_id": track,
                    "outcome": item["outcome"],
                    "class_name": item["class_name"],
                    "confidence": item["confidence"],
                    "iou": item["iou"],
                    "x1": x1,
                    "y1": y1,
                    "x2": x2,
                    "y2": y2,
                    "created_at": now,
                }
            )
            if len(rows) >= _INSERT_BATCH:
                session.execute(sa.insert(EvaluationOutcome), rows)
                rows = []
    if rows:
        session.execute(sa.insert(EvaluationOutcome), rows)


def visible_evaluations(principal: Principal) -> sa.Select[EvaluationRun]:
    """Evaluations of projects the caller may see; every read starts here."""
    return (
        sa.select(EvaluationRun)
        .join(Project, Project.id == EvaluationRun.project_id)
        .where(principal.scope.clause(Project.group_id))
    )


def get_evaluation(
    session: Session, *, principal: Principal, evaluation_id: uuid.UUID
) -> EvaluationRun:
    run = session.scalar(visible_evaluations(principal).where(EvaluationRun.id == evaluation_id))
    if run is None:
        raise NotFound(f"evaluation {evaluation_id} not found")
    return run


def list_evaluations(
    session: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID | None = None,
    model_name: str | None = None,
    limit: int = 100,
) -> list[EvaluationRun]:
    query = visible_evaluations(principal)
    if project_id is not None:
        query = query.where(EvaluationRun.project_id == project_id)
    if model_name is not None:
        query = query.where(EvaluationRun.model_name == model_name)
    query = query.order_by(EvaluationRun.created_at.desc(), EvaluationRun.id).limit(limit)
    return list(session.scalars(query))


def compare(
    session: Session, *, principal: Principal, evaluation_ids: list[uuid.UUID]
) -> list[EvaluationRun]:
    """Several evaluations in the order asked (each must be visible)."""
    return [get_evaluation(session, principal=principal, evaluation_id=i) for i in evaluation_ids]


def list_outcomes(
    session: Session,
    *,
    principal: Principal,
    evaluation_id: uuid.UUID,
    outcome: str | None = None,
    class_name: str | None = None,
    image_id: uuid.UUID | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[EvaluationOutcome], int]:
    """Judged boxes of an evaluation, e.g. only its misses (fn) or false alarms (fp)."""
    run = get_evaluation(session, principal=principal, evaluation_id=evaluation_id)
    if outcome is not None and outcome not in Outcome.ALL:
        raise InvalidInput(f"outcome: use one of {', '.join(Outcome.ALL)}", field="outcome")
    query = sa.select(EvaluationOutcome).where(EvaluationOutcome.evaluation_id == run.id)
    if outcome:
        query = query.where(EvaluationOutcome.outcome == outcome)
    if class_name:
        query = query.where(EvaluationOutcome.class_name == class_name)
    if image_id:
        query = query.where(EvaluationOutcome.image_id == image_id)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    order = (
        EvaluationOutcome.confidence.desc().nulls_last(),
        EvaluationOutcome.id,
    )
    rows = list(session.scalars(query.order_by(*order).limit(limit).offset(offset)))
    return rows, int(total)


def delete_evaluation(session: Session, *, principal: Principal, evaluation_id: uuid.UUID) -> None:
    run = get_evaluation(session, principal=principal, evaluation_id=evaluation_id)
    session.execute(sa.delete(EvaluationOutcome).where(EvaluationOutcome.evaluation_id == run.id))
    session.delete(run)
    session.commit()


def list_models(
    session: Session, *, principal: Principal, project_id: uuid.UUID
) -> list[tuple[str, str, int]]:
    """Models with completed analyses in a project: (name, version, images analyzed)."""
    project = projects.get_project(session, principal=principal, project_id=project_id)
    query = (
        sa.select(
            Analysis.model_name,
            Analysis.model_version,
            sa.func.count(sa.distinct(Analysis.image_id)),
        )
        .join(Image, Image.id == Analysis.image_id)
        .where(
            Image.project_id == project.id,
            live_image(),
            Analysis.status == AnalysisStatus.COMPLETED,
        )
        .group_by(Analysis.model_name, Analysis.model_version)
        .order_by(Analysis.model_name, Analysis.model_version)
    )
    return [(name, version, int(count)) for name, version, count in session.execute(query)]
