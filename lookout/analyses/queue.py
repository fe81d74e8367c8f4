"""The work queue of analyses: queue a model over images, claim work under a lease, heartbeat.

Queueing (user auth): one `queued` analysis per selected image of a project, unless the image
already has an analysis of that model and version. Images are taken in upload order, in batches;
each batch is one transaction that

1. locks the project row (`FOR NO KEY UPDATE` on PostgreSQL, so uploads into the project, which
   take `FOR KEY SHARE` on it through their foreign key, are not blocked; on SQLite every write
   transaction already holds the database's write lock, see `lookout.db`), which serializes
   concurrent queue calls on one project, and
2. inserts with a single `INSERT ... SELECT ... WHERE NOT EXISTS (same image, model, version)`.

Two queue calls on the same project therefore run one batch after the other and never create
the same analysis twice; a call interrupted half-way leaves whole batches, and calling again
queues the rest (that is the idempotency users rely on).

Claiming (HMAC-signed, for workers): in one transaction, expired leases are handed back first
(`processing` whose `lease_expires_at` passed goes back to `queued`, or to `failed` with the
reason once it was attempted `max_attempts` times), then up to `limit` queued analyses of the
model are selected with `FOR UPDATE SKIP LOCKED` (PostgreSQL: concurrent claims skip each
other's rows instead of waiting; SQLite: the transaction holds the write lock from `BEGIN
IMMEDIATE`, so select-then-update is atomic) and moved to `processing` under the worker's lease.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from lookout.analyses.models import Analysis, AnalysisStatus
from lookout.auth.principal import Principal
from lookout.config import QueueLimits
from lookout.db import JSONType, UTCDateTime, affected_rows, utcnow
from lookout.errors import Conflict, InvalidInput, NotFound
from lookout.images.models import Image
from lookout.projects import service as projects
from lookout.projects.models import Project
from lookout.sequences.models import Sequence

MAX_CLAIM = 100
MAX_LEASE_SECONDS = 24 * 3600


class QueueSettings(BaseSettings):
    """Settings of the work queue (environment or `.env`)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    max_attempts: int = Field(3, ge=1, alias="ML_QUEUE_MAX_ATTEMPTS")


@cache
def queue_settings() -> QueueSettings:
    return QueueSettings()


# --- SQL helpers ---------------------------------------------------------------------------


class new_uuid(FunctionElement[uuid.UUID]):
    """A random UUID made by the database, so INSERT ... SELECT can give every row its id."""

    type = sa.Uuid()
    inherit_cache = True


@compiles(new_uuid, "postgresql")
def _uuid_postgresql(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return "gen_random_uuid()"


@compiles(new_uuid, "sqlite")
def _uuid_sqlite(_element: Any, _compiler: Any, **_kw: Any) -> str:
    # 32 hex digits (how sa.Uuid is stored on SQLite) laid out as a version-4 UUID.
    return (
        "lower(hex(randomblob(4)) || hex(randomblob(2)) || '4' || substr(hex(randomblob(2)), 2) "
        "|| substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) "
        "|| hex(randomblob(6)))"
    )


def _same_model(model_name: str, model_version: str, *, retry_failed: bool) -> sa.Exists:
    """An analysis of this image with this model and version (that did not fail, if asked)."""
    query = sa.select(Analysis.id).where(
        Analysis.image_id == Image.id,
        Analysis.model_name == model_name,
        Analysis.model_version == model_version,
    )
    if retry_failed:
        query = query.where(
            Analysis.status.not_in([AnalysisStatus.FAILED, AnalysisStatus.CANCELLED])
        )
    return query.exists()


# --- Queueing (user auth) ------------------------------------------------------------------


@dataclass(frozen=True)
class QueueResult:
    queued: int
    already_present: int
    over_limit: int


@dataclass(frozen=True)
class QueueSelection:
    """Which images of a project to queue: all, one sequence, a capture-time range."""

    sequence_id: uuid.UUID | None = None
    captured_after: datetime | None = None  # inclusive
    captured_before: datetime | None = None  # exclusive


def _selection_filter(project_id: uuid.UUID, selection: QueueSelection) -> list[Any]:
    conditions: list[Any] = [Image.project_id == project_id]
    if selection.sequence_id is not None:
        conditions.append(Image.sequence_id == selection.sequence_id)
    if selection.captured_after is not None:
        conditions.append(Image.captured_at >= selection.captured_after)
    if selection.captured_before is not None:
        conditions.append(Image.captured_at < selection.captured_before)
    return conditions


@dataclass(frozen=True)
class QueueJob:
    """The analyses a queue call creates: which model, with what, by whom."""

    model_name: str
    model_version: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    retry_failed: bool = False
    created_by_id: uuid.UUID | None = None


def queue_model(
    session: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    job: QueueJob,
    limits: QueueLimits,
    selection: QueueSelection = QueueSelection(),
    limit: int | None = None,
) -> QueueResult:
    """Queue one analysis per selected image that has none of this model and version yet.

    `limit` caps the number of analyses queued by this call (images in upload order);
    `job.retry_failed` queues a new analysis for images whose analyses of the model all failed
    or were cancelled. Images already holding `limits.max_per_image` analyses are skipped and
    counted in `over_limit`. Commits once per batch.
    """
    _check_request(job, limits, selection, limit)
    project = projects.get_project(session, principal=principal, project_id=project_id)
    _check_sequence(session, project.id, selection.sequence_id)
    session.commit()
    run = _QueueRun(session, project.id, job, limits, selection)
    total = QueueResult(0, 0, 0)
    while limit is None or total.queued < limit:
        batch, more = run.next_batch(None if limit is None else limit - total.queued)
        total = QueueResult(
            total.queued + batch.queued,
            total.already_present + batch.already_present,
            total.over_limit + batch.over_limit,
        )
        if not more:
            break
    return total


def _check_request(
    job: QueueJob, limits: QueueLimits, selection: QueueSelection, limit: int | None
) -> None:
    if limits.allowed_models and job.model_name not in limits.allowed_models:
        raise InvalidInput(
            f"Model not in allowed list: {job.model_name!r} is not one of "
            f"{', '.join(sorted(limits.allowed_models))} (ML_ALLOWED_MODELS)",
            field="model_name",
        )
    if limit is not None and limit < 1:
        raise InvalidInput("limit must be at least 1", field="limit")
    after, before = selection.captured_after, selection.captured_before
    if after is not None and before is not None and after >= before:
        raise InvalidInput("captured_after must be before captured_before", field="captured_after")


def _check_sequence(session: Session, project_id: uuid.UUID, sequence_id: uuid.UUID | None) -> None:
    if sequence_id is None:
        return
    query = sa.select(Sequence.id).where(
        Sequence.id == sequence_id, Sequence.project_id == project_id, Sequence.deleted_at.is_(None)
    )
    if session.scalar(query) is None:
        raise NotFound(f"project {project_id} has no sequence {sequence_id}", field="sequence_id")


class _QueueRun:
    """One queue call's walk over the selected images, a batch (and a commit) at a time."""

    def __init__(
        self,
        session: Session,
        project_id: uuid.UUID,
        job: QueueJob,
        limits: QueueLimits,
        selection: QueueSelection,
    ) -> None:
        self.session = session
        self.project_id = project_id
        self.job = job
        self.limits = limits
        self.conditions = _selection_filter(project_id, selection)
        self.same_model = _same_model(
            job.model_name, job.model_version, retry_failed=job.retry_failed
        )
        self.after: tuple[datetime, uuid.UUID] | None = None

    def next_batch(self, remaining: int | None) -> tuple[QueueResult, bool]:
        """Queue the next batch (at most `remaining`); whether there may be more after it."""
        # Lock first: the batch below must see every analysis a concurrent call committed.
        self.session.execute(
            sa.select(Project.id)
            .where(Project.id == self.project_id)
            .with_for_update(key_share=True)
        )
        ids = self._next_image_ids()
        if not ids:
            self.session.commit()
            return QueueResult(0, 0, 0), False
        present_ids, full_ids = self._skipped(ids)
        candidates = [i for i in ids if i not in present_ids and i not in full_ids]
        if remaining is not None and len(candidates) > remaining:
            candidates = candidates[:remaining]
            # Images after the cut were not examined: leave them out of the counts.
            examined = set(ids[: ids.index(candidates[-1]) + 1]) if candidates else set()
            present_ids &= examined
            full_ids &= examined
        inserted = _insert_batch(
            self.session, image_ids=candidates, job=self.job, same_model=self.same_model
        )
        self.session.commit()
        present = len(present_ids) + (len(candidates) - inserted)
        return QueueResult(inserted, present, len(full_ids)), len(ids) == self.limits.batch_size

    def _next_image_ids(self) -> list[uuid.UUID]:
        page = sa.select(Image.created_at, Image.id).where(*self.conditions)
        if self.after is not None:
            page = page.where(sa.tuple_(Image.created_at, Image.id) > sa.tuple_(*self.after))
        order = page.order_by(Image.created_at, Image.id).limit(self.limits.batch_size)
        rows = self.session.execute(order).all()
        if rows:
            self.after = (rows[-1][0], rows[-1][1])
        return [row[1] for row in rows]

    def _skipped(self, ids: list[uuid.UUID]) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
        """Images that have the model already, and images with too many analyses."""
        count = (
            sa.select(sa.func.count(Analysis.id)).where(Analysis.image_id == Image.id)
        ).scalar_subquery()
        in_batch = Image.id.in_(ids)
        present = set(self.session.scalars(sa.select(Image.id).where(in_batch, self.same_model)))
        full = sa.select(Image.id).where(
            in_batch, ~self.same_model, count >= self.limits.max_per_image
        )
        return present, set(self.session.scalars(full))


def _insert_batch(
    session: Session, *, image_ids: list[uuid.UUID], job: QueueJob, same_model: sa.Exists
) -> int:
    """One INSERT ... SELECT for a batch of images; the NOT EXISTS guard makes it idempotent."""
    if not image_ids:
        return 0
    now = utcnow()
    columns = [
        "id",
        "image_id",
        "model_name",
        "model_version",
        "parameters",
        "provenance",
        "status",
        "attempts",
        "created_by_id",
        "created_at",
        "updated_at",
    ]
    source = sa.select(
        new_uuid(),
        Image.id,
        sa.literal(job.model_name, sa.String(200)),
        sa.literal(job.model_version, sa.String(100)),
        sa.literal(job.parameters, JSONType),
        sa.literal({"source": "queue"}, JSONType),
        sa.literal(AnalysisStatus.QUEUED, sa.String(20)),
        sa.literal(0, sa.Integer),
        sa.literal(job.created_by_id, sa.Uuid),
        sa.literal(now, UTCDateTime),
        sa.literal(now, UTCDateTime),
    ).where(Image.id.in_(image_ids), ~same_model)
    statement = sa.insert(Analysis).from_select(columns, source)
    if session.get_bind().dialect.insert_returning:  # exact on every driver
        return len(session.execute(statement.returning(Analysis.id)).all())
    return affected_rows(session.execute(statement)) or 0


# --- Claiming, heartbeats and release (HMAC) -----------------------------------------------


@dataclass(frozen=True)
class ClaimedAnalysis:
    analysis: Analysis
    width: int
    height: int


@dataclass(frozen=True)
class ClaimResult:
    analyses: list[ClaimedAnalysis]
    requeued: int
    failed: int
    remaining: int


def _check_worker_id(worker_id: str) -> str:
    worker_id = worker_id.strip()
    if not 1 <= len(worker_id) <= 200 or not worker_id.isprintable():
        raise InvalidInput("worker_id must be 1 to 200 printable characters", field="worker_id")
    return worker_id


def _check_lease(lease_seconds: int) -> int:
    if not 1 <= lease_seconds <= MAX_LEASE_SECONDS:
        raise InvalidInput(
            f"lease_seconds must be between 1 and {MAX_LEASE_SECONDS}", field="lease_seconds"
        )
    return lease_seconds


def expire_leases(session: Session, *, now: datetime, max_attempts: int) -> tuple[int, int]:
    """Hand back analyses whose lease expired: to `queued`, or `failed` after max_attempts.

    Rows another transaction holds are skipped (a claim running at the same time handles them),
    so concurrent claims never wait on each other here. Returns (requeued, failed).
    """
    expired = sa.select(Analysis.id, Analysis.attempts).where(
        Analysis.status == AnalysisStatus.PROCESSING,
        Analysis.lease_expires_at.is_not(None),
        Analysis.lease_expires_at < now,
    )
    rows = session.execute(expired.order_by(Analysis.id).with_for_update(skip_locked=True)).all()
    if not rows:
        return 0, 0
    give_up = [row.id for row in rows if row.attempts >= max_attempts]
    retry = [row.id for row in rows if row.attempts < max_attempts]
    if give_up:
        reason = (
            sa.literal("lease expired ")
            + sa.cast(Analysis.attempts, sa.String)
            + sa.literal(" times: the worker ")
            + sa.func.coalesce(Analysis.worker_id, sa.literal("?"))
            + sa.literal(
                f" stopped heartbeating; not retried again (ML_QUEUE_MAX_ATTEMPTS={max_attempts})"
            )
        )
        session.execute(
            sa.update(Analysis)
            .where(Analysis.id.in_(give_up), Analysis.status == AnalysisStatus.PROCESSING)
            .values(
                status=AnalysisStatus.FAILED,
                error_message=reason,
                completed_at=now,
                lease_expires_at=None,
            )
        )
    if retry:
        session.execute(
            sa.update(Analysis)
            .where(Analysis.id.in_(retry), Analysis.status == AnalysisStatus.PROCESSING)
            .values(
                status=AnalysisStatus.QUEUED, worker_id=None, lease_expires_at=None, started_at=None
            )
        )
    return len(retry), len(give_up)


def _claimable(
    model_name: str, model_version: str | None, project_id: uuid.UUID | None
) -> sa.Select[uuid.UUID]:
    query = sa.select(Analysis.id).where(
        Analysis.status == AnalysisStatus.QUEUED, Analysis.model_name == model_name
    )
    if model_version is not None:
        query = query.where(Analysis.model_version == model_version)
    if project_id is not None:
        query = query.join(Image, Image.id == Analysis.image_id).where(
            Image.project_id == project_id
        )
    return query


def claim(
    session: Session,
    *,
    worker_id: str,
    model_name: str,
    model_version: str | None = None,
    project_id: uuid.UUID | None = None,
    limit: int = 1,
    lease_seconds: int = 120,
    max_attempts: int = 3,
) -> ClaimResult:
    """Hand back expired leases, then move up to `limit` queued analyses to this worker."""
    worker_id = _check_worker_id(worker_id)
    _check_lease(lease_seconds)
    if not 1 <= limit <= MAX_CLAIM:
        raise InvalidInput(f"limit must be between 1 and {MAX_CLAIM}", field="limit")
    now = utcnow()
    requeued, failed = expire_leases(session, now=now, max_attempts=max_attempts)
    query = (
        _claimable(model_name, model_version, project_id)
        .order_by(Analysis.created_at, Analysis.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Analysis)
    )
    ids = list(session.scalars(query))
    if ids:
        session.execute(
            sa.update(Analysis)
            .where(Analysis.id.in_(ids), Analysis.status == AnalysisStatus.QUEUED)
            .values(
                status=AnalysisStatus.PROCESSING,
                worker_id=worker_id,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                attempts=Analysis.attempts + 1,
                started_at=now,
                error_message=None,
            )
            .execution_options(synchronize_session=False)
        )
    rows = session.execute(
        sa.select(Analysis, Image.width, Image.height)
        .join(Image, Image.id == Analysis.image_id)
        .where(Analysis.id.in_(ids))
        .order_by(Analysis.created_at, Analysis.id)
        .execution_options(populate_existing=True)
    ).all()
    remaining_query = sa.select(sa.func.count()).select_from(
        _claimable(model_name, model_version, project_id).subquery()
    )
    remaining = session.scalar(remaining_query) or 0
    session.commit()
    claimed = [ClaimedAnalysis(row[0], row[1], row[2]) for row in rows]
    return ClaimResult(claimed, requeued=requeued, failed=failed, remaining=remaining)


def _held(session: Session, analysis_id: uuid.UUID, worker_id: str) -> Analysis:
    """The analysis, locked, if this worker holds its lease; else NotFound or Conflict."""
    analysis = session.scalar(
        sa.select(Analysis).where(Analysis.id == analysis_id).with_for_update()
    )
    if analysis is None:
        raise NotFound(f"analysis {analysis_id} not found")
    if analysis.status != AnalysisStatus.PROCESSING or analysis.worker_id != worker_id:
        holder = f"held by worker {analysis.worker_id}" if analysis.worker_id else "not held"
        raise Conflict(
            f"analysis {analysis.id} is not held by worker {worker_id}: it is {analysis.status} "
            f"and {holder}",
            field="worker_id",
        )
    return analysis


def heartbeat(
    session: Session, *, analysis_id: uuid.UUID, worker_id: str, lease_seconds: int
) -> Analysis:
    """Extend the lease of an analysis this worker holds (Conflict when it does not)."""
    worker_id = _check_worker_id(worker_id)
    _check_lease(lease_seconds)
    analysis = _held(session, analysis_id, worker_id)
    analysis.lease_expires_at = utcnow() + timedelta(seconds=lease_seconds)
    session.commit()
    return analysis


def release(session: Session, *, analysis_id: uuid.UUID, worker_id: str) -> Analysis:
    """Give a held analysis back to the queue without counting the attempt."""
    worker_id = _check_worker_id(worker_id)
    analysis = _held(session, analysis_id, worker_id)
    analysis.status = AnalysisStatus.QUEUED
    analysis.worker_id = None
    analysis.lease_expires_at = None
    analysis.started_at = None
    analysis.attempts = max(0, analysis.attempts - 1)
    session.commit()
    return analysis


def analysis_image(session: Session, *, analysis_id: uuid.UUID) -> Image:
    """The image an analysis is about (for signed workers; no user scope applies)."""
    row = session.execute(
        sa.select(Image)
        .join(Analysis, Analysis.image_id == Image.id)
        .where(Analysis.id == analysis_id)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"analysis {analysis_id} not found")
    session.commit()  # also stores the request's nonce
    return row
