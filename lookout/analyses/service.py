"""ML analyses: creation, the status machine, finalizing, listing and deletion.

Two kinds of callers:

- other domains, in-process, inside their own transaction: `create_analysis_row` (here) and
  `bulk.insert_annotations` flush but never commit;
- the API: every other function checks access (user reads go through the image's project;
  pipeline callbacks are authenticated by their HMAC signature before they get here) and commits
  its own transaction.

Artifacts live in `artifacts`, bulk annotations and their idempotency in `bulk`, prediction
reads in `predictions`.
"""

from __future__ import annotations

import functools
import logging
import uuid
import weakref
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.analyses.artifacts import analysis_artifacts, confirm_artifact
from lookout.analyses.models import (
    Analysis,
    AnalysisStatus,
    IdempotencyRecord,
    Prediction,
    upload_key,
)
from lookout.analyses.predictions import predictions_query
from lookout.analyses.repository import AnalysisRepository, locked_analysis
from lookout.auth.principal import Principal
from lookout.db import utcnow
from lookout.errors import Conflict, InvalidInput, NotFound
from lookout.images import service as images
from lookout.images.models import Image
from lookout.scoring import service as scoring
from lookout.storage import ObjectStorage, cleanup

log = logging.getLogger(__name__)


STATUS_ALIASES = {"canceled": AnalysisStatus.CANCELLED}


TRANSITIONS: dict[str, frozenset[str]] = {
    AnalysisStatus.QUEUED: frozenset(
        {
            AnalysisStatus.PROCESSING,
            AnalysisStatus.COMPLETED,
            AnalysisStatus.FAILED,
            AnalysisStatus.CANCELLED,
        }
    ),
    # Back to queued: the worker's lease expired or it gave the job back.
    AnalysisStatus.PROCESSING: frozenset(
        {
            AnalysisStatus.COMPLETED,
            AnalysisStatus.FAILED,
            AnalysisStatus.CANCELLED,
            AnalysisStatus.QUEUED,
        }
    ),
}


def create_analysis_row(
    session: Session, *, image: Image, flush: bool = True, **columns: Any
) -> Analysis:
    """Add an analysis of `image` (its `columns` as `analysis_values` takes them) and flush it
    (unless not `flush`: the caller flushes several at once), without committing."""
    analysis = Analysis(**analysis_values(image_id=image.id, **columns))
    session.add(analysis)
    if flush:
        session.flush()
    # Nobody can have read it before this transaction commits: no page of it to invalidate.
    analysis.__dict__["_lookout_created_in"] = weakref.ref(session.get_transaction())
    return analysis


def analysis_values(
    *,
    image_id: uuid.UUID,
    model_name: str,
    model_version: str,
    parameters: dict[str, Any] | None = None,
    description: str | None = None,
    provenance: dict[str, Any] | None = None,
    created_by_id: uuid.UUID | None = None,
    status: str = AnalysisStatus.QUEUED,
    external_job_id: str | None = None,
) -> dict[str, Any]:
    """The row of a new analysis, its id made here. `status` may be any status; a final one
    sets `completed_at`, "processing" sets `started_at`."""
    status = normalize_status(status)
    now = utcnow()
    return {
        "id": uuid.uuid4(),
        "image_id": image_id,
        "model_name": model_name,
        "model_version": model_version,
        "parameters": parameters or {},
        "provenance": provenance or {},
        "description": description,
        "status": status,
        "created_by_id": created_by_id,
        "external_job_id": external_job_id,
        "attempts": 0,
        "started_at": now if status == AnalysisStatus.PROCESSING else None,
        "completed_at": now if status in AnalysisStatus.FINAL else None,
    }


def normalize_status(value: Any, *, field: str = "status") -> str:
    """A known status ("canceled" is read as "cancelled"), or InvalidInput."""
    status = STATUS_ALIASES.get(value, value) if isinstance(value, str) else value
    if status not in AnalysisStatus.ALL:
        raise InvalidInput(
            f"{field}: {value!r} is not a status; use one of {', '.join(AnalysisStatus.ALL)}",
            field=field,
        )
    return status


def get_analysis(session: Session, *, principal: Principal, analysis_id: uuid.UUID) -> Analysis:
    """The analysis, or NotFound whether it is missing or outside the caller's groups."""
    return AnalysisRepository(session, principal).get(analysis_id)


def analysis_for_export(
    session: Session, *, principal: Principal, analysis_id: uuid.UUID
) -> Analysis:
    """The analysis to export; ends the read transaction so the streamed export can read."""
    analysis = get_analysis(session, principal=principal, analysis_id=analysis_id)
    session.commit()  # on SQLite an open transaction holds the lock the export needs
    return analysis


_ANALYSES_OF_IMAGE = (
    sa.select(sa.func.count())
    .select_from(Analysis)
    .where(Analysis.image_id == sa.bindparam("image_id"))
)


def create_analysis(
    session: Session,
    *,
    principal: Principal,
    image_id: uuid.UUID,
    model_name: str,
    model_version: str,
    parameters: dict[str, Any] | None,
    description: str | None,
    provenance: dict[str, Any] | None,
    external_job_id: str | None,
    allowed_models: Collection[str],
    max_per_image: int,
) -> Analysis:
    """Create a queued analysis of an image the caller can see."""
    if allowed_models and model_name not in allowed_models:
        raise InvalidInput(
            f"Model not in allowed list: {model_name!r} is not one of "
            f"{', '.join(sorted(allowed_models))} (ML_ALLOWED_MODELS)",
            field="model_name",
        )
    # The image row stays locked until commit, so concurrent creations count each other.
    image = images.get_image(session, principal=principal, image_id=image_id, for_update=True)
    count = session.scalar(_ANALYSES_OF_IMAGE, {"image_id": image.id})
    if (count or 0) >= max_per_image:
        raise Conflict(
            f"image {image.id} already has {count} analyses, the limit "
            f"(ML_MAX_ANALYSES_PER_IMAGE={max_per_image}); delete old ones first",
            field="image_id",
        )
    analysis = create_analysis_row(
        session,
        image=image,
        model_name=model_name,
        model_version=model_version,
        parameters=parameters,
        description=description,
        provenance=provenance,
        created_by_id=principal.user_id,
        external_job_id=external_job_id,  # in the INSERT: no UPDATE of the new row after it
    )
    session.commit()
    return analysis


def _check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        final = " (a final state)" if current in AnalysisStatus.FINAL else ""
        raise Conflict(f"cannot change status from {current}{final} to {target}", field="status")


def _enter(
    analysis: Analysis,
    target: str,
    storage: ObjectStorage,
    *,
    error_message: str | None,
    max_artifact_bytes: int,
) -> None:
    now = utcnow()
    if target == AnalysisStatus.PROCESSING:
        analysis.started_at = now
        analysis.attempts = (analysis.attempts or 0) + 1
    elif target == AnalysisStatus.QUEUED:
        analysis.worker_id = None
        analysis.lease_expires_at = None
    else:
        analysis.completed_at = now
        analysis.lease_expires_at = None
        for artifact in analysis_artifacts(analysis):
            confirm_artifact(storage, artifact, max_artifact_bytes)
    if error_message is not None:
        analysis.error_message = error_message
    analysis.status = target


def check_caller_access(
    session: Session, principal: Principal | None, analysis_id: uuid.UUID
) -> None:
    """A callback sent by a user (VISTA) acts only on analyses they can see; signed ones on any."""
    if principal is not None:
        AnalysisRepository(session, principal).get(analysis_id)


def stored_annotations(session: Session, analysis_id: uuid.UUID) -> list[Prediction]:
    """All of an analysis's annotations in posted order (VISTA answers a bulk post with them)."""
    return list(session.scalars(predictions_query(analysis_id)))


def update_status(
    session: Session,
    storage: ObjectStorage,
    *,
    analysis_id: uuid.UUID,
    status: str,
    error_message: str | None = None,
    max_artifact_bytes: int,
) -> Analysis:
    """Move an analysis along the status machine; the current status again is a no-op."""
    target = normalize_status(status)
    analysis = locked_analysis(session, analysis_id)
    if analysis.status != target:
        _check_transition(analysis.status, target)
        _enter(
            analysis,
            target,
            storage,
            error_message=error_message,
            max_artifact_bytes=max_artifact_bytes,
        )
        _rescore_if_completed(session, analysis)
    session.commit()  # also when nothing changed: the signature is recorded as used
    return analysis


def finalize_analysis(
    session: Session,
    storage: ObjectStorage,
    *,
    analysis_id: uuid.UUID,
    status: str,
    summary: dict[str, Any] | None,
    error_message: str | None,
    max_artifact_bytes: int,
) -> Analysis:
    """Close an analysis (from queued or processing) with its summary; confirm its artifacts."""
    target = normalize_status(status)
    if target not in AnalysisStatus.FINAL:
        raise InvalidInput(
            f"status: finalize takes {', '.join(AnalysisStatus.FINAL)}, not {target}",
            field="status",
        )
    analysis = locked_analysis(session, analysis_id)
    if analysis.status != target:
        _check_transition(analysis.status, target)
        analysis.summary = summary
        _enter(
            analysis,
            target,
            storage,
            error_message=error_message,
            max_artifact_bytes=max_artifact_bytes,
        )
        _rescore_if_completed(session, analysis)
    session.commit()
    return analysis


def _rescore_if_completed(session: Session, analysis: Analysis) -> None:
    """A completed analysis brings its boxes to the queue scores of its image's sequence."""
    if analysis.status == AnalysisStatus.COMPLETED:
        scoring.rescore_analysis(session, analysis)


def list_analyses(
    session: Session,
    *,
    principal: Principal,
    image_id: uuid.UUID,
    model_name: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Analysis], int]:
    """A page of an image's analyses, newest first, with the total count."""
    image = images.get_image(session, principal=principal, image_id=image_id)
    params: dict[str, Any] = {"image_id": image.id, "limit": limit, "offset": offset}
    if model_name:
        params["model_name"] = model_name
    if status:
        params["status"] = normalize_status(status)
    count, page = _image_analyses(bool(model_name), bool(status))
    total = session.scalar(count, params) or 0
    return list(session.scalars(page, params)), total


@functools.cache
def _image_analyses(by_model: bool, by_status: bool) -> tuple[sa.Select[Any], sa.Select[Analysis]]:
    """The count and the page of an image's analyses, built once per filter shape (building
    a statement costs more than running it, and this list is read on every image view)."""
    query = sa.select(Analysis).where(Analysis.image_id == sa.bindparam("image_id"))
    if by_model:
        query = query.where(Analysis.model_name == sa.bindparam("model_name"))
    if by_status:
        query = query.where(Analysis.status == sa.bindparam("status"))
    count = sa.select(sa.func.count()).select_from(query.subquery())
    page = query.order_by(Analysis.created_at.desc(), Analysis.id.desc())
    return count, page.limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))


def delete_analysis(
    session: Session, storage: ObjectStorage, *, principal: Principal, analysis_id: uuid.UUID
) -> None:
    """Remove the analysis with its predictions, artifacts and their stored objects."""
    analysis = get_analysis(session, principal=principal, analysis_id=analysis_id)
    objects = [a.object_key for a in analysis_artifacts(analysis)]
    # Uploads too: one not confirmed yet, or sent again to an old URL after confirmation.
    keys = objects + [upload_key(key) for key in objects]
    session.execute(
        sa.delete(IdempotencyRecord).where(IdempotencyRecord.scope == f"bulk:{analysis.id}")
    )
    image_id = analysis.image_id
    session.delete(analysis)
    session.flush()
    scoring.rescore_images(session, [image_id])
    session.commit()
    for key in keys:
        cleanup.discard(session, storage, key)


def analyses_of_image(
    session: Session,
    *,
    principal: Principal,
    image_id: uuid.UUID,
    analysis_ids: list[uuid.UUID],
    max_count: int,
) -> tuple[Image, list[Analysis]]:
    """The image and the named analyses of it, in the order asked (all of them if none named)."""
    image = images.get_image(session, principal=principal, image_id=image_id)
    if not analysis_ids:
        query = (
            sa.select(Analysis)
            .where(Analysis.image_id == image.id)
            .order_by(Analysis.created_at, Analysis.id)
            .limit(max_count)
        )
        return image, list(session.scalars(query))
    if len(analysis_ids) > max_count:
        raise InvalidInput(f"compare at most {max_count} analyses at once", field="analysis_id")
    found = {
        a.id: a
        for a in session.scalars(
            sa.select(Analysis).where(Analysis.image_id == image.id, Analysis.id.in_(analysis_ids))
        )
    }
    missing = [str(i) for i in analysis_ids if i not in found]
    if missing:
        raise NotFound(
            f"image {image.id} has no analysis {', '.join(missing)}", field="analysis_id"
        )
    return image, [found[i] for i in dict.fromkeys(analysis_ids)]
