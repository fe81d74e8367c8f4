"""Selecting frames and boxes from a project, and writing them out as a dataset.

Frames are read a page of sequences at a time (keyset paging), each page with its frames,
reviews and model boxes in three queries, and handed on one sequence at a time, so memory does
not grow with the project. Exports and evaluations read the project through `iter_groups`.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.analyses.models import Analysis, AnalysisStatus, Prediction
from lookout.auth.principal import Principal
from lookout.db import AnySelect
from lookout.errors import InvalidInput
from lookout.exports import formats
from lookout.exports.schemas import (
    SPLITS,
    ExportOptions,
    ExportSummary,
    ModelRef,
    Selection,
)
from lookout.exports.sinks import Sink
from lookout.geometry import sanitize_xyxyn
from lookout.images.models import Image
from lookout.projects import service as projects
from lookout.sequences.models import Camera, Sequence, SequenceReview
from lookout.storage import ObjectNotFound, ObjectStorage

log = logging.getLogger(__name__)

SEQUENCE_PAGE = 100
IMAGE_PAGE = 500
_IN_CHUNK = 900  # bound parameters per IN (SQLite allows 999 in old builds)

Xyxy = tuple[float, float, float, float]


@dataclass(frozen=True)
class ImageInfo:
    id: uuid.UUID
    object_key: str
    filename: str | None
    content_type: str
    width: int
    height: int
    sha256: str
    captured_at: datetime | None
    created_at: datetime

    @property
    def extension(self) -> str:
        suffix = PurePosixPath(self.object_key).suffix
        return suffix if suffix else ".jpg"


@dataclass(frozen=True)
class SequenceInfo:
    id: uuid.UUID
    source: str
    source_id: str
    camera_id: uuid.UUID | None
    camera_name: str | None
    started_at: datetime


@dataclass(frozen=True)
class Box:
    class_name: str
    xyxyn: Xyxy
    confidence: float | None = None
    track_id: int | None = None
    prediction_id: uuid.UUID | None = None


@dataclass(frozen=True)
class FalsePositive:
    types: tuple[str, ...]
    xyxyn: Xyxy
    track_id: int


@dataclass
class Frame:
    """One image with what the review and the model say about it."""

    image: ImageInfo
    sequence: SequenceInfo | None
    index: int | None  # position in its sequence, from 0
    stage: str | None = None
    truth: list[Box] | None = None  # None: no review in scope
    false_positives: list[FalsePositive] = field(default_factory=list)
    predictions: list[Box] | None = None  # None: the model did not analyze this image
    analysis_id: uuid.UUID | None = None

    @property
    def group_key(self) -> str:
        """Frames of one sequence stay together (splits, sequence metrics)."""
        return str(self.sequence.id if self.sequence else self.image.id)


@dataclass(frozen=True)
class Scope:
    """What `iter_groups` reads: a resolved selection."""

    project_id: uuid.UUID
    require_review: bool
    stages: tuple[str, ...] | None
    camera_id: uuid.UUID | None
    date_from: date | None
    date_to: date | None
    class_from: str
    model: ModelRef | None  # with its version resolved
    min_confidence: float | None = None


# --- Reading -------------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def resolve_model(session: Session, *, project_id: uuid.UUID, model: ModelRef) -> ModelRef:
    """The model with its version: the one given, or the only one with completed analyses."""
    query = (
        sa.select(Analysis.model_version, sa.func.count())
        .join(Image, Image.id == Analysis.image_id)
        .where(
            Image.project_id == project_id,
            Analysis.model_name == model.name,
            Analysis.status == AnalysisStatus.COMPLETED,
        )
        .group_by(Analysis.model_version)
        .order_by(Analysis.model_version)
    )
    versions = [row[0] for row in session.execute(query)]
    if not versions:
        raise InvalidInput(
            f"model: {model.name!r} has no completed analyses in this project", field="model"
        )
    if model.version is not None:
        if model.version not in versions:
            shown = ", ".join(repr(v) for v in versions)
            raise InvalidInput(
                f"model: {model.name!r} has no completed analyses with version "
                f"{model.version!r} in this project (versions: {shown})",
                field="model",
            )
        return model
    if len(versions) > 1:
        shown = ", ".join(f"{model.name}@{v}" for v in versions)
        raise InvalidInput(
            f"model: {model.name!r} has several versions in this project; name one: {shown}",
            field="model",
        )
    return ModelRef(model.name, versions[0])


def _sequence_query(scope: Scope) -> AnySelect:
    query = (
        sa.select(
            Sequence.id,
            Sequence.source,
            Sequence.source_id,
            Sequence.camera_id,
            Camera.name,
            Sequence.started_at,
            SequenceReview.processing_stage,
            SequenceReview.tracks,
        )
        .outerjoin(Camera, Camera.id == Sequence.camera_id)
        .where(Sequence.project_id == scope.project_id)
    )
    if scope.require_review or scope.stages:
        query = query.join(SequenceReview, SequenceReview.sequence_id == Sequence.id)
    else:
        query = query.outerjoin(SequenceReview, SequenceReview.sequence_id == Sequence.id)
    if scope.stages:
        query = query.where(SequenceReview.processing_stage.in_(scope.stages))
    if scope.camera_id:
        query = query.where(Sequence.camera_id == scope.camera_id)
    if scope.date_from:
        query = query.where(Sequence.started_at >= _day_start(scope.date_from))
    if scope.date_to:
        query = query.where(Sequence.started_at < _day_start(scope.date_to + timedelta(days=1)))
    return query


def _loose_image_query(scope: Scope) -> AnySelect | None:
    """Images outside any sequence: only for a model's boxes with no review or camera filter."""
    if scope.require_review or scope.stages or scope.camera_id or scope.model is None:
        return None
    query = sa.select(*_IMAGE_COLUMNS).where(
        Image.project_id == scope.project_id, Image.sequence_id.is_(None)
    )
    when = sa.func.coalesce(Image.captured_at, Image.created_at)
    if scope.date_from:
        query = query.where(when >= _day_start(scope.date_from))
    if scope.date_to:
        query = query.where(when < _day_start(scope.date_to + timedelta(days=1)))
    return query


_IMAGE_COLUMNS = (
    Image.id,
    Image.object_key,
    Image.filename,
    Image.content_type,
    Image.width,
    Image.height,
    Image.sha256,
    Image.captured_at,
    Image.created_at,
)


def _image_info(row: Any) -> ImageInfo:
    return ImageInfo(*row[: len(_IMAGE_COLUMNS)])


def count_candidates(session: Session, scope: Scope) -> int:
    """Frames `iter_groups` will look at (an upper bound of what an export holds)."""
    ids = _sequence_query(scope).with_only_columns(Sequence.id).subquery()
    total = session.scalar(
        sa.select(sa.func.count(Image.id)).where(Image.sequence_id.in_(sa.select(ids.c.id)))
    )
    loose = _loose_image_query(scope)
    if loose is not None:
        total = (total or 0) + (
            session.scalar(sa.select(sa.func.count()).select_from(loose.subquery())) or 0
        )
    return int(total or 0)


def _review_boxes(
    tracks: list[Any] | None, class_from: str
) -> tuple[dict[str, list[Box]], dict[str, list[FalsePositive]]]:
    """Smoke boxes and false-positive boxes of a review, by frame id (as a string)."""
    smoke: dict[str, list[Box]] = defaultdict(list)
    false: dict[str, list[FalsePositive]] = defaultdict(list)
    for track_id, track in enumerate(tracks or []):
        if not isinstance(track, dict):
            continue
        is_smoke = bool(track.get("is_smoke", True))
        class_name = "smoke"
        if class_from == "smoke_type" and track.get("smoke_type"):
            class_name = str(track["smoke_type"])
        types = tuple(str(t) for t in track.get("false_positive_types") or [])
        for box in track.get("boxes") or []:
            if not isinstance(box, dict):
                continue
            xyxy = sanitize_xyxyn(box.get("xyxyn"))
            frame_id = str(box.get("frame_id"))
            if xyxy is None:
                continue
            if is_smoke:
                smoke[frame_id].append(
                    Box(class_name, xyxy, confidence=box.get("confidence"), track_id=track_id)
                )
            else:
                false[frame_id].append(FalsePositive(types, xyxy, track_id))
    return smoke, false


def _model_boxes(
    session: Session, image_ids: list[uuid.UUID], model: ModelRef, min_confidence: float | None
) -> dict[uuid.UUID, tuple[uuid.UUID, list[Box]]]:
    """Each image's latest completed analysis by the model, with its bounding boxes."""
    latest: dict[uuid.UUID, uuid.UUID] = {}
    for chunk in _chunks(image_ids):
        query = (
            sa.select(Analysis.image_id, Analysis.id)
            .where(
                Analysis.image_id.in_(chunk),
                Analysis.model_name == model.name,
                Analysis.model_version == (model.version or ""),
                Analysis.status == AnalysisStatus.COMPLETED,
            )
            .order_by(Analysis.created_at, Analysis.id)
        )
        for image_id, analysis_id in session.execute(query):
            latest[image_id] = analysis_id
    boxes: dict[uuid.UUID, list[Box]] = defaultdict(list)
    analysis_ids = list(latest.values())
    for chunk in _chunks(analysis_ids):
        box_query = (
            sa.select(
                Prediction.analysis_id,
                Prediction.id,
                Prediction.class_name,
                Prediction.confidence,
                Prediction.x1,
                Prediction.y1,
                Prediction.x2,
                Prediction.y2,
            )
            .where(
                Prediction.analysis_id.in_(chunk),
                Prediction.annotation_type == "bounding_box",
                Prediction.x1.is_not(None),
            )
            .order_by(Prediction.analysis_id, Prediction.created_at, Prediction.id)
        )
        for analysis_id, pid, name, conf, x1, y1, x2, y2 in session.execute(box_query):
            if min_confidence is not None and conf is not None and conf < min_confidence:
                continue
            if x1 is None or y1 is None or x2 is None or y2 is None:
                continue  # a box with a missing side is no box
            xyxy = sanitize_xyxyn((x1, y1, x2, y2))
            if xyxy is not None:
                boxes[analysis_id].append(Box(name, xyxy, confidence=conf, prediction_id=pid))
    return {image_id: (aid, boxes.get(aid, [])) for image_id, aid in latest.items()}


def _attach_model(session: Session, frames: list[Frame], scope: Scope) -> None:
    if scope.model is None or not frames:
        return
    found = _model_boxes(session, [f.image.id for f in frames], scope.model, scope.min_confidence)
    for frame in frames:
        if frame.image.id in found:
            frame.analysis_id, frame.predictions = found[frame.image.id]


def iter_groups(session: Session, scope: Scope, page: int = SEQUENCE_PAGE) -> Iterator[list[Frame]]:
    """Frames one sequence at a time (frames in time order), then loose images one by one.

    Each page is read in its own short transaction (the session is committed after each page,
    so pass a session without pending changes): exports can take long, and on SQLite every
    transaction holds the write lock.
    """
    base = _sequence_query(scope)
    last: tuple[datetime, uuid.UUID] | None = None
    while True:
        query = base
        if last is not None:
            query = query.where(
                sa.tuple_(Sequence.started_at, Sequence.id) > sa.tuple_(last[0], last[1])
            )
        rows = list(session.execute(query.order_by(Sequence.started_at, Sequence.id).limit(page)))
        if not rows:
            break
        last = (rows[-1][5], rows[-1][0])
        groups = list(_sequence_groups(session, rows, scope))
        session.commit()  # end the read transaction: on SQLite it holds the write lock
        yield from groups
    loose = _loose_image_query(scope)
    if loose is None:
        return
    cursor: tuple[datetime, uuid.UUID] | None = None
    while True:
        query = loose
        if cursor is not None:
            query = query.where(
                sa.tuple_(Image.created_at, Image.id) > sa.tuple_(cursor[0], cursor[1])
            )
        rows = list(session.execute(query.order_by(Image.created_at, Image.id).limit(IMAGE_PAGE)))
        if not rows:
            break
        cursor = (rows[-1][8], rows[-1][0])
        frames = [Frame(image=_image_info(row), sequence=None, index=None) for row in rows]
        _attach_model(session, frames, scope)
        session.commit()
        for frame in frames:
            yield [frame]


def _sequence_groups(session: Session, rows: list[Any], scope: Scope) -> Iterator[list[Frame]]:
    by_sequence: dict[uuid.UUID, list[Frame]] = {row[0]: [] for row in rows}
    infos = {row[0]: SequenceInfo(*row[:6]) for row in rows}
    for chunk in _chunks(list(by_sequence)):
        query = (
            sa.select(*_IMAGE_COLUMNS, Image.sequence_id)
            .where(Image.sequence_id.in_(chunk))
            .order_by(
                Image.sequence_id, Image.captured_at.asc().nulls_last(), Image.created_at, Image.id
            )
        )
        for row in session.execute(query):
            sequence_id = row[-1]
            assert sequence_id is not None  # the query keeps frames of these sequences only
            frames = by_sequence[sequence_id]
            frames.append(
                Frame(image=_image_info(row), sequence=infos[sequence_id], index=len(frames))
            )
    all_frames = [f for frames in by_sequence.values() for f in frames]
    _attach_model(session, all_frames, scope)
    for row in rows:
        frames = by_sequence[row[0]]
        stage, tracks = row[6], row[7]
        if stage is not None:
            smoke, false = _review_boxes(tracks, scope.class_from)
            for frame in frames:
                key = str(frame.image.id)
                frame.stage = stage
                frame.truth = smoke.get(key, [])
                frame.false_positives = false.get(key, [])
        if frames:
            yield frames


def scope_for(selection: Selection, model: ModelRef | None) -> Scope:
    return Scope(
        project_id=selection.project_id,
        require_review=selection.model is None or selection.review_stages is not None,
        stages=selection.review_stages,
        camera_id=selection.camera_id,
        date_from=selection.date_from,
        date_to=selection.date_to,
        class_from=selection.class_from,
        model=model,
        min_confidence=selection.min_confidence,
    )


# --- Planning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportPlan:
    selection: Selection
    scope: Scope
    project_name: str
    classes: list[str]
    candidates: int


def _review_classes(session: Session, scope: Scope) -> list[str]:
    """Class names the reviews in scope use (smoke, or the smoke types seen)."""
    if scope.class_from == "smoke":
        with_smoke = (
            _sequence_query(scope)
            .with_only_columns(Sequence.id)
            .where(SequenceReview.has_smoke.is_(True))
        )
        return ["smoke"] if session.scalar(sa.select(with_smoke.exists())) else []
    seen: set[str] = set()
    query = _sequence_query(scope).with_only_columns(SequenceReview.tracks)
    for (tracks,) in session.execute(query.execution_options(yield_per=500)):
        smoke, _ = _review_boxes(tracks, scope.class_from)
        seen.update(box.class_name for boxes in smoke.values() for box in boxes)
    return sorted(seen)


def _model_classes(session: Session, scope: Scope) -> list[str]:
    assert scope.model is not None
    query = (
        sa.select(Prediction.class_name)
        .join(Analysis, Analysis.id == Prediction.analysis_id)
        .join(Image, Image.id == Analysis.image_id)
        .where(
            Image.project_id == scope.project_id,
            Analysis.model_name == scope.model.name,
            Analysis.model_version == (scope.model.version or ""),
            Analysis.status == AnalysisStatus.COMPLETED,
            Prediction.annotation_type == "bounding_box",
            Prediction.x1.is_not(None),
        )
        .distinct()
    )
    if scope.min_confidence is not None:
        query = query.where(
            sa.or_(Prediction.confidence.is_(None), Prediction.confidence >= scope.min_confidence)
        )
    return sorted(session.scalars(query))


def check_camera(session: Session, *, project_id: uuid.UUID, camera_id: uuid.UUID | None) -> None:
    if camera_id is None:
        return
    camera = session.get(Camera, camera_id)
    if camera is None or camera.project_id != project_id:
        raise InvalidInput(
            f"camera_id: camera {camera_id} is not in this project", field="camera_id"
        )


def plan_export(session: Session, *, principal: Principal, selection: Selection) -> ExportPlan:
    """Check access and the selection; refuse an empty one before anything is written."""
    project = projects.get_project(session, principal=principal, project_id=selection.project_id)
    check_camera(session, project_id=project.id, camera_id=selection.camera_id)
    model = None
    if selection.model is not None:
        model = resolve_model(session, project_id=project.id, model=selection.model)
    scope = scope_for(selection, model)
    candidates = count_candidates(session, scope)
    if candidates == 0:
        raise InvalidInput(f"the selection is empty: {describe(selection)}", field="selection")
    found = _review_classes(session, scope) if model is None else _model_classes(session, scope)
    classes = list(selection.classes) if selection.classes else found
    if not selection.include_negatives and not set(classes) & set(found):
        wanted = f" of class {', '.join(selection.classes)}" if selection.classes else ""
        raise InvalidInput(
            f"the selection is empty: no boxes{wanted} in {describe(selection)} "
            "(ask for negatives to export frames without boxes)",
            field="selection",
        )
    return ExportPlan(selection, scope, project.name, classes, candidates)


def describe(selection: Selection) -> str:
    """The selection in words, for messages."""
    parts = [f"source {selection.source_label}"]
    stages = selection.review_stages
    parts.append(f"stage {' or '.join(stages)}" if stages else "any stage")
    if selection.date_from or selection.date_to:
        parts.append(f"dates {selection.date_from or '…'} to {selection.date_to or '…'}")
    if selection.camera_id:
        parts.append(f"camera {selection.camera_id}")
    return ", ".join(parts)


# --- Writing -------------------------------------------------------------------------------


def split_of(group_key: str, seed: int, ratios: tuple[float, float, float]) -> str:
    """train, val or test for a sequence: a seeded hash, so it is stable and needs no memory."""
    digest = hashlib.sha256(f"{seed}:{group_key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    cumulative = 0.0
    for name, ratio in zip(SPLITS, ratios, strict=True):
        cumulative += ratio
        if point < cumulative:
            return name
    return next(name for name, ratio in reversed(list(zip(SPLITS, ratios, strict=True))) if ratio)


def export_items(plan: ExportPlan, frames: list[Frame]) -> Iterator[tuple[Frame, list[Box], bool]]:
    """(frame, boxes, negative) for the frames of a group that belong in the export."""
    selection = plan.selection
    wanted = set(plan.classes)
    for frame in frames:
        source = frame.truth if selection.model is None else frame.predictions
        if source is None:
            continue
        boxes = [b for b in source if b.class_name in wanted]
        if boxes:
            yield frame, boxes, False
        elif selection.include_negatives:
            yield frame, [], True


def image_url(base_url: str | None, image_id: uuid.UUID) -> str | None:
    return f"{base_url.rstrip('/')}/api/images/{image_id}/content" if base_url else None


def write_export(
    session: Session,
    storage: ObjectStorage,
    *,
    plan: ExportPlan,
    options: ExportOptions,
    sink: Sink,
    on_progress: Callable[[int], None] | None = None,
) -> ExportSummary:
    """Write the planned export into `sink`, one sequence at a time."""
    writer = formats.make_writer(
        options.format,
        sink=sink,
        classes=plan.classes,
        options=options,
        info=formats.ExportInfo(
            project_id=str(plan.selection.project_id),
            project_name=plan.project_name,
            source=plan.selection.source_label,
            negatives=plan.selection.include_negatives,
        ),
    )
    counts = {"images": 0, "boxes": 0, "negatives": 0, "skipped": 0}
    splits = dict.fromkeys(SPLITS, 0)
    for group in iter_groups(session, plan.scope):
        split = split_of(group[0].group_key, options.seed, options.split)
        for frame, boxes, negative in export_items(plan, group):
            item = formats.Item(
                frame=frame,
                boxes=boxes,
                negative=negative,
                split=split,
                name=f"{frame.image.id}{frame.image.extension}",
                url=image_url(options.base_url, frame.image.id),
                false_positives=frame.false_positives if plan.selection.include_negatives else [],
            )
            if options.images == "copy":
                try:
                    chunks = storage.iter_chunks(frame.image.object_key)
                except ObjectNotFound:
                    log.warning("image %s is missing from storage: left out", frame.image.id)
                    counts["skipped"] += 1
                    continue
                sink.write_chunks(writer.image_path(item), chunks)
            writer.add(item)
            counts["images"] += 1
            counts["boxes"] += len(boxes)
            counts["negatives"] += int(negative)
            splits[split] += 1
        if on_progress is not None:
            on_progress(len(group))
    writer.finish()
    return ExportSummary(classes=list(plan.classes), splits=splits, **counts)
