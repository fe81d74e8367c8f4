"""ML analyses: creation, the status machine, artifacts, bulk annotations and reads.

Two kinds of callers:

- other domains, in-process, inside their own transaction: `create_analysis_row` and
  `insert_annotations` (first in this file) flush but never commit;
- the API: every other function checks access (user reads go through the image's project;
  pipeline callbacks are authenticated by their HMAC signature before they get here) and commits
  its own transaction.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
import weakref
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lookout.analyses.annotations import ValidAnnotation, validate_annotations
from lookout.analyses.models import (
    Analysis,
    AnalysisStatus,
    Artifact,
    ArtifactState,
    IdempotencyRecord,
    Prediction,
    artifact_key_of_upload,
    upload_key,
)
from lookout.analyses.repository import AnalysisRepository
from lookout.analyses.schemas import ArtifactSpec
from lookout.auth.principal import Principal
from lookout.db import UTCDateTime, affected_rows, json_key, pg_json_time, release_read_only, utcnow
from lookout.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from lookout.images import service as images
from lookout.images.models import Image
from lookout.rendering import RenderedCache, iso, render_json
from lookout.storage import ObjectInfo, ObjectNotFound, ObjectStorage, cleanup
from lookout.storage.base import OpenedObject

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
# Whole-string patterns: always used with `fullmatch` (`$` would accept a trailing newline).
ARTIFACT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,199}")
CONTENT_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]{0,62}/[A-Za-z0-9][\w!#$&^.+-]{0,62}", re.ASCII)
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
IDEMPOTENCY_HEADER = "Idempotency-Key"


# --- In-process API for other domains (the caller owns the transaction) --------------------


def create_analysis_row(
    session: Session,
    *,
    image: Image,
    model_name: str,
    model_version: str,
    parameters: dict[str, Any] | None = None,
    description: str | None = None,
    provenance: dict[str, Any] | None = None,
    created_by_id: uuid.UUID | None = None,
    status: str = AnalysisStatus.QUEUED,
) -> Analysis:
    """Add an analysis of `image` and flush it, without committing (the caller commits).

    Used in-process, e.g. by the platform import, which stores the platform's own boxes as an
    analysis (model name "platform"). `status` may be any status; a final one sets
    `completed_at`, "processing" sets `started_at`.
    """
    status = normalize_status(status)
    now = utcnow()
    analysis = Analysis(
        id=uuid.uuid4(),
        image_id=image.id,
        model_name=model_name,
        model_version=model_version,
        parameters=parameters or {},
        provenance=provenance or {},
        description=description,
        status=status,
        created_by_id=created_by_id,
        attempts=0,
        started_at=now if status == AnalysisStatus.PROCESSING else None,
        completed_at=now if status in AnalysisStatus.FINAL else None,
    )
    session.add(analysis)
    session.flush()
    # Nobody can have read it before this transaction commits: no page of it to invalidate.
    analysis.__dict__["_lookout_created_in"] = weakref.ref(session.get_transaction())
    return analysis


def insert_annotations(
    session: Session, *, analysis: Analysis, image: Image, annotations: list[dict[str, Any]]
) -> list[Prediction]:
    """Validate annotations like the bulk endpoint and insert them, without committing.

    Each dict has the bulk endpoint's shape (`annotation_type`, `class_name`, `confidence`,
    `data`, optional client `id`). A bad item raises InvalidInput naming its index and field
    and nothing is inserted. Items whose client `id` is already stored for this analysis are
    skipped, so re-running an import inserts nothing twice. Returns the inserted predictions
    (transient objects carrying the stored values).
    """
    valid = validate_annotations(
        annotations,
        width=image.width,
        height=image.height,
        artifact_names=_artifact_names(session, analysis.id, annotations),
    )
    present = _present_client_ids(session, analysis.id, valid)
    rows = _rows(analysis.id, [a for a in valid if a.client_id not in present])
    if rows:
        insert_rows(session, analysis.id, rows)
        touch(analysis)
    return [Prediction(**row) for row in rows]


# --- Shared helpers ------------------------------------------------------------------------


def normalize_status(value: Any, *, field: str = "status") -> str:
    """A known status ("canceled" is read as "cancelled"), or InvalidInput."""
    status = STATUS_ALIASES.get(value, value) if isinstance(value, str) else value
    if status not in AnalysisStatus.ALL:
        raise InvalidInput(
            f"{field}: {value!r} is not a status; use one of {', '.join(AnalysisStatus.ALL)}",
            field=field,
        )
    return status


def _rows(analysis_id: uuid.UUID, valid: list[ValidAnnotation]) -> list[dict[str, Any]]:
    """Insert parameters, ids made here; created_at steps by 1 µs to keep the posted order."""
    base = utcnow()
    rows = []
    for i, item in enumerate(valid):
        x1, y1, x2, y2 = item.geometry or (None, None, None, None)
        rows.append(
            {
                "id": uuid.uuid4(),
                "analysis_id": analysis_id,
                "annotation_type": item.annotation_type,
                "class_name": item.class_name,
                "confidence": item.confidence,
                "data": item.data,
                "x1": x1,
                "y1": y1,
                "x2": x2,
                "y2": y2,
                "client_id": item.client_id,
                "created_at": base + timedelta(microseconds=i),
            }
        )
    return rows


# PostgreSQL: the whole batch travels as one JSON array and is inserted by one statement, so
# a 1,000-box post costs one round trip and no per-row parameter handling. `created_at` is
# rebuilt from the row's position exactly as `_rows` makes it (base + i microseconds).
_PG_INSERT = sa.text(
    "INSERT INTO predictions (id, analysis_id, annotation_type, class_name, confidence, data, "
    "x1, y1, x2, y2, client_id, created_at) "
    "SELECT (r->>0)::uuid, :analysis_id, r->>1, r->>2, (r->>3)::float8, r->4, (r->>5)::float8, "
    "(r->>6)::float8, (r->>7)::float8, (r->>8)::float8, r->>9, "
    "CAST(:base AS timestamptz) + (n - 1) * interval '1 microsecond' "
    "FROM jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS t(r, n)"
).bindparams(
    sa.bindparam("analysis_id", type_=sa.Uuid),
    sa.bindparam("base", type_=UTCDateTime()),
    sa.bindparam("rows", type_=sa.Text),
)


def insert_rows(session: Session, analysis_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    """Insert predictions made by `_rows` for one analysis, in one statement per batch.

    Every write of predictions goes through here or a replacement, and the caller then
    `touch`es the analysis: rendered pages of predictions are reused while it is untouched.
    """
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(sa.insert(Prediction), rows)  # SQLite: executemany, in-process
        return
    payload = json.dumps(
        [
            [
                str(r["id"]),
                r["annotation_type"],
                r["class_name"],
                r["confidence"],
                r["data"],
                r["x1"],
                r["y1"],
                r["x2"],
                r["y2"],
                r["client_id"],
            ]
            for r in rows
        ],
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":"),
    )
    session.execute(
        _PG_INSERT, {"analysis_id": analysis_id, "base": rows[0]["created_at"], "rows": payload}
    )


def _artifact_names(session: Session, analysis_id: uuid.UUID, annotations: Any) -> set[str]:
    """The analysis's artifact names, read only when a heatmap (which names one) is posted."""
    if not isinstance(annotations, list) or not any(
        isinstance(a, dict) and a.get("annotation_type") == "heatmap" for a in annotations
    ):
        return set()
    return set(session.scalars(sa.select(Artifact.name).where(Artifact.analysis_id == analysis_id)))


def _present_client_ids(
    session: Session, analysis_id: uuid.UUID, valid: list[ValidAnnotation]
) -> dict[str, Prediction]:
    """Stored predictions of this analysis whose client id is among the posted ones."""
    wanted = [a.client_id for a in valid if a.client_id is not None]
    found: dict[str, Prediction] = {}
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        query = sa.select(Prediction).where(
            Prediction.analysis_id == analysis_id, Prediction.client_id.in_(chunk)
        )
        found.update({p.client_id: p for p in session.scalars(query) if p.client_id})
    return found


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


def _locked_analysis(session: Session, analysis_id: uuid.UUID) -> Analysis:
    """The analysis a signed callback names, locked until commit (callbacks serialize per row)."""
    query = sa.select(Analysis).where(Analysis.id == analysis_id).with_for_update()
    analysis = session.scalar(query)
    if analysis is None:
        raise NotFound(f"analysis {analysis_id} not found")
    return analysis


# --- Step 1: create (user auth) ------------------------------------------------------------


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
    image = images.get_image(session, principal=principal, image_id=image_id)
    # Lock the image row so concurrent creations count each other.
    session.execute(sa.select(Image.id).where(Image.id == image.id).with_for_update())
    count = session.scalar(
        sa.select(sa.func.count()).select_from(Analysis).where(Analysis.image_id == image.id)
    )
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
    )
    analysis.external_job_id = external_job_id
    session.commit()
    return analysis


# --- Step 2 and 6: status machine (HMAC) ---------------------------------------------------


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
            _confirm_artifact(storage, artifact, max_artifact_bytes)
    if error_message is not None:
        analysis.error_message = error_message
    analysis.status = target


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
    analysis = _locked_analysis(session, analysis_id)
    if analysis.status != target:
        _check_transition(analysis.status, target)
        _enter(
            analysis,
            target,
            storage,
            error_message=error_message,
            max_artifact_bytes=max_artifact_bytes,
        )
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
    analysis = _locked_analysis(session, analysis_id)
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
    session.commit()
    return analysis


# --- Step 3: artifacts (HMAC for presign, user auth for reads) -----------------------------


def analysis_artifacts(analysis: Analysis) -> list[Artifact]:
    session = Session.object_session(analysis)
    assert session is not None
    query = sa.select(Artifact).where(Artifact.analysis_id == analysis.id).order_by(Artifact.name)
    return list(session.scalars(query))


def artifact_key(analysis_id: uuid.UUID, name: str) -> str:
    """Object key of an artifact (spaces, allowed in names, become underscores in keys)."""
    return f"analyses/{analysis_id}/artifacts/{name.replace(' ', '_')}"


def check_artifact_name(name: Any, *, field: str) -> str:
    if not isinstance(name, str) or not ARTIFACT_NAME.fullmatch(name) or ".." in name:
        raise InvalidInput(
            f"{field}: {name!r} is not a valid artifact name (1 to 200 letters, digits, '.', "
            "'_', '-' or spaces, starting with a letter or digit, no '..' and no '/')",
            field=field,
        )
    return name


def _confirm_artifact(storage: ObjectStorage, artifact: Artifact, max_bytes: int) -> None:
    """Move a pending artifact's upload to its own key once storage holds an acceptable one.

    The presigned URL writes to `upload_key`, never to the artifact's key: what is confirmed is
    a copy no URL can reach, checked (size, limit) as copied.
    """
    if artifact.state != ArtifactState.PENDING:
        return
    staged = upload_key(artifact.object_key)
    info = storage.head(staged)
    if info is None:
        return
    if _acceptable(artifact, info, max_bytes):
        try:
            info = storage.copy(staged, artifact.object_key)
        except ObjectNotFound:
            return  # a concurrent confirmation took it
    artifact.size_bytes = info.size
    if _acceptable(artifact, info, max_bytes):
        artifact.state = ArtifactState.UPLOADED
        artifact.uploaded_at = utcnow()
    else:
        artifact.state = ArtifactState.REJECTED
        _delete_quietly(storage, artifact.object_key)
    _delete_quietly(storage, staged)


def _acceptable(artifact: Artifact, info: ObjectInfo, max_bytes: int) -> bool:
    """Within the limit and, when a size was announced, exactly that size."""
    wrong_size = artifact.expected_size is not None and info.size != artifact.expected_size
    return info.size <= max_bytes and not wrong_size


def upload_refusal(session: Session, key: str) -> str | None:
    """Why a presigned PUT to `key` must be refused now, or None (keys of no artifact pass).

    An artifact takes uploads while it is pending and its analysis is not final; once
    confirmed, only presigning it again (while the analysis runs) opens it to a new upload.
    """
    query = (
        sa.select(Artifact.name, Artifact.state, Analysis.id, Analysis.status)
        .join(Analysis, Analysis.id == Artifact.analysis_id)
        .where(Artifact.object_key == (artifact_key_of_upload(key) or key))
    )
    row = session.execute(query).first()
    if row is None:
        return None
    if row.status in AnalysisStatus.FINAL:
        return f"analysis {row.id} is {row.status}: its artifacts take no more uploads"
    if row.state != ArtifactState.PENDING:
        return f"artifact {row.name!r} is {row.state}: presign it again to upload it anew"
    return None


@dataclass(frozen=True)
class PresignedUpload:
    artifact_name: str
    upload_url: str
    expires_in: int
    content_type: str


def presign_artifacts(
    session: Session,
    storage: ObjectStorage,
    *,
    analysis_id: uuid.UUID,
    artifacts: list[ArtifactSpec],
    expires_in: int,
    base_url: str,
    max_artifact_bytes: int,
) -> list[PresignedUpload]:
    """Record artifacts (pending) and hand out one presigned PUT URL each."""
    analysis = _locked_analysis(session, analysis_id)
    if analysis.status in AnalysisStatus.FINAL:
        raise Conflict(f"analysis {analysis.id} is {analysis.status}: no more artifacts")
    existing = {a.name: a for a in analysis_artifacts(analysis)}
    keys = {a.object_key: a.name for a in existing.values()}
    seen: set[str] = set()
    out = []
    for i, spec in enumerate(artifacts):
        name = check_artifact_name(spec.artifact_name, field=f"artifacts[{i}].artifact_name")
        if name in seen:
            raise InvalidInput(
                f"artifacts[{i}].artifact_name: {name!r} is listed twice",
                field=f"artifacts[{i}].artifact_name",
            )
        seen.add(name)
        if not CONTENT_TYPE.fullmatch(spec.content_type):
            field = f"artifacts[{i}].content_type"
            raise InvalidInput(f"{field}: must look like type/subtype, e.g. image/png", field=field)
        if spec.size is not None and spec.size > max_artifact_bytes:
            field = f"artifacts[{i}].size"
            raise PayloadTooLarge(
                f"{field}: artifacts are limited to {max_artifact_bytes} bytes", field=field
            )
        key = artifact_key(analysis.id, name)
        if keys.get(key, name) != name:
            field = f"artifacts[{i}].artifact_name"
            raise Conflict(f"{field}: {name!r} collides with artifact {keys[key]!r}", field=field)
        keys[key] = name
        row = existing.get(name)
        if row is None:
            row = Artifact(id=uuid.uuid4(), analysis_id=analysis.id, name=name, object_key=key)
            session.add(row)
        row.content_type = spec.content_type
        row.expected_size = spec.size
        row.state = ArtifactState.PENDING
        row.size_bytes = None
        row.uploaded_at = None
        url = storage.presign_put(upload_key(key), spec.content_type, expires_in, base_url)
        out.append(PresignedUpload(name, url, expires_in, spec.content_type))
    session.commit()
    return out


def list_artifacts(
    session: Session,
    storage: ObjectStorage,
    *,
    principal: Principal,
    analysis_id: uuid.UUID,
    max_artifact_bytes: int,
) -> list[Artifact]:
    """An analysis's artifacts; pending ones are checked against storage first (until final)."""
    analysis = get_analysis(session, principal=principal, analysis_id=analysis_id)
    artifacts = analysis_artifacts(analysis)
    release_read_only(session)  # no database lock held while storage answers
    if analysis.status not in AnalysisStatus.FINAL:
        for artifact in artifacts:
            _confirm_artifact(storage, artifact, max_artifact_bytes)
    session.commit()
    return artifacts


def get_artifact(
    session: Session,
    storage: ObjectStorage,
    *,
    principal: Principal,
    analysis_id: uuid.UUID,
    name: str,
    max_artifact_bytes: int,
) -> Artifact:
    """An uploaded artifact of an analysis the caller can see."""
    analysis = get_analysis(session, principal=principal, analysis_id=analysis_id)
    artifact = session.scalar(
        sa.select(Artifact).where(Artifact.analysis_id == analysis.id, Artifact.name == name)
    )
    if artifact is None:
        raise NotFound(f"analysis {analysis.id} has no artifact {name!r}", field="artifact_name")
    release_read_only(session)  # no database lock held while storage answers
    if analysis.status not in AnalysisStatus.FINAL:  # finalizing confirmed what had come
        _confirm_artifact(storage, artifact, max_artifact_bytes)
    session.commit()
    if artifact.state != ArtifactState.UPLOADED:
        raise NotFound(
            f"artifact {name!r} is {artifact.state}, not uploaded", field="artifact_name"
        )
    return artifact


def open_artifact(storage: ObjectStorage, artifact: Artifact) -> OpenedObject:
    """Start reading an artifact: size from what storage serves, not from the row."""
    try:
        return storage.open_object(artifact.object_key)
    except ObjectNotFound as exc:
        raise NotFound(f"artifact {artifact.name!r} is missing from storage") from exc


def artifact_download_url(
    storage: ObjectStorage, artifact: Artifact, *, expires_in: int, base_url: str
) -> str:
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", artifact.name)
    return storage.presign_get(artifact.object_key, expires_in, base_url, filename=filename)


# --- Step 5: bulk annotations (HMAC) -------------------------------------------------------


@dataclass(frozen=True)
class BulkOutcome:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False
    # The body rendered once: sent as the answer and stored for replays as it is.
    content: bytes = b""

    def json_bytes(self) -> bytes:
        return self.content or render_json(self.body)


def _stored_answer(session: Session, scope: str, key: str, request_hash: str) -> BulkOutcome | None:
    record = session.scalar(
        sa.select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise Conflict(
            f"{IDEMPOTENCY_HEADER} {key!r} was already used for a different request; "
            "use a new key for new annotations",
            field=IDEMPOTENCY_HEADER,
        )
    return BulkOutcome(record.status_code, record.response, replayed=True)


def _created(row: dict[str, Any] | Prediction) -> dict[str, Any]:
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return {
        "id": str(get("id")),
        "annotation_type": get("annotation_type"),
        "class_name": get("class_name"),
        "confidence": get("confidence"),
        "client_id": get("client_id"),
    }


def submit_annotations(
    session: Session,
    *,
    analysis_id: uuid.UUID,
    annotations: Any,
    replace: bool,
    idempotency_key: str | None,
    request_hash: str,
    max_count: int,
) -> BulkOutcome:
    """Validate every annotation, then insert them all at once (or replace the analysis's)."""
    if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise InvalidInput(
            f"{IDEMPOTENCY_HEADER} must be 1 to 200 printable characters", field=IDEMPOTENCY_HEADER
        )
    analysis = _locked_analysis(session, analysis_id)
    scope = f"bulk:{analysis.id}"
    if idempotency_key is not None:
        stored = _stored_answer(session, scope, idempotency_key, request_hash)
        if stored is not None:
            session.commit()
            return stored
    if analysis.status in AnalysisStatus.FINAL:
        raise Conflict(
            f"analysis {analysis.id} is {analysis.status}: annotations are accepted while it is "
            "queued or processing",
            field="status",
        )
    if isinstance(annotations, list) and len(annotations) > max_count:
        raise PayloadTooLarge(
            f"annotations: {len(annotations)} annotations in one request, the limit is "
            f"{max_count} (ML_MAX_ANNOTATIONS_PER_REQUEST); send several requests",
            field="annotations",
        )
    width, height = session.execute(
        sa.select(Image.width, Image.height).where(Image.id == analysis.image_id)
    ).one()
    valid = validate_annotations(
        annotations,
        width=width,
        height=height,
        artifact_names=_artifact_names(session, analysis.id, annotations),
    )
    replaced = 0
    present: dict[str, Prediction] = {}
    if replace:
        result = session.execute(sa.delete(Prediction).where(Prediction.analysis_id == analysis.id))
        replaced = affected_rows(result)
    else:
        present = _present_client_ids(session, analysis.id, valid)
    new_rows = _rows(analysis.id, [a for a in valid if a.client_id not in present])
    fresh = iter(new_rows)
    listed = [
        _created(present[a.client_id]) if a.client_id in present else _created(next(fresh))
        for a in valid
    ]
    body = {
        "created_count": len(new_rows),
        "annotations": listed,
        "already_present_count": len(valid) - len(new_rows),
        "replaced_count": replaced,
    }
    content = render_json(body)
    try:
        if idempotency_key is not None:
            _store_answer(session, scope, idempotency_key, request_hash, 201, content)
        insert_rows(session, analysis.id, new_rows)
        if new_rows or replace:
            touch(analysis)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(
            "a concurrent request stored the same annotation ids or Idempotency-Key; retry",
            field="annotations",
        ) from exc
    return BulkOutcome(201, body, content=content)


def _store_answer(
    session: Session, scope: str, key: str, request_hash: str, status_code: int, content: bytes
) -> None:
    """Keep the answer for replays, passing the rendered JSON on instead of encoding it again."""
    text = sa.bindparam("response", content.decode("utf-8"), type_=sa.Text)
    response = sa.cast(text, JSONB) if session.get_bind().dialect.name == "postgresql" else text
    session.execute(
        sa.insert(IdempotencyRecord).values(
            scope=scope,
            key=key,
            request_hash=request_hash,
            status_code=status_code,
            response=response,
        )
    )


# --- Reads and deletion (user auth) --------------------------------------------------------


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
    query = sa.select(Analysis).where(Analysis.image_id == image.id)
    if model_name:
        query = query.where(Analysis.model_name == model_name)
    if status:
        query = query.where(Analysis.status == normalize_status(status))
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    query = query.order_by(Analysis.created_at.desc(), Analysis.id.desc())
    return list(session.scalars(query.limit(limit).offset(offset))), total


@dataclass(frozen=True)
class PredictionFilters:
    annotation_type: str | None = None
    class_name: str | None = None
    min_confidence: float | None = None


def predictions_query(
    analysis_id: uuid.UUID, filters: PredictionFilters | None = None
) -> sa.Select[Prediction]:
    """An analysis's predictions in posted order, optionally filtered."""
    query = sa.select(Prediction).where(Prediction.analysis_id == analysis_id)
    if filters and filters.annotation_type:
        query = query.where(Prediction.annotation_type == filters.annotation_type)
    if filters and filters.class_name:
        query = query.where(Prediction.class_name == filters.class_name)
    if filters and filters.min_confidence is not None:
        query = query.where(Prediction.confidence >= filters.min_confidence)
    return query.order_by(Prediction.created_at, Prediction.id)


def list_predictions(
    session: Session,
    *,
    principal: Principal,
    analysis_id: uuid.UUID,
    filters: PredictionFilters,
    limit: int,
    offset: int,
) -> tuple[list[Prediction], int]:
    """A page of an analysis's predictions with the total matching the filters."""
    analysis = get_analysis(session, principal=principal, analysis_id=analysis_id)
    query = predictions_query(analysis.id, filters)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(query.limit(limit).offset(offset))), total


def predictions_json(
    session: Session, *, analysis: Analysis, filters: PredictionFilters, limit: int, offset: int
) -> tuple[bytes, int]:
    """A page of the predictions of an analysis the caller may see (`get_analysis` first), as
    the JSON of a list of PredictionRead, and the total matching the filters.

    On PostgreSQL the database builds the JSON in the same query as the total: a page of 1,000
    annotations is one round trip and no Python object per annotation. Elsewhere the rows are
    read as plain tuples and rendered here; both give the same JSON values. Pages are kept in
    memory (`PAGE_CACHE`) under the analysis's `updated_at`, which every change of its
    predictions moves (`insert_rows`, replacements), so a page is reused only while it holds.
    """
    key = (analysis.id, filters, limit, offset)
    version = analysis.updated_at
    cached = PAGE_CACHE.get(key, version)
    if cached is not None:
        return cached
    shape = (
        bool(filters.annotation_type),
        bool(filters.class_name),
        filters.min_confidence is not None,
    )
    params = {
        "analysis_id": analysis.id,
        "limit": limit,
        "offset": offset,
        "annotation_type": filters.annotation_type,
        "class_name": filters.class_name,
        "min_confidence": filters.min_confidence,
    }
    if session.get_bind().dialect.name == "postgresql":
        row = session.connection().execute(_page_statement(shape, "json"), params).one()
        content, count = row.items.encode("utf-8"), row.total
    else:
        rows = session.connection().execute(_page_statement(shape, "rows"), params)
        content = render_json([_prediction_dict(row) for row in rows])
        count = session.connection().execute(_page_statement(shape, "total"), params).scalar()
    PAGE_CACHE.put(key, version, content, (content, count or 0))
    return content, count or 0


def touch(analysis: Analysis) -> None:
    """Mark the analysis changed (its predictions did): rendered pages of it are not reused.

    Not needed for an analysis created in the current transaction (`create_analysis_row`),
    which no one else can have read yet.
    """
    if _created_here(analysis):
        return
    now, before = utcnow(), analysis.updated_at
    # Strictly later than before, even if the clock stepped back.
    analysis.updated_at = now if before is None else max(now, before + timedelta(microseconds=1))


def _created_here(analysis: Analysis) -> bool:
    """Whether `create_analysis_row` made it in its session's current transaction."""
    created_in = analysis.__dict__.get("_lookout_created_in")
    session = Session.object_session(analysis)
    if created_in is None or session is None:
        return False
    return created_in() is session.get_transaction()


@functools.cache  # eight filter shapes, three forms
def _page_statement(shape: tuple[bool, bool, bool], form: str) -> sa.Select[Any]:
    """`predictions_query` with bound values: "rows", "total", or "json" (PostgreSQL: the
    total and the page as JSON text, in one statement)."""
    by_type, by_class, by_confidence = shape
    query = sa.select(*(getattr(Prediction, n) for n in _PREDICTION_COLUMNS)).where(
        Prediction.analysis_id == sa.bindparam("analysis_id")
    )
    if by_type:
        query = query.where(Prediction.annotation_type == sa.bindparam("annotation_type"))
    if by_class:
        query = query.where(Prediction.class_name == sa.bindparam("class_name"))
    if by_confidence:
        query = query.where(Prediction.confidence >= sa.bindparam("min_confidence"))
    total = sa.select(sa.func.count()).select_from(query.subquery())
    if form == "total":
        return total
    page = query.order_by(Prediction.created_at, Prediction.id)
    page = page.limit(sa.bindparam("limit", type_=sa.Integer))
    page = page.offset(sa.bindparam("offset", type_=sa.Integer))
    if form == "rows":
        return page
    sub = page.subquery()
    c = sub.c
    items = sa.func.coalesce(
        sa.func.json_agg(aggregate_order_by(_pg_prediction_json(c), c.created_at, c.id)),
        sa.literal_column("'[]'::json"),
    )
    items_text = sa.select(sa.cast(items, sa.Text)).select_from(sub)
    return sa.select(
        total.scalar_subquery().label("total"), items_text.scalar_subquery().label("items")
    )


PAGE_CACHE = RenderedCache(max_bytes=64 * 1024 * 1024)


_PREDICTION_COLUMNS = (
    "id",
    "annotation_type",
    "class_name",
    "confidence",
    "data",
    "x1",
    "y1",
    "x2",
    "y2",
    "client_id",
    "created_at",
)


def _prediction_dict(row: Any) -> dict[str, Any]:
    """PredictionRead as JSON values (see `schemas.prediction_read`)."""
    box = None if None in (row.x1, row.y1, row.x2, row.y2) else [row.x1, row.y1, row.x2, row.y2]
    return {
        "id": str(row.id),
        "annotation_type": row.annotation_type,
        "class_name": row.class_name,
        "confidence": row.confidence,
        "data": row.data,
        "bbox_xyxyn": box,
        "client_id": row.client_id,
        "created_at": iso(row.created_at),
    }


def _pg_prediction_json(c: Any) -> Any:
    """json_build_object of one prediction, field for field as `_prediction_dict`."""
    has_box = sa.and_(c.x1.is_not(None), c.y1.is_not(None), c.x2.is_not(None), c.y2.is_not(None))
    box = sa.case((has_box, sa.func.json_build_array(c.x1, c.y1, c.x2, c.y2)), else_=sa.null())
    key = json_key
    return sa.func.json_build_object(
        key("id"),
        c.id,
        key("annotation_type"),
        c.annotation_type,
        key("class_name"),
        c.class_name,
        key("confidence"),
        c.confidence,
        key("data"),
        c.data,
        key("bbox_xyxyn"),
        box,
        key("client_id"),
        c.client_id,
        key("created_at"),
        pg_json_time(c.created_at),
    )


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
    session.delete(analysis)
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


def _delete_quietly(storage: ObjectStorage, key: str) -> None:
    try:
        storage.delete(key)
    except Exception:  # a rejected upload keeps its row; a leftover object is only logged
        log.exception("could not delete object %s", key)
