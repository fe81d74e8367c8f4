"""Importing datasets (COCO, Ultralytics YOLO, VOC, CSV, JSONL; Lookout's own exports with
what they carry beside the format), as analyses or as reviews.

Two phases. Reading (`lookout.formats.registry.read_dataset`) checks everything first (the
file's shape, dangling image and category ids, boxes outside their image, missing or unreadable
image files, class ids out of range) and raises InvalidInput naming the file, item and field of
the first problem, before anything is stored. Storing (here) then goes image by image through
the images service (object and row together); if it fails part way (storage down, a database
error), what this import created is removed again, so a dataset is imported whole or not at all.

A sequence imported as reviews keeps the split the dataset gives its frames (COCO's `split`
field, the YOLO split folder that lists them): stored on the sequence, so the next export puts
it where it was. A sequence that already has a split keeps it.

Images are recognized by content: an image whose bytes (sha256) are already in the project is
reused, so a tool's predictions on a dataset imported earlier land on the same images, and a
second run of the same import adds nothing.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.analyses import bulk
from lookout.analyses import service as analyses
from lookout.analyses.models import Analysis, AnalysisStatus
from lookout.auth.principal import Principal
from lookout.formats.dataset import Dataset, DatasetBox, DatasetImage, bad
from lookout.images import service as images
from lookout.images.models import Image
from lookout.projects import service as projects
from lookout.sequences import reviews
from lookout.sequences import service as sequences
from lookout.sequences.models import (
    SMOKE_TYPES,
    Camera,
    ProcessingStage,
    Sequence,
    SequenceReview,
)
from lookout.sequences.schemas import ReviewWrite, Track, TrackBox
from lookout.storage import ObjectStorage

log = logging.getLogger(__name__)

IMPORT_AS = ("analysis", "reviews")
REVIEW_CLASSES = ("smoke", *SMOKE_TYPES)
SOURCE = "dataset"


@dataclass
class ImportReport:
    format: str
    images_created: int = 0
    images_reused: int = 0
    analyses: int = 0
    predictions: int = 0
    sequences: int = 0
    reviews: int = 0
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportOptions:
    project_id: uuid.UUID
    import_as: str = "analysis"
    model_name: str | None = None
    model_version: str = ""
    review_stage: str = ProcessingStage.ANNOTATED
    max_pixels: int = 100_000_000

    def __post_init__(self) -> None:
        if self.import_as not in IMPORT_AS:
            raise bad(f"as: use analysis or reviews, not {self.import_as!r}", "as")
        if self.review_stage not in ("ready_to_annotate", "in_review", "annotated", "needs_check"):
            raise bad(f"review_stage: {self.review_stage!r} is not a review stage", "review_stage")
        if self.model_name is not None and not (0 < len(self.model_name.strip()) <= 200):
            raise bad("model_name: 1 to 200 characters", "model_name")


@dataclass
class _Undo:
    images: list[uuid.UUID] = field(default_factory=list)
    analyses: list[uuid.UUID] = field(default_factory=list)
    sequences: list[uuid.UUID] = field(default_factory=list)


def _existing_image(session: Session, project_id: uuid.UUID, sha256: str) -> Image | None:
    query = (
        sa.select(Image)
        .where(Image.project_id == project_id, Image.sha256 == sha256)
        .order_by(Image.created_at, Image.id)
        .limit(1)
    )
    return session.scalar(query)


def import_dataset(
    session: Session,
    storage: ObjectStorage,
    *,
    principal: Principal,
    dataset: Dataset,
    options: ImportOptions,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store a checked dataset in a project; on failure, undo what this import created."""
    if options.import_as == "reviews":
        used = {b.class_name for i in dataset.images for b in i.boxes}
        unknown = sorted(used - set(REVIEW_CLASSES))
        if unknown:
            raise bad(
                f"class {', '.join(unknown)}: reviews hold smoke boxes (classes "
                f"{', '.join(REVIEW_CLASSES)}); import these as an analysis instead",
                "as",
            )
    project = projects.get_project(session, principal=principal, project_id=options.project_id)
    session.commit()
    report = ImportReport(dataset.format)
    undo = _Undo()
    try:
        if options.import_as == "analysis":
            _import_analysis(
                session, storage, principal, project.id, dataset, options, report, undo, on_progress
            )
        else:
            _import_reviews(
                session, storage, principal, project.id, dataset, options, report, undo, on_progress
            )
    except BaseException:
        session.rollback()
        _undo(session, storage, undo)
        raise
    return report


def _undo(session: Session, storage: ObjectStorage, undo: _Undo) -> None:
    """Remove what a failed import created: analyses on reused images, images, sequences."""
    try:
        if undo.analyses:
            session.execute(sa.delete(Analysis).where(Analysis.id.in_(undo.analyses)))
        keys: list[str] = []
        for image_id in undo.images:
            image = session.get(Image, image_id)
            if image is not None:
                keys.extend(k for k in (image.object_key, image.thumbnail_key) if k)
                session.delete(image)
        if undo.sequences:
            session.execute(sa.delete(Sequence).where(Sequence.id.in_(undo.sequences)))
        session.commit()
        for key in keys:
            try:
                storage.delete(key)
            except Exception:
                log.exception("could not remove object %s while undoing an import", key)
    except Exception:
        session.rollback()
        log.exception("could not undo a failed dataset import completely")


def _annotations(image: DatasetImage) -> list[dict[str, Any]]:
    return [
        {
            "annotation_type": "bounding_box",
            "class_name": box.class_name,
            "confidence": box.confidence,
            "data": box.data or {"bbox": list(box.xyxyn), "format": "xyxyn"},
        }
        for box in image.boxes
    ]


def _store(
    session: Session,
    storage: ObjectStorage,
    principal: Principal,
    project_id: uuid.UUID,
    image: DatasetImage,
    options: ImportOptions,
    undo: _Undo,
    sequence_id: uuid.UUID | None = None,
    on_stored: Callable[[Image], None] | None = None,
) -> Image:
    with image.path.open("rb") as stream:
        upload = images.ImageUpload(
            stream=stream,
            # The name the picture had before an export renamed it after its id.
            filename=image.original_filename or Path(image.file_name).name,
            captured_at=image.captured_at,
            sequence_id=sequence_id,
            # The picture's own source ids when the export carried them (a platform frame
            # stays that detection), else ids that make a re-run find it.
            source=image.image_source or SOURCE,
            source_id=image.image_source_id or f"{project_id}:{image.sha256}",
        )
        stored = images.store_image(
            session,
            storage,
            principal=principal,
            project_id=project_id,
            upload=upload,
            max_pixels=options.max_pixels,
            on_stored=on_stored,
        )
    if not stored.existing:
        undo.images.append(stored.image.id)
    return stored.image


def _import_analysis(
    session: Session,
    storage: ObjectStorage,
    principal: Principal,
    project_id: uuid.UUID,
    dataset: Dataset,
    options: ImportOptions,
    report: ImportReport,
    undo: _Undo,
    on_progress: Callable[[int], None] | None,
) -> None:
    model_name = (options.model_name or dataset.name).strip()
    provenance = {"dataset": dataset.name, "format": dataset.format}

    def add_analysis(image: Image, item: DatasetImage) -> None:
        analysis = analyses.create_analysis_row(
            session,
            image=image,
            model_name=model_name,
            model_version=options.model_version,
            status=AnalysisStatus.COMPLETED,
            provenance={**provenance, "file_name": item.file_name},
            created_by_id=principal.user_id if principal.via != "local" else None,
        )
        rows = bulk.insert_annotations(
            session, analysis=analysis, image=image, annotations=_annotations(item)
        )
        undo.analyses.append(analysis.id)
        report.analyses += 1
        report.predictions += len(rows)

    for item in dataset.images:
        existing = _existing_image(session, project_id, item.sha256)
        if existing is None:
            _store(
                session,
                storage,
                principal,
                project_id,
                item,
                options,
                undo,
                on_stored=functools.partial(add_analysis, item=item),
            )
            report.images_created += 1
        else:
            report.images_reused += 1
            already = session.scalar(
                sa.select(Analysis.id)
                .where(
                    Analysis.image_id == existing.id,
                    Analysis.model_name == model_name,
                    Analysis.model_version == options.model_version,
                )
                .limit(1)
            )
            if already is not None:
                report.skipped.append(
                    f"{item.file_name}: already has an analysis of {model_name}"
                    f"@{options.model_version}"
                )
            else:
                add_analysis(existing, item)
                session.commit()
        if on_progress:
            on_progress(1)


def _group_sequences(dataset: Dataset) -> Iterator[tuple[str, list[DatasetImage]]]:
    groups: dict[str, list[DatasetImage]] = defaultdict(list)
    for i, image in enumerate(dataset.images):
        groups[image.sequence_key or f"image:{image.sha256}:{i}"].append(image)
    for key, members in groups.items():
        far = datetime.max.replace(tzinfo=UTC)
        members.sort(
            key=lambda m: (m.captured_at or far, m.frame_index if m.frame_index is not None else 0)
        )
        yield key, members


def _tracks(
    members: list[DatasetImage], frame_ids: dict[int, uuid.UUID], where: str
) -> list[Track]:
    """Boxes to tracks: boxes sharing a track id form one track; others are one-box tracks."""
    grouped: dict[Any, list[tuple[int, Any]]] = defaultdict(list)
    loose: list[tuple[int, Any]] = []
    for position, member in enumerate(members):
        for box in member.boxes:
            key = ("smoke", box.track_id)
            (grouped[key] if box.track_id is not None else loose).append((position, box))
        for fp in member.false_positives:
            key = ("fp", fp.track_id)
            (grouped[key] if fp.track_id is not None else loose).append((position, fp))
    tracks: list[Track] = []
    for entries in [*grouped.values(), *([e] for e in loose)]:
        frames = [position for position, _ in entries]
        if len(frames) != len(set(frames)):
            raise bad(
                f"{where}: track {entries[0][1].track_id} has two boxes on one frame", "track_id"
            )
        first = entries[0][1]
        boxes = [TrackBox(frame_id=frame_ids[p], xyxyn=list(b.xyxyn)) for p, b in entries]
        if isinstance(first, DatasetBox):
            smoke_type = first.class_name if first.class_name in SMOKE_TYPES else None
            tracks.append(Track(decision="smoke", smoke_type=smoke_type, boxes=boxes))
        else:
            tracks.append(
                Track(decision="false_positive", false_positive_types=first.types, boxes=boxes)
            )
    return tracks


def _import_reviews(
    session: Session,
    storage: ObjectStorage,
    principal: Principal,
    project_id: uuid.UUID,
    dataset: Dataset,
    options: ImportOptions,
    report: ImportReport,
    undo: _Undo,
    on_progress: Callable[[int], None] | None,
) -> None:
    for key, members in _group_sequences(dataset):
        started = min((m.captured_at for m in members if m.captured_at), default=None)
        values: dict[str, Any] = {
            "project_id": project_id,
            **_sequence_identity(project_id, dataset.name, key, members[0]),
            "camera_id": _camera_id(session, principal, project_id, members[0].camera_name),
            "started_at": started or datetime.now(UTC),
        }
        if values["source"] == SOURCE:  # never overwrite a platform sequence's own extra
            values["extra"] = {"dataset": dataset.name, "key": key}
        sequence, existed = sequences.get_or_create_sequence(
            session, principal=principal, values=values
        )
        _keep_split(sequence, members)
        current = _review_of(session, sequence.id)
        if not existed:
            undo.sequences.append(sequence.id)
            report.sequences += 1
        elif current is not None and reviews.is_human(current):
            report.skipped.append(f"sequence {key}: already imported and reviewed")
            if on_progress:
                on_progress(len(members))
            continue
        frame_ids: dict[int, uuid.UUID] = {}
        for position, member in enumerate(members):
            existing = _existing_image(session, project_id, member.sha256)
            if existing is not None and existing.sequence_id != sequence.id:
                raise bad(
                    f"{member.file_name}: this image is already in the project (image "
                    f"{existing.id}) outside this dataset's sequence; import as an analysis",
                    "file_name",
                )
            if existing is None:
                existing = _store(
                    session,
                    storage,
                    principal,
                    project_id,
                    member,
                    options,
                    undo,
                    sequence_id=sequence.id,
                )
                report.images_created += 1
            else:
                report.images_reused += 1
            frame_ids[position] = existing.id
        tracks = _tracks(members, frame_ids, f"sequence {key}")
        write = ReviewWrite(
            tracks=tracks,
            processing_stage=options.review_stage,
            version=current.version if current is not None else None,
        )
        reviews.save_review(session, principal=principal, sequence_id=sequence.id, write=write)
        report.reviews += 1
        if on_progress:
            on_progress(len(members))


def _sequence_identity(
    project_id: uuid.UUID, dataset_name: str, key: str, first: DatasetImage
) -> dict[str, str]:
    """The sequence's source and source id: those Lookout's export carried (so the platform's
    ids survive a round trip, and importing an export into its own project finds the
    sequences it came from), else ids derived from the dataset and its sequence key."""
    if first.sequence_source and first.sequence_source_id:
        return {"source": first.sequence_source, "source_id": first.sequence_source_id}
    digest = hashlib.sha256(f"{dataset_name}:{key}".encode()).hexdigest()[:40]
    return {"source": SOURCE, "source_id": f"{project_id}:{digest}"}


def _camera_id(
    session: Session, principal: Principal, project_id: uuid.UUID, name: str | None
) -> uuid.UUID | None:
    """The project's camera of that name (made when missing); exports carry the name only."""
    if name is None:
        return None
    found = session.scalar(
        sa.select(Camera.id)
        .where(Camera.project_id == project_id, Camera.name == name)
        .order_by(Camera.created_at, Camera.id)
        .limit(1)
    )
    if found is not None:
        return found
    values = {"project_id": project_id, "source": SOURCE, "source_id": name, "name": name}
    camera, _ = sequences.get_or_create_camera(session, principal=principal, values=values)
    return camera.id


def _keep_split(sequence: Sequence, members: list[DatasetImage]) -> None:
    """Store the split the dataset gives the sequence's frames (the most common one), unless
    the sequence already has one: stored splits do not move."""
    found = Counter(m.split for m in members if m.split)
    if sequence.split is None and found:
        sequence.split = found.most_common(1)[0][0]


def _review_of(session: Session, sequence_id: uuid.UUID) -> SequenceReview | None:
    return session.scalar(
        sa.select(SequenceReview).where(SequenceReview.sequence_id == sequence_id)
    )
