"""Frames of a sequence: stored with the boxes a model saw on them, fetched by URL if asked."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.analyses.models import Analysis, Prediction
from lookout.auth.principal import Principal
from lookout.db import release_read_only
from lookout.errors import InvalidInput, LookoutError, Unavailable
from lookout.images import service as images
from lookout.images.models import Image
from lookout.scoring import service as scoring
from lookout.sequences.schemas import FrameFromUrl, FrameMetadata
from lookout.sequences.service import get_sequence
from lookout.storage import ObjectStorage, StorageError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)


class FrameCrashed(LookoutError):
    """A frame of a batch failed for a reason of the server's own (logged)."""

    status = 500


@dataclass(frozen=True)
class StoredFrame:
    image: Image
    existing: bool
    analysis_id: uuid.UUID | None
    prediction_count: int


def _object_name(url: str) -> str | None:
    """The last segment of a URL's path (a presigned URL's object key), or None."""
    return unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2]) or None


def add_frame(
    session: Session,
    storage: ObjectStorage,
    *,
    principal: Principal,
    sequence_id: uuid.UUID,
    stream: BinaryIO | None,
    metadata: FrameMetadata,
    max_pixels: int,
    filename: str | None = None,
    http: httpx.Client | None = None,
    url: str | None = None,
    fetch_limit: int = 0,
) -> StoredFrame:
    """Store a frame and its model boxes in one transaction; a repeat answers the stored one."""
    sequence = get_sequence(session, principal=principal, sequence_id=sequence_id)
    target = _Target(principal, sequence.id, sequence.project_id, max_pixels)
    _check_source(metadata)
    stored = _found(target, metadata, _existing_frames(session, target.project_id, [metadata]))
    if stored is not None:
        return stored
    if stream is None:
        from lookout.sequences.fetch import fetch_frame  # httpx loads when a URL is given

        assert http is not None and url is not None
        release_read_only(session)  # no database lock held while the URL answers
        stream = fetch_frame(http, url, limit=fetch_limit)
    return _store_new(session, storage, target, metadata, stream, filename)


@dataclass(frozen=True)
class FrameOutcome:
    """One frame of a batch: stored (or found), or the error that stopped it."""

    stored: StoredFrame | None = None
    error: LookoutError | None = None


def add_frames_from_urls(
    session: Session,
    storage: ObjectStorage,
    *,
    principal: Principal,
    sequence_id: uuid.UUID,
    items: list[FrameFromUrl],
    max_pixels: int,
    http: httpx.Client,
    fetch_limit: int,
) -> list[FrameOutcome]:
    """Frames the server fetches by URL, stored together (each on its own if that fails).

    The URLs are fetched one at a time, in order (a client's concurrency towards their host
    stays its number of requests in flight); each frame is checked and its object written
    while the next one downloads, then their rows are stored in one transaction. A frame that
    fails does not stop the others.
    """
    from lookout.sequences.fetch import check_frame_url, fetch_frame

    sequence = get_sequence(session, principal=principal, sequence_id=sequence_id)
    target = _Target(principal, sequence.id, sequence.project_id, max_pixels)
    found = _existing_frames(session, target.project_id, items)
    release_read_only(session)  # no database lock held while the URLs answer
    outcomes: dict[int, FrameOutcome] = {}
    new: list[int] = []
    for index, item in enumerate(items):
        try:
            _check_source(item)
            check_frame_url(item.url)
            if (stored := _found(target, item, found)) is not None:
                outcomes[index] = FrameOutcome(stored=stored)
            else:
                new.append(index)
        except LookoutError as exc:
            outcomes[index] = FrameOutcome(error=exc)
    with ThreadPoolExecutor(1, thread_name_prefix="frame-fetch") as fetcher:
        fetches = [
            fetcher.submit(fetch_frame, http, items[index].url, limit=fetch_limit) for index in new
        ]
        fetched: list[tuple[int, images.ImageUpload]] = []
        for index, fetch in zip(new, fetches, strict=True):
            try:
                upload = images.checked_and_written(
                    session,
                    storage,
                    target.project_id,
                    _upload(target, items[index], fetch.result()),
                    target.max_pixels,
                )
            except (LookoutError, StorageError) as exc:
                outcomes[index] = FrameOutcome(error=_frame_error(exc, items[index]))
            else:
                fetched.append((index, upload))
    outcomes.update(_store_batch(session, storage, target, items, fetched))
    if any(o.stored is not None for o in outcomes.values()):
        # Once for the batch, not per frame (each rescoring reads the whole sequence). A
        # batch sent again after a failure here rescores it then: frames found count too.
        scoring.rescore_sequences(session, {target.sequence_id})
        session.commit()
    return [outcomes[index] for index in range(len(items))]


def _store_batch(
    session: Session,
    storage: ObjectStorage,
    target: _Target,
    items: list[FrameFromUrl],
    fetched: list[tuple[int, images.ImageUpload]],
) -> dict[int, FrameOutcome]:
    """The fetched frames (checked, their objects written) and their model boxes, stored in
    one transaction (each on its own if that fails): the outcome of each, by its index."""
    uploads = [upload for _, upload in fetched]
    created: dict[int, dict[str, Any]] = {}

    def with_predictions(stored: list[tuple[int, Image]]) -> None:
        frames = [(image, items[fetched[at][0]]) for at, image in stored]
        for (at, _), made in zip(stored, _store_predictions(session, frames), strict=True):
            created[at] = made

    results = images.store_checked_images(
        session,
        storage,
        principal=target.principal,
        project_id=target.project_id,
        uploads=uploads,
        max_pixels=target.max_pixels,
        on_stored=with_predictions,
    )
    outcomes = {}
    for at, ((index, _), result) in enumerate(zip(fetched, results, strict=True)):
        if isinstance(result, Exception):
            outcomes[index] = FrameOutcome(error=_frame_error(result, items[index]))
            continue
        made = created.get(at, {})
        stored = StoredFrame(
            result.image, result.existing, made.get("analysis_id"), made.get("count", 0)
        )
        outcomes[index] = FrameOutcome(stored=stored)
    return outcomes


def _frame_error(exc: Exception, item: FrameFromUrl) -> LookoutError:
    """What a frame of a batch answers for the error that stopped it."""
    if isinstance(exc, LookoutError):
        return exc
    if isinstance(exc, StorageError):
        log.error("object storage failed: %s", exc)
        return Unavailable(StorageError.answer)
    # One frame's bug must not hide what happened to the frames already stored.
    log.error("frame %s:%s could not be stored", item.source, item.source_id, exc_info=exc)
    return FrameCrashed("the server failed to store this frame")


@dataclass(frozen=True)
class _Target:
    """The sequence frames go to, read once (its row expires at every commit)."""

    principal: Principal
    sequence_id: uuid.UUID
    project_id: uuid.UUID
    max_pixels: int


def _check_source(metadata: FrameMetadata) -> None:
    if (metadata.source is None) != (metadata.source_id is None):
        raise InvalidInput("source and source_id go together", field="source_id")


def _existing_frames(
    session: Session, project_id: uuid.UUID, frames: Sequence[FrameMetadata]
) -> dict[tuple[str, str], Image]:
    """The project's stored frames with the (source, source_id) of any of `frames`, at once."""
    keys = {(f.source, f.source_id) for f in frames if f.source and f.source_id}
    if not keys:
        return {}
    query = sa.select(Image).where(
        Image.project_id == project_id, sa.tuple_(Image.source, Image.source_id).in_(list(keys))
    )
    return {(i.source or "", i.source_id or ""): i for i in session.scalars(query)}


def _found(
    target: _Target, metadata: FrameMetadata, found: dict[tuple[str, str], Image]
) -> StoredFrame | None:
    """The stored frame a repeat refers to, if any; it must be of the same sequence."""
    existing = found.get((metadata.source or "", metadata.source_id or ""))
    if existing is None:
        return None
    if existing.sequence_id != target.sequence_id:
        raise InvalidInput(
            f"{metadata.source}:{metadata.source_id} is a frame of another sequence",
            field="source_id",
        )
    return StoredFrame(existing, True, None, 0)


def _store_new(
    session: Session,
    storage: ObjectStorage,
    target: _Target,
    metadata: FrameMetadata,
    stream: BinaryIO,
    filename: str | None,
) -> StoredFrame:
    """Store a new frame and its model boxes, and its sequence's queue scores, in one
    transaction."""
    created: dict[str, Any] = {}

    def with_predictions(image: Image) -> None:
        created.update(_store_predictions(session, [(image, metadata)])[0])
        if metadata.predictions is not None:
            # The frame's boxes change its sequence's queue scores: stored with them.
            scoring.rescore_images(session, [image.id])

    # The sequence is readable (so is its project) and the source id is new.
    stored = images.store_checked_image(
        session,
        storage,
        principal=target.principal,
        project_id=target.project_id,
        upload=_upload(target, metadata, stream, filename),
        max_pixels=target.max_pixels,
        on_stored=with_predictions,
    )
    return StoredFrame(
        stored.image, stored.existing, created.get("analysis_id"), created.get("count", 0)
    )


def _upload(
    target: _Target, metadata: FrameMetadata, stream: BinaryIO, filename: str | None = None
) -> images.ImageUpload:
    if filename is None and isinstance(metadata, FrameFromUrl):
        # Named after the object, as when a client downloads the frame and uploads it.
        filename = _object_name(metadata.url)
    return images.ImageUpload(
        stream=stream,
        filename=filename,
        captured_at=metadata.captured_at,
        sequence_id=target.sequence_id,
        source=metadata.source,
        source_id=metadata.source_id,
    )


def _store_predictions(
    session: Session, frames: Sequence[tuple[Image, FrameMetadata]]
) -> list[dict[str, Any]]:
    """Each frame's model boxes as a completed analysis of it (all inserted at once)."""
    from lookout.analyses import bulk

    wanted: list[tuple[int, bulk.NewAnalysis]] = []
    for at, (image, metadata) in enumerate(frames):
        if (boxes := metadata.predictions) is not None:
            provenance = {"source": metadata.source, "source_id": metadata.source_id}
            new = bulk.NewAnalysis(
                image, boxes.model_name, boxes.model_version, provenance, boxes.annotations
            )
            wanted.append((at, new))
    made = bulk.insert_completed_analyses(session, [new for _, new in wanted])
    results: list[dict[str, Any]] = [{} for _ in frames]
    for (at, _), (analysis_id, count) in zip(wanted, made, strict=True):
        results[at] = {"analysis_id": analysis_id, "count": count}
    return results


@dataclass(frozen=True)
class FrameBoxRow:
    image_id: uuid.UUID
    prediction: Prediction
    analysis: Analysis


def predictions_by_frame(
    session: Session, image_ids: list[uuid.UUID], model_name: str | None = None
) -> dict[uuid.UUID, list[FrameBoxRow]]:
    """Every prediction on these frames (optionally one model's), grouped by frame."""
    if not image_ids:
        return {}
    query = (
        sa.select(Prediction, Analysis)
        .join(Analysis, Analysis.id == Prediction.analysis_id)
        .where(Analysis.image_id.in_(image_ids))
        .order_by(Analysis.created_at, Prediction.created_at)
    )
    if model_name:
        query = query.where(Analysis.model_name == model_name)
    grouped: dict[uuid.UUID, list[FrameBoxRow]] = defaultdict(list)
    for prediction, analysis in session.execute(query):
        grouped[analysis.image_id].append(FrameBoxRow(analysis.image_id, prediction, analysis))
    return grouped
