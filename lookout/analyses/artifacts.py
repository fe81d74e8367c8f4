"""Artifacts of an analysis: presigned uploads (HMAC), confirmation, reads (user auth)."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.analyses.models import (
    Analysis,
    AnalysisStatus,
    Artifact,
    ArtifactState,
    artifact_key_of_upload,
    upload_key,
)
from lookout.analyses.repository import AnalysisRepository, locked_analysis
from lookout.analyses.schemas import ArtifactSpec
from lookout.auth.principal import Principal
from lookout.db import release_read_only, utcnow
from lookout.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from lookout.storage import ObjectInfo, ObjectNotFound, ObjectStorage
from lookout.storage.base import OpenedObject

log = logging.getLogger(__name__)


# Whole-string patterns: always used with `fullmatch` (`$` would accept a trailing newline).
ARTIFACT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,199}")


CONTENT_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]{0,62}/[A-Za-z0-9][\w!#$&^.+-]{0,62}", re.ASCII)


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


def confirm_artifact(storage: ObjectStorage, artifact: Artifact, max_bytes: int) -> None:
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
    analysis = locked_analysis(session, analysis_id)
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
    analysis = AnalysisRepository(session, principal).get(analysis_id)
    artifacts = analysis_artifacts(analysis)
    release_read_only(session)  # no database lock held while storage answers
    if analysis.status not in AnalysisStatus.FINAL:
        for artifact in artifacts:
            confirm_artifact(storage, artifact, max_artifact_bytes)
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
    analysis = AnalysisRepository(session, principal).get(analysis_id)
    artifact = session.scalar(
        sa.select(Artifact).where(Artifact.analysis_id == analysis.id, Artifact.name == name)
    )
    if artifact is None:
        raise NotFound(f"analysis {analysis.id} has no artifact {name!r}", field="artifact_name")
    release_read_only(session)  # no database lock held while storage answers
    if analysis.status not in AnalysisStatus.FINAL:  # finalizing confirmed what had come
        confirm_artifact(storage, artifact, max_artifact_bytes)
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


def _delete_quietly(storage: ObjectStorage, key: str) -> None:
    try:
        storage.delete(key)
    except Exception:  # a rejected upload keeps its row; a leftover object is only logged
        log.exception("could not delete object %s", key)
