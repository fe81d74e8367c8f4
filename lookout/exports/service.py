"""Planning an export of a project and writing it out as a dataset.

The frames and boxes come from the reviewed truth (`lookout.truth.reading.iter_groups`), a
sequence at a time; each format's writer (`lookout.formats`) writes them into a sink (a folder
or a zip stream), images copied from storage one at a time, so memory does not grow with the
project.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.auth.principal import Principal
from lookout.classes.models import ImageClass, ImageClassification
from lookout.errors import InvalidInput
from lookout.exports import ids, splits
from lookout.exports.schemas import RESULTS_FORMAT, ExportOptions, ExportSummary
from lookout.formats.registry import make_writer
from lookout.formats.writing import SPLITS, ExportInfo, Item, Sink, Writer
from lookout.projects import service as projects
from lookout.sequences.models import SMOKE_TYPES, ProcessingStage
from lookout.storage import ObjectNotFound, ObjectStorage
from lookout.truth.reading import (
    Box,
    Frame,
    TruthScope,
    check_camera,
    classes_in_scope,
    count_candidates,
    iter_groups,
    resolve_model,
    scope_for,
)
from lookout.truth.selection import Selection, describe

log = logging.getLogger(__name__)


# --- Planning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportPlan:
    """A checked selection: its scope, the classes to write and the frames to look at."""

    selection: Selection
    scope: TruthScope
    project_name: str
    classes: list[str]
    candidates: int
    results: bool = False  # a COCO results file: the model's boxes on the truth file's frames


def results_selection(selection: Selection) -> Selection:
    """A results file's selection: a model's boxes on the frames a truth export would hold
    (reviews in `annotated` unless stages are given)."""
    if selection.model is None:
        raise InvalidInput(
            f"source: {RESULTS_FORMAT} holds a model's boxes; use source model:NAME[@VERSION]",
            field="source",
        )
    if selection.stages_given:
        return selection
    return replace(selection, stages=(ProcessingStage.ANNOTATED,), stages_given=True)


def plan_export(
    session: Session, *, principal: Principal, selection: Selection, results: bool = False
) -> ExportPlan:
    """Check access and the selection; refuse an empty one before anything is written.

    `results`: a COCO results file, whose classes (category ids) are the truth's.
    """
    if results:
        selection = results_selection(selection)
    project = projects.get_project(session, principal=principal, project_id=selection.project_id)
    check_camera(session, project_id=project.id, camera_id=selection.camera_id)
    model = None
    if selection.model is not None:
        model = resolve_model(session, project_id=project.id, model=selection.model)
    scope = scope_for(selection, model)
    candidates = count_candidates(session, scope)
    if candidates == 0:
        raise InvalidInput(f"the selection is empty: {describe(selection)}", field="selection")
    found = classes_in_scope(session, scope)
    # A results file's classes are the truth's, so its --class is checked against them.
    _check_classes(session, replace(selection, model=None) if results else selection, scope, found)
    classes = list(selection.classes) if selection.classes else found
    if results and not selection.classes:
        # The truth export's classes, so category ids agree with the truth file's.
        classes = classes_in_scope(session, scope_for(replace(selection, model=None), None))
    if not selection.include_negatives and not set(classes) & set(found):
        wanted = f" of class {', '.join(selection.classes)}" if selection.classes else ""
        raise InvalidInput(
            f"the selection is empty: no boxes{wanted} in {describe(selection)} "
            "(ask for negatives to export frames without boxes)",
            field="selection",
        )
    return ExportPlan(selection, scope, project.name, classes, candidates, results)


def known_classes(session: Session, selection: Selection, scope: TruthScope) -> set[str]:
    """Classes a `--class` may name: what the reviews' boxes can be called under `class_from`,
    or the classes the model has ever output in the project."""
    if selection.model is None:
        return {"smoke"} if selection.class_from == "smoke" else {"smoke", *SMOKE_TYPES}
    return set(classes_in_scope(session, scope))


def _check_classes(
    session: Session, selection: Selection, scope: TruthScope, found: list[str]
) -> None:
    """An unknown class is an error, not an export of negatives: a typo would otherwise turn
    every frame into an empty one."""
    known = known_classes(session, selection, scope) | set(found)
    unknown = [name for name in selection.classes if name not in known]
    if unknown:
        hint = " (reviewed boxes are `smoke` unless class_from is smoke_type)"
        raise InvalidInput(
            f"class: unknown class {', '.join(map(repr, unknown))}; known: "
            f"{', '.join(sorted(known)) or 'none'}" + (hint if selection.model is None else ""),
            field="class",
        )


def prepare_export(
    session: Session, *, plan: ExportPlan, options: ExportOptions
) -> splits.SplitReport:
    """Store what later exports must agree on: image ids, and the splits of new sequences."""
    ids.assign_image_ids(session, project_id=plan.selection.project_id)
    return splits.assign_splits(
        session,
        scope=plan.scope,
        selection=plan.selection,
        seed=options.seed,
        ratios=options.split,
        redraw=options.redraw_splits,
    )


# --- Writing -------------------------------------------------------------------------------


def split_of(group_key: str, seed: int, ratios: tuple[float, float, float]) -> str:
    """The seeded draw of a sequence's (or loose image's) split (`splits.draw`)."""
    return splits.draw(group_key, seed, ratios)


def image_classes(session: Session, image_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The image-level classes people gave these images, by image, each's names sorted."""
    found: dict[uuid.UUID, list[str]] = {}
    if not image_ids:
        return found
    query = (
        sa.select(ImageClassification.image_id, ImageClass.name)
        .join(ImageClass, ImageClass.id == ImageClassification.class_id)
        .where(ImageClassification.image_id.in_(image_ids))
        .order_by(ImageClassification.image_id, ImageClass.name)
    )
    for image_id, name in session.execute(query):
        found.setdefault(image_id, []).append(name)
    return found


def _group_facts(
    session: Session, plan: ExportPlan, group: list[Frame], options: ExportOptions
) -> tuple[str, dict[uuid.UUID, int], dict[uuid.UUID, list[str]]]:
    """A group's stored split (the seeded draw for a loose image), its images' ids and
    their image-level classes."""
    frame_ids = [frame.image.id for frame in group]
    numbers = ids.image_ids(session, frame_ids)
    if len(numbers) < len(frame_ids):  # an image added since the export was prepared
        ids.assign_image_ids(session, project_id=plan.selection.project_id)
        numbers = ids.image_ids(session, frame_ids)
    sequence = group[0].sequence
    stored = splits.stored_split(session, sequence.id) if sequence else None
    classes = image_classes(session, frame_ids)
    session.commit()  # end the read transaction: on SQLite it holds the write lock
    return stored or split_of(group[0].group_key, options.seed, options.split), numbers, classes


def export_items(plan: ExportPlan, frames: list[Frame]) -> Iterator[tuple[Frame, list[Box], bool]]:
    """(frame, boxes, negative) for the frames of a group that belong in the export."""
    selection = plan.selection
    wanted = set(plan.classes)
    for frame in frames:
        if plan.results:
            yield from _results_item(frame, wanted, selection.include_negatives)
            continue
        source = frame.truth if selection.model is None else frame.predictions
        if source is None:
            continue
        boxes = [b for b in source if b.class_name in wanted]
        if boxes:
            yield frame, boxes, False
        elif selection.include_negatives and not source:
            # A negative holds no smoke at all: a frame with only other classes' boxes is
            # left out, never written as an empty (negative) frame.
            yield frame, [], True


def _results_item(
    frame: Frame, wanted: set[str], negatives: bool
) -> Iterator[tuple[Frame, list[Box], bool]]:
    """A frame the truth export holds (same selection), with the model's boxes on it."""
    if frame.truth is None:
        return
    wanted_truth = any(box.class_name in wanted for box in frame.truth)
    # The truth export's frames: wanted boxes, or (negatives) no smoke at all.
    if not wanted_truth and (not negatives or frame.truth):
        return
    boxes = [box for box in frame.predictions or [] if box.class_name in wanted]
    yield frame, boxes, not boxes


def image_url(base_url: str | None, image_id: uuid.UUID) -> str | None:
    """The image's content URL on this server (reference mode), when its URL is known."""
    return f"{base_url.rstrip('/')}/api/images/{image_id}/content" if base_url else None


def _writer(plan: ExportPlan, options: ExportOptions, sink: Sink) -> Writer:
    """The format's writer, told what the export is of and how it is laid out."""
    info = ExportInfo(
        project_id=str(plan.selection.project_id),
        project_name=plan.project_name,
        source=plan.selection.source_label,
        negatives=plan.selection.include_negatives,
        images=options.images,
        split=options.split,
        seed=options.seed,
    )
    return make_writer(options.format, sink=sink, classes=plan.classes, info=info)


def _copy_image(storage: ObjectStorage, sink: Sink, path: str, frame: Frame) -> bool:
    """Stream the frame's image from storage into the export; False when it is missing."""
    try:
        chunks = storage.iter_chunks(frame.image.object_key)
    except ObjectNotFound:
        log.warning("image %s is missing from storage: left out", frame.image.id)
        return False
    sink.write_chunks(path, chunks)
    return True


def write_export(
    session: Session,
    storage: ObjectStorage,
    *,
    plan: ExportPlan,
    options: ExportOptions,
    sink: Sink,
    on_progress: Callable[[int], None] | None = None,
    prepared: bool = False,
) -> ExportSummary:
    """Write the planned export into `sink`, one sequence at a time (`prepare_export` first
    unless `prepared`)."""
    if not prepared:
        prepare_export(session, plan=plan, options=options)
    writer = _writer(plan, options, sink)
    counts = {"images": 0, "boxes": 0, "negatives": 0, "skipped": 0}
    per_split = dict.fromkeys(SPLITS, 0)
    for group in iter_groups(session, plan.scope):
        split, numbers, classes = _group_facts(session, plan, group, options)
        for frame, boxes, negative in export_items(plan, group):
            item = Item(
                frame=frame,
                boxes=boxes,
                negative=negative,
                split=split,
                name=f"{frame.image.id}{frame.image.extension}",
                url=image_url(options.base_url, frame.image.id),
                false_positives=frame.false_positives if plan.selection.include_negatives else [],
                coco_id=numbers.get(frame.image.id),
                classes=classes.get(frame.image.id, []),
            )
            if (
                options.images == "copy"
                and writer.copies_images
                and not _copy_image(storage, sink, writer.image_path(item), frame)
            ):
                counts["skipped"] += 1
                continue
            writer.add(item)
            counts["images"] += 1
            counts["boxes"] += len(boxes)
            counts["negatives"] += int(negative)
            per_split[split] += 1
        if on_progress is not None:
            on_progress(len(group))
    writer.finish()
    return ExportSummary(classes=list(plan.classes), splits=per_split, **counts)
