"""The run: organizations → cameras → days → sequences → frames → drafts, with statistics.

Payload shaping lives in ``payloads``, frame transfer in ``frames``, and what the run reports
(its statistics, a dry run's plan) in ``report``.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import httpx

from lookout.httpretry import TransportFailure, pooled_client
from lookout.platform_import.frames import (
    FrameResult,
    FrameStore,
    SequenceFrames,
    flat_boxes,
)
from lookout.platform_import.lookout_client import LookoutAuthError, LookoutClient, LookoutError
from lookout.platform_import.payloads import (
    SOURCE,
    Target,
    camera_payload,
    iso,
    sequence_payload,
)
from lookout.platform_import.platform_client import PlatformClient, PlatformError
from lookout.platform_import.platform_models import (
    PlatformCamera,
    PlatformDetection,
    PlatformSequence,
    ShapeProblem,
)
from lookout.platform_import.progress import Bars
from lookout.platform_import.report import (
    HUMAN_STAGES,
    DryRunPlan,
    ImportStats,
    SequencePreview,
    drafted_otherwise,
)
from lookout.platform_import.settings import VIA_SERVER, Credential, ImportOptions

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class ImportAborted(Exception):
    """A problem that stops the whole run (bad credentials, Lookout unreachable)."""


class SequenceFailed(Exception):
    """A problem that fails one sequence only."""


@dataclass(frozen=True)
class Job:
    """One platform sequence and the login that can read it."""

    sequence: PlatformSequence
    client: PlatformClient


@dataclass(frozen=True)
class Catalog:
    """The platform's organization names and cameras, by id."""

    organizations: dict[int, str]
    cameras: dict[int, PlatformCamera]

    def place(self, camera_id: int) -> tuple[PlatformCamera, str] | None:
        """A camera and its organization's name, if both are known."""
        cam = self.cameras.get(camera_id)
        org = self.organizations.get(cam.organization_id) if cam else None
        return (cam, org) if cam is not None and org is not None else None


def _of_own_organization(
    client: PlatformClient, items: list[PlatformSequence], catalog: Catalog
) -> list[PlatformSequence]:
    """A login's sequences of its own organization.

    Since 2026 the platform lists every organization's sequences to an admin (in 2025 only
    the admin's own): keeping the login's organization makes both give the same import.
    A sequence of a camera the catalog does not know is kept (and fails later, saying so).
    """
    own = client.organization_id
    if own is None:
        return items
    kept = []
    for seq in items:
        camera = catalog.cameras.get(seq.camera_id)
        if camera is None or camera.organization_id == own:
            kept.append(seq)
    if len(kept) < len(items):
        log.debug(
            "%s: %d sequences of other organizations left to their logins",
            client.username,
            len(items) - len(kept),
        )
    return kept


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
        self._frames: FrameStore | None = None
        # Held while a sequence's detections are read, or its frames downloaded (here, or by
        # Lookout in a request), so the platform sees at most --concurrency calls at once.
        self._platform_calls = threading.BoundedSemaphore(options.concurrency)

    @property
    def lookout(self) -> LookoutClient:
        """The Lookout client of this run."""
        assert self._lookout is not None
        return self._lookout

    def run(self) -> ImportStats:
        """Import (or only draft, or only look); raises ImportAborted on fatal problems."""
        opts = self.options
        pool_size = opts.concurrency + self._sequence_workers() + 4
        with pooled_client(opts.policy, pool_size=pool_size) as http:
            self._http = http
            self._lookout = LookoutClient(
                http, opts.url_api_annotation, api_key=opts.api_key, policy=opts.lookout_policy()
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
        """How many sequences are worked on at once: twice --concurrency, so that while some
        are stored and drafted in Lookout, others keep the platform's --concurrency calls busy
        (a sequence holds one of ``_platform_calls`` only while it calls the platform)."""
        return 2 * self.options.concurrency

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
        with ThreadPoolExecutor(3, thread_name_prefix="start") as beside:
            # Asked at once; their errors still come in this order.
            stored = beside.submit(self._lookout_state)
            organizations = beside.submit(self._organizations, admin)
            cameras = beside.submit(self._cameras, admin)
            self._stored = stored.result()
            catalog = Catalog(organizations.result(), cameras.result())
        jobs = self._fetch_sequences(logins, catalog)
        if opts.dry_run:
            self._preview(jobs, catalog)
            return
        self._prepare_targets(jobs, catalog)
        self._run_sequences(jobs)

    def _lookout_state(self) -> dict[str, dict[str, Any]]:
        """Lookout answers (else the run stops), and the sequences it already holds."""
        self._check_lookout()
        return self._stored_sequences()

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

    def _fetch_sequences(self, logins: list[PlatformClient], catalog: Catalog) -> list[Job]:
        """Every sequence of every login's organization on every day, each page of each day."""
        tasks = [(client, day) for client in logins for day in self.options.days()]
        found: dict[int, Job] = {}
        with self.bars.phase("Fetching sequences", len(tasks)) as advance:
            results = self._map(lambda t: self._fetch_day(*t), tasks, advance)
        for client, items in results:
            for seq in _of_own_organization(client, items, catalog):
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

    # ------------------------------------------------------------ projects and cameras

    def _prepare_targets(self, jobs: list[Job], catalog: Catalog) -> None:
        """A project per organization and a Lookout camera per platform camera in use."""
        # One at a time: a camera takes a few milliseconds, and concurrent first requests
        # were slower (cold workers; SQLite's single writer).
        projects: dict[int, str | Exception] = {}
        for cam_id in sorted({job.sequence.camera_id for job in jobs}):
            self._targets[cam_id] = self._target(cam_id, catalog, projects)

    def _target(
        self, cam_id: int, catalog: Catalog, projects: dict[int, str | Exception]
    ) -> Target | str:
        """Where a camera's sequences go, or why they cannot go anywhere."""
        cam = catalog.cameras.get(cam_id)
        if cam is None:
            return f"camera {cam_id} is unknown to the platform's listing"
        org_name = catalog.organizations.get(cam.organization_id)
        if org_name is None:
            return f"organization {cam.organization_id} is unknown"
        if cam.organization_id not in projects:
            projects[cam.organization_id] = self._project(org_name)
        project = projects[cam.organization_id]
        if isinstance(project, Exception):
            return f"no project for {org_name}: {project}"
        return self._camera_target(project, cam, org_name)

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

    # ------------------------------------------------------------ sequences

    def _run_sequences(self, jobs: list[Job]) -> None:
        """Import every sequence; frames go through a pool bounded by --concurrency."""
        assert self._http is not None
        self.stats.add(total_sequences=len(jobs))
        with (
            ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="frame") as pool,
            self.bars.phase("Importing sequences", len(jobs)) as advance,
        ):
            self._frames = FrameStore(
                self.lookout,
                self._http,
                self.options.policy,
                pool,
                self._platform_calls,
                via_server=self.options.transfer == VIA_SERVER,
            )
            self._map(self._import_sequence, jobs, advance, workers=self._sequence_workers())

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
        if result.truncated:
            self.stats.add(sequences_truncated=1)
            log.warning(
                "sequence %d: more than %d detections on the platform; only %d kept "
                "(raise --detections-limit to keep more)",
                job.sequence.id,
                opts.detections_limit,
                len(result.items),
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
        with self._platform_calls:
            detections = self._detections(job)
        target = self._targets.get(seq.camera_id, f"camera {seq.camera_id} was not prepared")
        if isinstance(target, str):
            raise SequenceFailed(target)
        made = self.lookout.upsert_sequence(sequence_payload(seq, target, detections))
        self.stats.add(
            sequences_already_present=int(made.existing), sequences_created=int(not made.existing)
        )
        created = self._store_frames(SequenceFrames(job.client, seq.id, made.id, detections))
        self._draft(seq.id, made.id, changed=not made.existing or created > 0)

    def _store_frames(self, frames: SequenceFrames) -> int:
        """Store every frame; returns how many are new, raises if any failed."""
        assert self._frames is not None
        results = self._frames.store(frames)
        counts = self._count_frames(frames, results)
        failed = [r for r in results if r.status == "failed"]
        if failed:
            raise SequenceFailed(
                f"{len(failed)} of {len(results)} frames could not be stored, so no draft "
                f"(detection {failed[0].detection_id}: {failed[0].error})"
            )
        return counts["created"]

    def _count_frames(self, frames: SequenceFrames, results: list[FrameResult]) -> Counter[str]:
        """Add the frames' results to the statistics; the count of each status."""
        counts = Counter(r.status for r in results)
        created = {r.detection_id for r in results if r.status == "created"}
        flat = flat_boxes(frames.detections, created)
        self.stats.add(
            frames_created=counts["created"],
            frames_already_present=counts["existing"],
            frames_failed=counts["failed"],
            zero_area_boxes=flat,
        )
        log.debug(
            "sequence %d: %d frames created, %d already present, %d failed, %d flat boxes left out",
            frames.platform_id,
            counts["created"],
            counts["existing"],
            counts["failed"],
            flat,
        )
        return counts

    # ------------------------------------------------------------ drafts

    def _draft(self, platform_id: int, sequence_id: str, *, changed: bool) -> None:
        """Draft the review when something is new or no draft exists yet."""
        stored = self._stored.get(str(platform_id))
        stage = stored.get("processing_stage") if stored else None
        if not changed and stage in HUMAN_STAGES:
            log.info("sequence %d: review is %s; left as it is", platform_id, stage)
            self.stats.add(annotations_skipped=1)
            return
        params = self.options.draft_params()
        redraft = not changed and drafted_otherwise(stored, params)
        if not changed and stage is not None and not redraft:
            log.debug("sequence %d: already drafted (%s), nothing new", platform_id, stage)
            self.stats.add(annotations_unchanged=1)
            return
        answer = self.lookout.draft(sequence_id, params)
        if redraft and answer.get("status") == "updated":
            log.info("sequence %d: drafted again with the new drafting parameters", platform_id)
            self.stats.add(annotations_redrafted=1)
            return
        self._count_draft(platform_id, answer)

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
            self.plan.count_stored(items)
            self.stats.add(successful_sequences=len(items))
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

    # ------------------------------------------------------------ dry run

    def _preview(self, jobs: list[Job], catalog: Catalog) -> None:
        """Read what a real run would import, write nothing."""
        self.stats.add(total_sequences=len(jobs))
        with self.bars.phase("Reading detections", len(jobs)) as advance:
            self._map(lambda job: self._preview_one(job, catalog), jobs, advance)

    def _preview_one(self, job: Job, catalog: Catalog) -> None:
        """Count one sequence's frames and boxes."""
        assert self.plan is not None
        seq = job.sequence
        try:
            detections = self._detections(job)
        except (SequenceFailed, PlatformError) as exc:
            self.stats.fail(f"sequence {seq.id}", str(exc), failed_sequences=1)
            return
        place = catalog.place(seq.camera_id)
        if place is None:
            self.stats.fail(
                f"sequence {seq.id}",
                f"camera {seq.camera_id} or its organization is unknown",
                failed_sequences=1,
            )
            return
        cam, org = place
        preview = SequencePreview(
            platform_id=seq.id,
            organization=org,
            camera_id=cam.id,
            camera_name=cam.name,
            started_at=iso(seq.started_at),
            frames=len(detections),
            boxes=sum(len(d.boxes) for d in detections),
            stored=self._stored.get(str(seq.id)),
            redraft=drafted_otherwise(self._stored.get(str(seq.id)), self.options.draft_params()),
        )
        self.plan.count_sequence(preview)
        self.stats.add(successful_sequences=1)

    # ------------------------------------------------------------ helpers

    def _map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        advance: Callable[[], None],
        workers: int | None = None,
    ) -> list[R]:
        """Run ``fn`` over items on a pool of ``workers`` (--concurrency unless given),
        advancing the progress bar as each ends."""

        def one(item: T) -> R:
            try:
                return fn(item)
            finally:
                advance()

        size = workers or self.options.concurrency
        with ThreadPoolExecutor(size, thread_name_prefix="seq") as pool:
            return list(pool.map(one, items))
