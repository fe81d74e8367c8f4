"""Reading a project's frames with their reviewed boxes and a model's boxes.

Frames are read a page of sequences at a time (keyset paging), each page with its frames,
reviews and model boxes in three queries, and handed on one sequence at a time, so memory does
not grow with the project. Exports and evaluations read the project through `iter_groups`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.analyses.models import Analysis, AnalysisStatus, Prediction
from lookout.db import AnySelect
from lookout.errors import InvalidInput
from lookout.geometry import sanitize_xyxyn
from lookout.images.models import Image
from lookout.images.repository import live_image
from lookout.sequences.models import Camera, Sequence, SequenceReview
from lookout.truth.selection import ModelRef, Selection

SEQUENCE_PAGE = 100
IMAGE_PAGE = 500
_IN_CHUNK = 900  # bound parameters per IN (SQLite allows 999 in old builds)

Xyxy = tuple[float, float, float, float]


@dataclass(frozen=True)
class ImageInfo:
    """The image row's fields an export or an evaluation needs."""

    id: uuid.UUID
    object_key: str
    filename: str | None
    content_type: str
    width: int
    height: int
    sha256: str
    captured_at: datetime | None
    created_at: datetime
    source: str | None = None  # where the picture came from (e.g. a platform detection)
    source_id: str | None = None
    metadata: dict[str, Any] | None = None  # free-form key/value metadata (VISTA's)

    @property
    def extension(self) -> str:
        """The stored object's suffix (`.jpg` when it has none)."""
        suffix = PurePosixPath(self.object_key).suffix
        return suffix if suffix else ".jpg"


@dataclass(frozen=True)
class SequenceInfo:
    """The sequence row's fields an export needs."""

    id: uuid.UUID
    source: str
    source_id: str
    camera_id: uuid.UUID | None
    camera_name: str | None
    started_at: datetime


@dataclass(frozen=True)
class Box:
    """A reviewed smoke box or a model's box, normalized xyxy."""

    class_name: str
    xyxyn: Xyxy
    confidence: float | None = None
    track_id: int | None = None
    prediction_id: uuid.UUID | None = None


@dataclass(frozen=True)
class FalsePositive:
    """A reviewed box that is not smoke, with the reviewer's types."""

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
class TruthScope:
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
    changed_since: datetime | None = None


def scope_for(selection: Selection, model: ModelRef | None) -> TruthScope:
    """The scope of a selection, with its model's version resolved (`resolve_model`)."""
    return TruthScope(
        project_id=selection.project_id,
        require_review=selection.model is None or selection.review_stages is not None,
        stages=selection.review_stages,
        camera_id=selection.camera_id,
        date_from=selection.date_from,
        date_to=selection.date_to,
        class_from=selection.class_from,
        model=model,
        min_confidence=selection.min_confidence,
        changed_since=selection.changed_since,
    )


# --- Checking a selection ------------------------------------------------------------------


def _model_versions(session: Session, project_id: uuid.UUID, name: str) -> list[str]:
    """Versions of a model with completed analyses in a project, in order."""
    query = (
        sa.select(Analysis.model_version, sa.func.count())
        .join(Image, Image.id == Analysis.image_id)
        .where(
            Image.project_id == project_id,
            live_image(),
            Analysis.model_name == name,
            Analysis.status == AnalysisStatus.COMPLETED,
        )
        .group_by(Analysis.model_version)
        .order_by(Analysis.model_version)
    )
    return [row[0] for row in session.execute(query)]


def resolve_model(session: Session, *, project_id: uuid.UUID, model: ModelRef) -> ModelRef:
    """The model with its version: the one given, or the only one with completed analyses."""
    versions = _model_versions(session, project_id, model.name)
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


def check_camera(session: Session, *, project_id: uuid.UUID, camera_id: uuid.UUID | None) -> None:
    """A camera filter must name a camera of the project."""
    if camera_id is None:
        return
    camera = session.get(Camera, camera_id)
    if camera is None or camera.project_id != project_id:
        raise InvalidInput(
            f"camera_id: camera {camera_id} is not in this project", field="camera_id"
        )


# --- Queries -------------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _sequence_query(scope: TruthScope) -> AnySelect:
    """Sequences in scope with their review's stage and tracks (outer join without a filter)."""
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
        .where(Sequence.project_id == scope.project_id, Sequence.deleted_at.is_(None))
    )
    if scope.require_review or scope.stages or scope.changed_since:
        query = query.join(SequenceReview, SequenceReview.sequence_id == Sequence.id)
    else:
        query = query.outerjoin(SequenceReview, SequenceReview.sequence_id == Sequence.id)
    if scope.stages:
        # Reviews waiting for a second opinion are truth of no kind until resolved.
        query = query.where(
            SequenceReview.processing_stage.in_(scope.stages), SequenceReview.is_unsure.is_(False)
        )
    if scope.camera_id:
        query = query.where(Sequence.camera_id == scope.camera_id)
    if scope.date_from:
        query = query.where(Sequence.started_at >= _day_start(scope.date_from))
    if scope.date_to:
        query = query.where(Sequence.started_at < _day_start(scope.date_to + timedelta(days=1)))
    if scope.changed_since:
        query = query.where(SequenceReview.updated_at >= scope.changed_since)
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
    Image.source,
    Image.source_id,
    Image.metadata_json,
)


def _loose_image_query(scope: TruthScope) -> AnySelect | None:
    """Images outside any sequence: only for a model's boxes with no review or camera filter."""
    if scope.require_review or scope.stages or scope.camera_id or scope.model is None:
        return None
    if scope.changed_since:  # a loose image has no review to have changed
        return None
    query = sa.select(*_IMAGE_COLUMNS).where(
        Image.project_id == scope.project_id,
        Image.sequence_id.is_(None),
        Image.deleted_at.is_(None),  # not in the trash
    )
    when = sa.func.coalesce(Image.captured_at, Image.created_at)
    if scope.date_from:
        query = query.where(when >= _day_start(scope.date_from))
    if scope.date_to:
        query = query.where(when < _day_start(scope.date_to + timedelta(days=1)))
    return query


def _image_info(row: Any) -> ImageInfo:
    return ImageInfo(*row[: len(_IMAGE_COLUMNS)])


def count_candidates(session: Session, scope: TruthScope) -> int:
    """Frames `iter_groups` will look at (an upper bound of what an export holds)."""
    ids = _sequence_query(scope).with_only_columns(Sequence.id).subquery()
    total = session.scalar(
        sa.select(sa.func.count(Image.id)).where(
            Image.sequence_id.in_(sa.select(ids.c.id)), Image.deleted_at.is_(None)
        )
    )
    loose = _loose_image_query(scope)
    if loose is not None:
        total = (total or 0) + (
            session.scalar(sa.select(sa.func.count()).select_from(loose.subquery())) or 0
        )
    return int(total or 0)


# --- Boxes ---------------------------------------------------------------------------------


def _track_class(track: dict[str, Any], class_from: str) -> str:
    """A reviewed smoke track's class: `smoke`, or its smoke type when asked and known."""
    if class_from == "smoke_type" and track.get("smoke_type"):
        return str(track["smoke_type"])
    return "smoke"


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
        class_name = _track_class(track, class_from)
        types = tuple(str(t) for t in track.get("false_positive_types") or [])
        for box in track.get("boxes") or []:
            xyxy = sanitize_xyxyn(box.get("xyxyn")) if isinstance(box, dict) else None
            if xyxy is None:
                continue
            frame_id = str(box.get("frame_id"))
            if is_smoke:
                smoke[frame_id].append(
                    Box(class_name, xyxy, confidence=box.get("confidence"), track_id=track_id)
                )
            else:
                false[frame_id].append(FalsePositive(types, xyxy, track_id))
    return smoke, false


def _latest_analyses(
    session: Session, image_ids: list[uuid.UUID], model: ModelRef
) -> dict[uuid.UUID, uuid.UUID]:
    """Each image's latest completed analysis by the model: image id to analysis id."""
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
    return latest


_BOX_COLUMNS = (
    Prediction.analysis_id,
    Prediction.id,
    Prediction.class_name,
    Prediction.confidence,
    Prediction.x1,
    Prediction.y1,
    Prediction.x2,
    Prediction.y2,
)


def _analysis_boxes(
    session: Session, analysis_ids: list[uuid.UUID], min_confidence: float | None
) -> dict[uuid.UUID, list[Box]]:
    """Bounding boxes of analyses (at least `min_confidence`), by analysis id, in posted order."""
    boxes: dict[uuid.UUID, list[Box]] = defaultdict(list)
    for chunk in _chunks(analysis_ids):
        query = (
            sa.select(*_BOX_COLUMNS)
            .where(
                Prediction.analysis_id.in_(chunk),
                Prediction.annotation_type == "bounding_box",
                Prediction.x1.is_not(None),
            )
            .order_by(Prediction.analysis_id, Prediction.created_at, Prediction.id)
        )
        for analysis_id, pid, name, conf, x1, y1, x2, y2 in session.execute(query):
            if min_confidence is not None and conf is not None and conf < min_confidence:
                continue
            if x1 is None or y1 is None or x2 is None or y2 is None:
                continue  # a box with a missing side is no box
            xyxy = sanitize_xyxyn((x1, y1, x2, y2))
            if xyxy is not None:
                boxes[analysis_id].append(Box(name, xyxy, confidence=conf, prediction_id=pid))
    return boxes


def _attach_model(session: Session, frames: list[Frame], scope: TruthScope) -> None:
    """Set each frame's analysis and predictions (frames the model did not analyze keep None)."""
    if scope.model is None or not frames:
        return
    latest = _latest_analyses(session, [f.image.id for f in frames], scope.model)
    boxes = _analysis_boxes(session, list(latest.values()), scope.min_confidence)
    for frame in frames:
        analysis_id = latest.get(frame.image.id)
        if analysis_id is not None:
            frame.analysis_id, frame.predictions = analysis_id, boxes.get(analysis_id, [])


# --- Frames --------------------------------------------------------------------------------


def iter_groups(
    session: Session, scope: TruthScope, page: int = SEQUENCE_PAGE
) -> Iterator[list[Frame]]:
    """Frames one sequence at a time (frames in time order), then loose images one by one.

    Each page is read in its own short transaction (the session is committed after each page,
    so pass a session without pending changes): exports can take long, and on SQLite every
    transaction holds the write lock.
    """
    yield from _sequence_pages(session, scope, page)
    yield from _loose_pages(session, scope)


def _sequence_pages(session: Session, scope: TruthScope, page: int) -> Iterator[list[Frame]]:
    """Sequences in scope, a page at a time, each as the list of its frames."""
    key = (Sequence.started_at, Sequence.id)
    for rows in _keyset_pages(session, _sequence_query(scope), key, (5, 0), page):
        groups = list(_sequence_groups(session, rows, scope))
        session.commit()  # end the read transaction: on SQLite it holds the write lock
        yield from groups


def _loose_pages(session: Session, scope: TruthScope) -> Iterator[list[Frame]]:
    """Images outside sequences (when the scope takes them), each as a group of one."""
    loose = _loose_image_query(scope)
    if loose is None:
        return
    key = (Image.created_at, Image.id)
    for rows in _keyset_pages(session, loose, key, (8, 0), IMAGE_PAGE):
        frames = [Frame(image=_image_info(row), sequence=None, index=None) for row in rows]
        _attach_model(session, frames, scope)
        session.commit()
        for frame in frames:
            yield [frame]


def _keyset_pages(
    session: Session,
    query: AnySelect,
    key: tuple[Any, Any],
    key_at: tuple[int, int],
    page: int,
) -> Iterator[list[Any]]:
    """`query`'s rows in pages ordered by the two `key` columns, each page after the last
    one's key (read from each row at positions `key_at`): no OFFSET, so every page costs
    the same however far along."""
    last: tuple[Any, Any] | None = None
    while True:
        paged = query if last is None else query.where(sa.tuple_(*key) > sa.tuple_(*last))
        rows = list(session.execute(paged.order_by(*key).limit(page)))
        if not rows:
            return
        last = (rows[-1][key_at[0]], rows[-1][key_at[1]])
        yield rows


def _frames_of(session: Session, rows: list[Any]) -> dict[uuid.UUID, list[Frame]]:
    """The frames of a page of sequences, by sequence id, each sequence's in time order."""
    by_sequence: dict[uuid.UUID, list[Frame]] = {row[0]: [] for row in rows}
    infos = {row[0]: SequenceInfo(*row[:6]) for row in rows}
    for chunk in _chunks(list(by_sequence)):
        query = (
            sa.select(*_IMAGE_COLUMNS, Image.sequence_id)
            .where(Image.sequence_id.in_(chunk), Image.deleted_at.is_(None))
            .order_by(
                Image.sequence_id, Image.captured_at.asc().nulls_last(), Image.created_at, Image.id
            )
        )
        for row in session.execute(query):
            sequence_id = row.sequence_id  # the last column (by name: typed past 10 columns)
            assert sequence_id is not None  # the query keeps frames of these sequences only
            frames = by_sequence[sequence_id]
            frames.append(
                Frame(image=_image_info(row), sequence=infos[sequence_id], index=len(frames))
            )
    return by_sequence


def _attach_review(frames: list[Frame], stage: str, tracks: Any, class_from: str) -> None:
    """Set each frame's stage, reviewed smoke boxes and false positives."""
    smoke, false = _review_boxes(tracks, class_from)
    for frame in frames:
        key = str(frame.image.id)
        frame.stage = stage
        frame.truth = smoke.get(key, [])
        frame.false_positives = false.get(key, [])


def _sequence_groups(session: Session, rows: list[Any], scope: TruthScope) -> Iterator[list[Frame]]:
    """The frames of each sequence of a page, with review and model boxes attached."""
    by_sequence = _frames_of(session, rows)
    _attach_model(session, [f for frames in by_sequence.values() for f in frames], scope)
    for row in rows:
        frames = by_sequence[row[0]]
        stage, tracks = row[6], row[7]
        if stage is not None:
            _attach_review(frames, stage, tracks, scope.class_from)
        if frames:
            yield frames


# --- Classes -------------------------------------------------------------------------------


def _review_classes(session: Session, scope: TruthScope) -> list[str]:
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


def _model_classes(session: Session, scope: TruthScope, model: ModelRef) -> list[str]:
    """Class names of the model's boxes in the project (at least the scope's confidence)."""
    query = (
        sa.select(Prediction.class_name)
        .join(Analysis, Analysis.id == Prediction.analysis_id)
        .join(Image, Image.id == Analysis.image_id)
        .where(
            Image.project_id == scope.project_id,
            live_image(),
            Analysis.model_name == model.name,
            Analysis.model_version == (model.version or ""),
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


def classes_in_scope(session: Session, scope: TruthScope) -> list[str]:
    """Class names found in scope: the reviews' (no model) or the model's boxes'."""
    if scope.model is None:
        return _review_classes(session, scope)
    return _model_classes(session, scope, scope.model)
