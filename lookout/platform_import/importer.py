"""Orchestration: organizations → cameras → days → sequences → frames → drafts, with statistics."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import httpx

from lookout.platform_import.http import (
    RetryPolicy,
    TransportFailure,
    error_detail,
    make_http_client,
    send,
)
from lookout.platform_import.lookout_client import LookoutAuthError, LookoutClient, LookoutError
from lookout.platform_import.platform_client import PlatformClient, PlatformError
from lookout.platform_import.platform_models import (
    PlatformCamera,
    PlatformDetection,
    PlatformSequence,
    ShapeProblem,
)
from lookout.platform_import.progress import Bars
from lookout.platform_import.settings import Credential

log = logging.getLogger(__name__)
# Lookout stores a frame only after fetching it from the platform itself (with its own retries).
LOOKOUT_MIN_TIMEOUT_S = 60.0

SOURCE = "pyronear"
MODEL_NAME = "platform"
MODEL_VERSION = "pyronear-alert-api"
VIA_SERVER = "via-server"
VIA_IMPORTER = "via-importer"
# Review stages a person has touched: a draft never replaces them.
HUMAN_STAGES = frozenset({"in_review", "annotated", "needs_check"})
# Frames the server fetches in one request (a sequence of the platform has 1 to ~30).
FRAMES_PER_BATCH = 10

T = TypeVar("T")
R = TypeVar("R")


class ImportAborted(Exception):
    """A problem that stops the whole run (bad credentials, Lookout unreachable)."""


class SequenceFailed(Exception):
    """A problem that fails one sequence only."""


@dataclass
class ImportOptions:
    """Everything one run needs (the command line's flags, resolved)."""

    date_from: date
    date_end: date
    url_api_platform: str
    url_api_annotation: str
    credentials: list[Credential] = field(default_factory=list)
    admin: Credential | None = None
    api_key: str | None = None
    detections_limit: int = 30
    detections_desc: bool = False
    confidence_threshold: float = 0.0
    iou_threshold: float = 0.3
    min_cluster_size: int = 1
    dry_run: bool = False
    skip_platform_fetch: bool = False
    concurrency: int = 8
    transfer: str = VIA_SERVER
    page_size: int = 50
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    def days(self) -> list[date]:
        """Every day from date_from to date_end, both included."""
        span = (self.date_end - self.date_from).days
        return [self.date_from + timedelta(days=i) for i in range(span + 1)]

    def draft_params(self) -> dict[str, Any]:
        """The body of a draft request."""
        return {
            "confidence_threshold": self.confidence_threshold,
            "iou_threshold": self.iou_threshold,
            "min_cluster_size": self.min_cluster_size,
            "model_name": MODEL_NAME,
            "force": False,
        }


@dataclass
class ImportStats:
    """Counters of one run (thread-safe through ``add``)."""

    total_sequences: int = 0
    successful_sequences: int = 0
    failed_sequences: int = 0
    annotations_created: int = 0
    annotations_skipped: int = 0
    annotations_unchanged: int = 0
    sequences_created: int = 0
    sequences_already_present: int = 0
    frames_created: int = 0
    frames_already_present: int = 0
    frames_failed: int = 0
    zero_area_boxes: int = 0
    invalid_items: int = 0
    fetch_errors: int = 0
    failures: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        """Add to some counters."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def fail(self, what: str, reason: str, **counts: int) -> None:
        """Record and log one failure."""
        log.error("%s failed: %s", what, reason)
        with self._lock:
            self.failures.append(f"{what}: {reason}")
        self.add(**counts)

    @property
    def ok(self) -> bool:
        """Whether nothing failed."""
        return not (self.failed_sequences or self.invalid_items or self.fetch_errors)

    def lines(self) -> list[str]:
        """The final statistics block."""
        return [
            "Processing completed!",
            "Final Statistics:",
            f"  Total sequences: {self.total_sequences}",
            f"  Successful sequences: {self.successful_sequences}",
            f"  Failed sequences: {self.failed_sequences}",
            f"  Annotations created: {self.annotations_created}",
            f"  Annotations skipped (review started by a person): {self.annotations_skipped}",
            f"  Annotations already drafted (nothing new): {self.annotations_unchanged}",
            f"  Sequences created: {self.sequences_created}",
            f"  Sequences already present: {self.sequences_already_present}",
            f"  Frames created: {self.frames_created}",
            f"  Frames already present: {self.frames_already_present}",
            f"  Frames failed: {self.frames_failed}",
            f"  Zero-area boxes left out: {self.zero_area_boxes}",
            f"  Invalid platform items: {self.invalid_items}",
            f"  Platform fetch errors: {self.fetch_errors}",
        ]


@dataclass
class DryRunPlan:
    """What a real run would do."""

    organizations: set[str] = field(default_factory=set)
    cameras: set[int] = field(default_factory=set)
    sequences: int = 0
    sequences_new: int = 0
    frames: int = 0
    boxes: int = 0
    drafts: int = 0
    drafts_skipped: int = 0

    def lines(self) -> list[str]:
        """The dry-run report."""
        orgs = ", ".join(sorted(self.organizations)) or "none"
        present = self.sequences - self.sequences_new
        return [
            "Dry run: nothing was written.",
            "Would import:",
            f"  Organizations: {len(self.organizations)} ({orgs})",
            f"  Cameras: {len(self.cameras)}",
            f"  Sequences: {self.sequences} (new: {self.sequences_new}, "
            f"already present: {present})",
            f"  Frames: {self.frames} (predicted boxes: {self.boxes})",
            f"  Drafts: {self.drafts} (skipped, review started by a person: {self.drafts_skipped})",
        ]


@dataclass(frozen=True)
class Job:
    """One platform sequence and the login that can read it."""

    sequence: PlatformSequence
    client: PlatformClient


@dataclass(frozen=True)
class Target:
    """Where a platform camera's sequences go in Lookout."""

    project_id: str
    camera_id: str
    camera: PlatformCamera
    organization_name: str


@dataclass(frozen=True)
class FrameResult:
    """What happened to one frame."""

    detection_id: int
    status: str  # "created", "existing" or "failed"
    error: str | None = None


def iso(value: datetime | None) -> str | None:
    """ISO-8601 with an explicit UTC offset."""
    return value.isoformat() if value is not None else None


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    """Drop the keys whose value is None."""
    return {k: v for k, v in values.items() if v is not None}


def camera_payload(target_project: str, cam: PlatformCamera, org_name: str) -> dict[str, Any]:
    """POST /api/cameras body for a platform camera."""
    known = {
        "id",
        "organization_id",
        "name",
        "angle_of_view",
        "elevation",
        "lat",
        "lon",
        "is_trustable",
        "last_image_url",
    }
    # last_image_url is a presigned URL that expires within a day: not worth keeping.
    extra = {k: v for k, v in cam.model_dump(mode="json").items() if k not in known}
    return {
        "project_id": target_project,
        "source": SOURCE,
        "source_id": str(cam.id),
        "name": cam.name,
        "organization_id": str(cam.organization_id),
        "organization_name": org_name,
        "lat": cam.lat,
        "lon": cam.lon,
        "elevation": cam.elevation,
        "angle_of_view": cam.angle_of_view,
        "is_trustable": cam.is_trustable,
        "extra": _compact(extra),
    }


def sequence_payload(seq: PlatformSequence, target: Target) -> dict[str, Any]:
    """POST /api/sequences body for a platform sequence."""
    cam = target.camera
    extra = {
        "cone_azimuth": seq.cone_azimuth,
        "cone_angle": seq.cone_angle,
        "pose_id": seq.pose_id,
        "max_conf": seq.max_conf,
        "temporal_model_score": seq.temporal_model_score,
        "camera_azimuth": seq.camera_azimuth,
        "sequence_azimuth": seq.sequence_azimuth,
        "is_wildfire": seq.is_wildfire,
        "camera_name": cam.name,
        "organisation_id": cam.organization_id,
        "organisation_name": target.organization_name,
    }
    return {
        "project_id": target.project_id,
        "camera_id": target.camera_id,
        "source": SOURCE,
        "source_id": str(seq.id),
        "azimuth": seq.best_azimuth,
        "started_at": iso(seq.started_at),
        "last_seen_at": iso(seq.last_seen_at),
        "source_label": seq.source_label,
        "lat": cam.lat,
        "lon": cam.lon,
        "extra": _compact(extra) | seq.unknown_fields(),
    }


def predictions(det: PlatformDetection) -> dict[str, Any]:
    """The detection's boxes as one analysis of the platform's model."""
    # Lookout refuses a box without area (and drafting would drop it): leave those out.
    annotations = [
        {
            "annotation_type": "bounding_box",
            "class_name": "smoke",
            "confidence": box.confidence,
            "data": {"bbox": box.xyxyn, "format": "xyxyn"},
        }
        for box in det.boxes
        if box.has_area
    ]
    return {"model_name": MODEL_NAME, "model_version": MODEL_VERSION, "annotations": annotations}


def frame_metadata(det: PlatformDetection) -> dict[str, Any]:
    """Frame fields besides the image itself (the multipart ``metadata``)."""
    return {
        "captured_at": iso(det.captured_at),
        "source": SOURCE,
        "source_id": str(det.id),
        "predictions": predictions(det),
    }


class Importer:
    """One import run."""

    def __init__(self, options: ImportOptions, bars: Bars | None = None) -> None:
        """Prepare a run; ``bars`` draws progress."""
        self.options = options
        self.bars = bars or Bars(None)
        self.stats = ImportStats()
        self.plan: DryRunPlan | None = DryRunPlan() if options.dry_run else None
        self._http: httpx.Client | None = None
        self._lookout: LookoutClient | None = None
        self._stored: dict[str, dict[str, Any]] = {}
        self._targets: dict[int, Target | str] = {}
        self._frame_pool: ThreadPoolExecutor | None = None

    @property
    def lookout(self) -> LookoutClient:
        """The Lookout client of this run."""
        assert self._lookout is not None
        return self._lookout

    def run(self) -> ImportStats:
        """Import (or only draft, or only look); raises ImportAborted on fatal problems."""
        opts = self.options
        workers = self._sequence_workers()
        with make_http_client(opts.policy, pool_size=opts.concurrency + workers + 4) as http:
            self._http = http
            # A frame posted to Lookout includes Lookout's own download of it from the
            # platform, so Lookout calls get at least LOOKOUT_MIN_TIMEOUT_S, whatever --timeout.
            lookout_policy = replace(
                opts.policy, timeout_s=max(opts.policy.timeout_s, LOOKOUT_MIN_TIMEOUT_S)
            )
            self._lookout = LookoutClient(
                http, opts.url_api_annotation, api_key=opts.api_key, policy=lookout_policy
            )
            try:
                if opts.skip_platform_fetch:
                    self._draft_stored()
                else:
                    self._import()
            except LookoutAuthError as exc:
                raise ImportAborted(
                    f"Lookout refused the importer ({exc}); pass --api-key / LOOKOUT_API_KEY "
                    "or run Lookout in local mode"
                ) from exc
        return self.stats

    def _sequence_workers(self) -> int:
        """How many sequences are worked on at once: each has one platform call at a time
        (its detections, or Lookout fetching one of its frames), so the platform sees at
        most --concurrency of them."""
        return self.options.concurrency

    def _platform(self, cred: Credential) -> PlatformClient:
        """A platform client for one login, on the shared connection pool."""
        assert self._http is not None
        return PlatformClient(
            self._http,
            self.options.url_api_platform,
            cred.login,
            cred.password,
            policy=self.options.policy,
            page_size=self.options.page_size,
        )

    # ------------------------------------------------------------ import

    def _import(self) -> None:
        """The whole pipeline from the platform to drafted sequences."""
        opts = self.options
        log.info(
            "Importing sequences from %s to %s (platform %s, Lookout %s)",
            opts.date_from,
            opts.date_end,
            opts.url_api_platform,
            opts.url_api_annotation,
        )
        # Credentials first: a wrong password is the most common first-run problem.
        admin = self._login_admin()
        logins = self._logins()
        self._check_lookout()
        organizations = self._organizations(admin)
        cameras = self._cameras(admin)
        jobs = self._fetch_sequences(logins)
        self._stored = self._stored_sequences()
        if opts.dry_run:
            self._preview(jobs, cameras, organizations)
            return
        self._prepare_targets(jobs, cameras, organizations)
        self._run_sequences(jobs)

    def _check_lookout(self) -> None:
        """Fail early when Lookout is unreachable (a dry run only warns)."""
        try:
            self.lookout.check()
        except LookoutError as exc:
            if not self.options.dry_run:
                if isinstance(exc, LookoutAuthError):
                    raise
                raise ImportAborted(f"Cannot reach the annotation API: {exc}") from exc
            log.warning("Cannot use the annotation API (%s); the dry run goes on", exc)

    def _login_admin(self) -> PlatformClient:
        """Log the admin in (organizations and every camera need it)."""
        assert self.options.admin is not None
        admin = self._platform(self.options.admin)
        try:
            admin.login()
        except PlatformError as exc:
            raise ImportAborted(f"{exc} (PLATFORM_ADMIN_LOGIN)") from exc
        return admin

    def _organizations(self, admin: PlatformClient) -> dict[int, str]:
        """Organization names by id."""
        try:
            result = admin.organizations()
        except PlatformError as exc:
            raise ImportAborted(
                f"Failed to fetch organizations with the admin login: {exc} "
                "(PLATFORM_ADMIN_LOGIN must be a platform admin)"
            ) from exc
        self._record_problems(result.problems)
        log.info("%d organizations on the platform", len(result.items))
        return {org.id: org.name for org in result.items}

    def _cameras(self, admin: PlatformClient) -> dict[int, PlatformCamera]:
        """Every camera, by id."""
        try:
            result = admin.cameras()
        except PlatformError as exc:
            raise ImportAborted(f"Failed to fetch cameras with the admin login: {exc}") from exc
        self._record_problems(result.problems)
        log.info("%d cameras on the platform", len(result.items))
        return {cam.id: cam for cam in result.items}

    def _logins(self) -> list[PlatformClient]:
        """Log every organization login in; a failed one is reported and skipped."""
        clients = []
        for cred in self.options.credentials:
            client = self._platform(cred)
            try:
                client.login()
            except PlatformError as exc:
                self.stats.fail(f"login {cred.login!r}", str(exc), fetch_errors=1)
                continue
            clients.append(client)
        if not clients:
            raise ImportAborted("Failed to fetch access token for every organization login")
        return clients

    def _record_problems(self, problems: list[ShapeProblem]) -> None:
        """Count malformed platform items (each was already logged)."""
        for problem in problems:
            self.stats.fail(
                f"platform {problem.resource} {problem.item_id}",
                f"unexpected shape: {problem.message}",
                invalid_items=1,
            )

    def _fetch_sequences(self, logins: list[PlatformClient]) -> list[Job]:
        """Every sequence of every login's organization on every day, each page of each day."""
        tasks = [(client, day) for client in logins for day in self.options.days()]
        found: dict[int, Job] = {}
        with self.bars.phase("Fetching sequences", len(tasks)) as advance:
            results = self._map(lambda t: self._fetch_day(*t), tasks, advance)
        for client, items in results:
            for seq in items:
                found.setdefault(seq.id, Job(seq, client))
        log.info("%d sequences found on the platform", len(found))
        return sorted(found.values(), key=lambda job: (job.sequence.started_at, job.sequence.id))

    def _fetch_day(
        self, client: PlatformClient, day: date
    ) -> tuple[PlatformClient, list[PlatformSequence]]:
        """One login's sequences of one day; failures are counted, not raised."""
        try:
            result = client.sequences_on(day)
        except PlatformError as exc:
            self.stats.fail(
                f"listing sequences of {day} for {client.username!r}", str(exc), fetch_errors=1
            )
            return client, []
        for problem in result.problems:
            self.stats.fail(
                f"platform sequence {problem.item_id} ({day})",
                f"unexpected shape: {problem.message}",
                invalid_items=1,
                total_sequences=1,
                failed_sequences=1,
            )
        return client, result.items

    def _stored_sequences(self) -> dict[str, dict[str, Any]]:
        """Sequences Lookout already holds for the date range, by platform id."""
        opts = self.options
        try:
            items = list(
                self.lookout.list_sequences(
                    source=SOURCE, date_from=opts.date_from, date_to=opts.date_end
                )
            )
        except LookoutError as exc:
            if isinstance(exc, LookoutAuthError) and not opts.dry_run:
                raise
            log.warning("could not list the sequences Lookout already holds: %s", exc)
            return {}
        return {str(item.get("source_id")): item for item in items if isinstance(item, dict)}

    def _prepare_targets(
        self, jobs: list[Job], cameras: dict[int, PlatformCamera], organizations: dict[int, str]
    ) -> None:
        """A project per organization and a Lookout camera per platform camera in use."""
        projects: dict[int, str | Exception] = {}
        for cam_id in sorted({job.sequence.camera_id for job in jobs}):
            cam = cameras.get(cam_id)
            if cam is None:
                self._targets[cam_id] = f"camera {cam_id} is unknown to the platform's listing"
                continue
            org_name = organizations.get(cam.organization_id)
            if org_name is None:
                self._targets[cam_id] = f"organization {cam.organization_id} is unknown"
                continue
            if cam.organization_id not in projects:
                projects[cam.organization_id] = self._project(org_name)
            project = projects[cam.organization_id]
            if isinstance(project, Exception):
                self._targets[cam_id] = f"no project for {org_name}: {project}"
                continue
            self._targets[cam_id] = self._camera_target(project, cam, org_name)

    def _project(self, org_name: str) -> str | Exception:
        """The project id for an organization, or the error that prevented it."""
        try:
            project = self.lookout.ensure_project(org_name)
        except LookoutAuthError:
            raise
        except LookoutError as exc:
            log.error("could not create the project %r: %s", org_name, exc)
            return exc
        log.info("project %s: %s", org_name, "already present" if project.existing else "created")
        return project.id

    def _camera_target(self, project_id: str, cam: PlatformCamera, org_name: str) -> Target | str:
        """Create or find the camera; an error message if that failed."""
        try:
            made = self.lookout.upsert_camera(camera_payload(project_id, cam, org_name))
        except LookoutAuthError:
            raise
        except LookoutError as exc:
            log.error("could not store camera %s (%d): %s", cam.name, cam.id, exc)
            return f"camera {cam.id} could not be stored: {exc}"
        log.debug(
            "camera %s (%d): %s",
            cam.name,
            cam.id,
            "already present" if made.existing else "created",
        )
        return Target(project_id, made.id, cam, org_name)

    def _run_sequences(self, jobs: list[Job]) -> None:
        """Import every sequence; frames go through a pool bounded by --concurrency."""
        self.stats.add(total_sequences=len(jobs))
        with (
            ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="frame") as frames,
            self.bars.phase("Importing sequences", len(jobs)) as advance,
        ):
            self._frame_pool = frames
            self._map(self._import_sequence, jobs, advance)

    def _import_sequence(self, job: Job) -> None:
        """Import one sequence; whatever goes wrong fails this sequence only."""
        seq = job.sequence
        try:
            self._sequence_steps(job)
        except (SequenceFailed, PlatformError, LookoutError, TransportFailure) as exc:
            self.stats.fail(f"sequence {seq.id}", str(exc), failed_sequences=1)
            return
        except Exception as exc:  # a bug must not stop the other sequences
            log.exception("sequence %d: unexpected error", seq.id)
            self.stats.fail(f"sequence {seq.id}", f"unexpected error: {exc!r}", failed_sequences=1)
            return
        self.stats.add(successful_sequences=1)

    def _detections(self, job: Job) -> list[PlatformDetection]:
        """The sequence's detections, all valid (else the sequence fails before any write)."""
        opts = self.options
        result = job.client.detections(
            job.sequence.id, limit=opts.detections_limit, desc=opts.detections_desc
        )
        if result.problems:
            self.stats.add(invalid_items=len(result.problems))
            raise SequenceFailed(
                f"{len(result.problems)} detection(s) with an unexpected shape, nothing written "
                f"(first: {result.problems[0]})"
            )
        return result.items

    def _sequence_steps(self, job: Job) -> None:
        """Detections, sequence, frames, then the draft."""
        seq = job.sequence
        detections = self._detections(job)
        target = self._targets.get(seq.camera_id, f"camera {seq.camera_id} was not prepared")
        if isinstance(target, str):
            raise SequenceFailed(target)
        made = self.lookout.upsert_sequence(sequence_payload(seq, target))
        self.stats.add(
            sequences_already_present=int(made.existing), sequences_created=int(not made.existing)
        )
        created = self._store_frames(job, made.id, detections)
        self._draft(seq.id, made.id, changed=not made.existing or created > 0)

    def _store_frames(self, job: Job, sequence_id: str, detections: list[PlatformDetection]) -> int:
        """Store every frame; returns how many are new, raises if any failed.

        Via the server, frames with a URL go in batches from this sequence's worker; the
        others (and every frame via the importer) go through the pool bounded by --concurrency.
        """
        assert self._frame_pool is not None
        via_server = self.options.transfer == VIA_SERVER
        batched = [d for d in detections if via_server and d.url]
        alone = [d for d in detections if not (via_server and d.url)]
        pending = self._frame_pool.map(lambda d: self._store_frame(job, sequence_id, d), alone)
        results: list[FrameResult] = []
        for start in range(0, len(batched), FRAMES_PER_BATCH):
            chunk = batched[start : start + FRAMES_PER_BATCH]
            results += self._store_batch(job, sequence_id, chunk)
        results += pending
        counts = Counter(r.status for r in results)
        created = {r.detection_id for r in results if r.status == "created"}
        flat = sum(not b.has_area for d in detections if d.id in created for b in d.boxes)
        self.stats.add(
            frames_created=counts["created"],
            frames_already_present=counts["existing"],
            frames_failed=counts["failed"],
            zero_area_boxes=flat,
        )
        log.debug(
            "sequence %d: %d frames created, %d already present, %d failed, %d flat boxes left out",
            job.sequence.id,
            counts["created"],
            counts["existing"],
            counts["failed"],
            flat,
        )
        failed = [r for r in results if r.status == "failed"]
        if failed:
            raise SequenceFailed(
                f"{len(failed)} of {len(results)} frames could not be stored, so no draft "
                f"(detection {failed[0].detection_id}: {failed[0].error})"
            )
        return counts["created"]

    def _draft(self, platform_id: int, sequence_id: str, *, changed: bool) -> None:
        """Draft the review when something is new or no draft exists yet."""
        stored = self._stored.get(str(platform_id))
        stage = stored.get("processing_stage") if stored else None
        if not changed and stage in HUMAN_STAGES:
            log.info("sequence %d: review is %s; left as it is", platform_id, stage)
            self.stats.add(annotations_skipped=1)
            return
        if not changed and stage is not None:
            log.debug("sequence %d: already drafted (%s), nothing new", platform_id, stage)
            self.stats.add(annotations_unchanged=1)
            return
        self._count_draft(platform_id, self.lookout.draft(sequence_id, self.options.draft_params()))

    def _count_draft(self, platform_id: object, answer: dict[str, Any]) -> None:
        """Count a draft answer: created/updated, skipped, or anything else.

        `platform_id` only labels the log lines (a stored sequence may lack a source id).
        """
        status = answer.get("status")
        if status in ("created", "updated"):
            self.stats.add(annotations_created=1)
            log.debug(
                "sequence %s: draft %s with %s tracks",
                platform_id,
                status,
                answer.get("track_count"),
            )
        elif status == "skipped":
            self.stats.add(annotations_skipped=1)
            log.info("sequence %s: draft skipped (%s)", platform_id, answer.get("reason"))
        else:
            self.stats.add(annotations_unchanged=1)
            log.info("sequence %s: draft answered %r", platform_id, status)

    # ------------------------------------------------------------ frames

    def _store_batch(
        self, job: Job, sequence_id: str, batch: list[PlatformDetection]
    ) -> list[FrameResult]:
        """Frames the server fetches in one request; a frame it could not store goes alone."""
        payloads = [frame_metadata(d) | {"url": d.url} for d in batch]
        try:
            answers = self.lookout.add_frames_from_urls(sequence_id, payloads)
        except (LookoutError, TransportFailure) as exc:
            log.warning(
                "sequence %d: %d frames could not be sent together (%s); sending them one by one",
                job.sequence.id,
                len(batch),
                exc,
            )
            return [self._store_frame(job, sequence_id, d) for d in batch]
        results = []
        for det, answer in zip(batch, answers, strict=True):
            status = answer.get("status") if isinstance(answer, dict) else None
            if status in (200, 201):
                results.append(FrameResult(det.id, "existing" if status == 200 else "created"))
                continue
            detail = answer.get("detail") if isinstance(answer, dict) else answer
            if status == 502:
                log.warning(
                    "Lookout could not fetch the frame of detection %d (%s); "
                    "downloading it here instead",
                    det.id,
                    detail,
                )
            else:  # e.g. storage unavailable: retried alone, with the retry policy
                log.info("frame of detection %d: %s (%s); sent alone", det.id, status, detail)
            results.append(self._store_frame(job, sequence_id, det, via_server=status != 502))
        return results

    def _store_frame(
        self, job: Job, sequence_id: str, det: PlatformDetection, *, via_server: bool = True
    ) -> FrameResult:
        """Store one frame; any error is this frame's result, never an exception."""
        try:
            return self._store_frame_steps(job, sequence_id, det, via_server)
        except (PlatformError, LookoutError, TransportFailure, SequenceFailed) as exc:
            log.warning("frame of detection %d failed: %s", det.id, exc)
            return FrameResult(det.id, "failed", str(exc))
        except Exception as exc:  # a bug must not stop the other frames
            log.exception("frame of detection %d: unexpected error", det.id)
            return FrameResult(det.id, "failed", repr(exc))

    def _store_frame_steps(
        self, job: Job, sequence_id: str, det: PlatformDetection, via_server: bool
    ) -> FrameResult:
        """Via the server (it fetches the URL); on a 502 or by choice, via the importer."""
        metadata = frame_metadata(det)
        if via_server and self.options.transfer == VIA_SERVER and det.url:
            try:
                made = self.lookout.add_frame_from_url(sequence_id, metadata | {"url": det.url})
                return FrameResult(det.id, "existing" if made.existing else "created")
            except LookoutError as exc:
                if exc.status != 502:
                    raise
                log.warning(
                    "Lookout could not fetch the frame of detection %d (%s); "
                    "downloading it here instead",
                    det.id,
                    exc,
                )
        content, content_type = self._download(job, det)
        name = det.bucket_key or f"detection-{det.id}.jpg"
        made = self.lookout.add_frame_file(sequence_id, content, name, content_type, metadata)
        return FrameResult(det.id, "existing" if made.existing else "created")

    def _download(self, job: Job, det: PlatformDetection) -> tuple[bytes, str]:
        """The frame's bytes; an expired or missing URL is replaced by a fresh one once."""
        assert self._http is not None
        url = det.url or job.client.detection_url(det.id)
        response = send(self._http, "GET", url, policy=self.options.policy)
        if response.status_code in (403, 404) and det.url:
            url = job.client.detection_url(det.id)
            response = send(self._http, "GET", url, policy=self.options.policy)
        if response.status_code != 200:
            raise SequenceFailed(
                f"could not download the frame: HTTP {response.status_code} "
                f"{error_detail(response, 120)}"
            )
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if not content_type.startswith("image/"):
            raise SequenceFailed(f"the frame URL answered {content_type or 'no content type'}")
        return response.content, content_type

    # ------------------------------------------------------------ dry run

    def _preview(
        self, jobs: list[Job], cameras: dict[int, PlatformCamera], organizations: dict[int, str]
    ) -> None:
        """Read what a real run would import, write nothing."""
        self.stats.add(total_sequences=len(jobs))
        with self.bars.phase("Reading detections", len(jobs)) as advance:
            self._map(lambda job: self._preview_one(job, cameras, organizations), jobs, advance)

    def _preview_one(
        self, job: Job, cameras: dict[int, PlatformCamera], organizations: dict[int, str]
    ) -> None:
        """Count one sequence's frames and boxes."""
        assert self.plan is not None
        seq = job.sequence
        try:
            detections = self._detections(job)
        except (SequenceFailed, PlatformError) as exc:
            self.stats.fail(f"sequence {seq.id}", str(exc), failed_sequences=1)
            return
        cam = cameras.get(seq.camera_id)
        org = organizations.get(cam.organization_id) if cam else None
        if cam is None or org is None:
            self.stats.fail(
                f"sequence {seq.id}",
                f"camera {seq.camera_id} or its organization is unknown",
                failed_sequences=1,
            )
            return
        stored = self._stored.get(str(seq.id))
        stage = stored.get("processing_stage") if stored else None
        grows = stored is None or int(stored.get("frame_count") or 0) < len(detections)
        boxes = sum(len(d.boxes) for d in detections)
        with self.stats._lock:
            plan = self.plan
            plan.organizations.add(org)
            plan.cameras.add(cam.id)
            plan.sequences += 1
            plan.sequences_new += int(stored is None)
            plan.frames += len(detections)
            plan.boxes += boxes
            plan.drafts += int((grows or stage is None) and stage not in HUMAN_STAGES)
            plan.drafts_skipped += int(stage in HUMAN_STAGES)
        self.stats.add(successful_sequences=1)
        log.info(
            "would import sequence %d (%s, camera %s, started %s): %d frames, %d boxes%s",
            seq.id,
            org,
            cam.name,
            iso(seq.started_at),
            len(detections),
            boxes,
            " - already present" if stored else "",
        )

    # ------------------------------------------------------------ drafts only

    def _draft_stored(self) -> None:
        """--skip-platform-fetch: draft the sequences Lookout already holds for the dates."""
        opts = self.options
        try:
            self.lookout.check()
            items = list(
                self.lookout.list_sequences(
                    source=SOURCE, date_from=opts.date_from, date_to=opts.date_end
                )
            )
        except LookoutAuthError:
            raise
        except LookoutError as exc:
            raise ImportAborted(f"Cannot list the stored sequences: {exc}") from exc
        log.info("%d stored sequences from %s to %s", len(items), opts.date_from, opts.date_end)
        self.stats.add(total_sequences=len(items), sequences_already_present=len(items))
        if self.plan is not None:
            self._preview_drafts(items)
            return
        with self.bars.phase("Drafting annotations", len(items)) as advance:
            self._map(self._draft_one, items, advance)

    def _draft_one(self, item: dict[str, Any]) -> None:
        """Draft one stored sequence."""
        label = item.get("source_id", item.get("id"))
        try:
            self._count_draft(
                label, self.lookout.draft(str(item["id"]), self.options.draft_params())
            )
        except (LookoutError, KeyError) as exc:
            self.stats.fail(f"sequence {label}", f"draft failed: {exc}", failed_sequences=1)
            return
        self.stats.add(successful_sequences=1)

    def _preview_drafts(self, items: list[dict[str, Any]]) -> None:
        """Count what --skip-platform-fetch would draft."""
        assert self.plan is not None
        for item in items:
            human = item.get("processing_stage") in HUMAN_STAGES
            self.plan.sequences += 1
            self.plan.drafts += int(not human)
            self.plan.drafts_skipped += int(human)
            self.plan.frames += int(item.get("frame_count") or 0)
            log.info(
                "would draft sequence %s (stage %s)",
                item.get("source_id"),
                item.get("processing_stage"),
            )
        self.stats.add(successful_sequences=len(items))

    # ------------------------------------------------------------ helpers

    def _map(
        self, fn: Callable[[T], R], items: Iterable[T], advance: Callable[[], None]
    ) -> list[R]:
        """Run ``fn`` over items on a bounded pool, advancing the progress bar as each ends."""

        def one(item: T) -> R:
            try:
                return fn(item)
            finally:
                advance()

        with ThreadPoolExecutor(self._sequence_workers(), thread_name_prefix="seq") as pool:
            return list(pool.map(one, items))
