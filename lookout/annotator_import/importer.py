"""The run: pyro-annotator's sequences, frames and annotations written through Lookout's services.

Sequences are matched to the ones the platform import stored (source `pyronear`, source id =
the platform's sequence id, which pyro-annotator keeps as `alert_api_id`) and created when
absent, in a project named after the organisation (or `--project`). Frames are matched the same
way (the platform's detection id) and stored as the platform import stores them, with the
platform's boxes as the analysis `platform`. Sequence annotations become reviews (see
`mapping`), detection annotations an analysis `pyro-annotator` of their frame.

Idempotent: every write is keyed by what pyro-annotator calls it, so a re-run finds it and
writes nothing. A review a person changed in Lookout since its import (its version moved on),
or made in Lookout in the first place, is never replaced: it is counted as kept.
"""

from __future__ import annotations

import io
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, time
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session

from lookout.accounts import service as accounts
from lookout.annotator_import.client import AnnotatorClient, AnnotatorError
from lookout.annotator_import.detections import DetectionAnnotations
from lookout.annotator_import.mapping import (
    SOURCE,
    Frame,
    MappingProblem,
    annotator_email,
    platform_source,
    review_of,
)
from lookout.annotator_import.report import (
    AnnotatorImportAborted,
    AnnotatorImportOptions,
    AnnotatorStats,
    SequenceFailed,
    log,
)
from lookout.annotator_import.shapes import (
    AnnotatorDetection,
    AnnotatorSequence,
    AnnotatorSequenceAnnotation,
    Problem,
)
from lookout.auth.principal import Principal
from lookout.errors import LookoutError
from lookout.httpretry import pooled_client
from lookout.images.models import Image
from lookout.platform_import.payloads import MODEL_NAME, MODEL_VERSION
from lookout.platform_import.payloads import SOURCE as PLATFORM_SOURCE
from lookout.platform_import.progress import Bars
from lookout.projects import service as projects
from lookout.projects.models import Project
from lookout.sequences import frames as sequence_frames
from lookout.sequences import reviews
from lookout.sequences import service as sequences
from lookout.sequences.models import Sequence
from lookout.sequences.repository import SequenceRepository
from lookout.sequences.schemas import (
    CameraCreate,
    FrameMetadata,
    FramePredictions,
    ReviewWrite,
    SequenceCreate,
)
from lookout.storage import ObjectStorage, StorageError


class AnnotatorImporter:
    """One import run on one session, as `principal`."""

    def __init__(
        self,
        options: AnnotatorImportOptions,
        *,
        session: Session,
        storage: ObjectStorage,
        principal: Principal,
        bars: Bars | None = None,
    ) -> None:
        """Prepare a run; nothing is read or written yet."""
        self.options = options
        self.session = session
        self.storage = storage
        self.principal = principal
        self.bars = bars or Bars(None)
        self.stats = AnnotatorStats(dry_run=options.dry_run)
        self._projects: dict[str, uuid.UUID] = {}
        self._users: dict[str, uuid.UUID] = {}
        self._downloads: ThreadPoolExecutor | None = None
        self._bad_annotations: dict[object, str] = {}

    def run(self) -> AnnotatorStats:
        """Import everything; raises AnnotatorImportAborted when nothing can be read."""
        opts = self.options
        with (
            pooled_client(opts.policy, pool_size=opts.concurrency + 2) as http,
            ThreadPoolExecutor(opts.concurrency, thread_name_prefix="image") as downloads,
        ):
            self._downloads = downloads
            client = AnnotatorClient(
                http,
                opts.url,
                username=opts.username,
                password=opts.password,
                token=opts.token,
                policy=opts.policy,
            )
            try:
                client.login()
                found, annotations = self._read(client)
            except AnnotatorError as exc:
                raise AnnotatorImportAborted(str(exc)) from exc
            self.stats.add(total_sequences=len(found))
            with self.bars.phase("Importing sequences", len(found)) as advance:
                for seq in found:
                    self._import_sequence(client, seq, annotations.get(seq.id))
                    advance()
        if opts.dry_run:
            self.session.rollback()
        return self.stats

    # ------------------------------------------------------------ reading

    def _read(
        self, client: AnnotatorClient
    ) -> tuple[list[AnnotatorSequence], dict[int, AnnotatorSequenceAnnotation]]:
        opts = self.options
        start = datetime.combine(opts.date_from, time.min, UTC) if opts.date_from else None
        end = datetime.combine(opts.date_end, time.max, UTC) if opts.date_end else None
        log.info("Reading pyro-annotator at %s", opts.url)
        with self.bars.phase("Reading pyro-annotator", 2) as advance:
            listed = client.sequences(recorded_from=start, recorded_to=end)
            advance()
            listed_annotations = client.sequence_annotations()
            advance()
        self._record_problems(listed.problems, failed=True)
        self._record_problems(listed_annotations.problems, failed=False)
        # Their sequences import, without a review: they fail (nothing of the review written).
        self._bad_annotations = {
            p.sequence_id: str(p) for p in listed_annotations.problems if p.sequence_id is not None
        }
        by_sequence = {a.sequence_id: a for a in listed_annotations.items}
        log.info(
            "%d sequences and %d sequence annotations on pyro-annotator",
            len(listed.items),
            len(listed_annotations.items),
        )
        return listed.items, by_sequence

    def _record_problems(self, problems: list[Problem], *, failed: bool) -> None:
        for problem in problems:
            counts = {"invalid_items": 1}
            if failed:
                counts |= {"total_sequences": 1, "failed_sequences": 1}
            self.stats.fail(
                f"pyro-annotator {problem.resource} {problem.item_id}",
                f"unexpected shape: {problem.message}",
                **counts,
            )

    # ------------------------------------------------------------ one sequence

    def _import_sequence(
        self,
        client: AnnotatorClient,
        seq: AnnotatorSequence,
        annotation: AnnotatorSequenceAnnotation | None,
    ) -> None:
        """Import one sequence; whatever goes wrong fails this sequence only."""
        label = f"sequence {seq.id} (platform sequence {seq.alert_api_id})"
        try:
            self._sequence_steps(client, seq, annotation)
        except (SequenceFailed, AnnotatorError, LookoutError, StorageError) as exc:
            self.session.rollback()
            message = getattr(exc, "message", None) or str(exc)
            self.stats.fail(label, message, failed_sequences=1)
            return
        except Exception as exc:  # a bug must not stop the other sequences
            self.session.rollback()
            log.exception("%s: unexpected error", label)
            self.stats.fail(label, f"unexpected error: {exc!r}", failed_sequences=1)
            return
        self.stats.add(successful_sequences=1)

    def _sequence_steps(
        self,
        client: AnnotatorClient,
        seq: AnnotatorSequence,
        annotation: AnnotatorSequenceAnnotation | None,
    ) -> None:
        listed = client.detections(seq.id)
        if listed.problems:
            self.stats.add(invalid_items=len(listed.problems))
            raise SequenceFailed(
                f"{len(listed.problems)} detection(s) with an unexpected shape, nothing written "
                f"(first: {listed.problems[0]})"
            )
        target = self._sequence(seq)
        frames = self._frames(client, seq, listed.items, target)
        if self.options.detection_annotations:
            DetectionAnnotations(
                self.session, self.storage, self.principal, self.stats, self.options
            ).import_for(client, seq, frames)
        if annotation is not None:
            self._review(seq, annotation, target, frames)
        elif seq.id in self._bad_annotations:
            raise SequenceFailed(
                f"its annotation has an unexpected shape, so no review "
                f"({self._bad_annotations[seq.id]})"
            )
        else:
            self.stats.add(sequences_without_annotation=1)

    # ------------------------------------------------------------ sequences

    @staticmethod
    def _source(seq: AnnotatorSequence) -> str:
        """The Lookout source of the sequence: `pyronear` for a platform sequence, the origin's
        name for another origin's, `pyro-annotator` for a lane pyro-annotator split off an
        alert (its `alert_api_id` is its own, not the platform's: `platform_alert_id` is)."""
        if seq.platform_alert_id is not None and seq.platform_alert_id != seq.alert_api_id:
            return SOURCE
        return platform_source(seq.source_api, PLATFORM_SOURCE)

    def _frame_key(self, seq: AnnotatorSequence, det: AnnotatorDetection) -> tuple[str, str]:
        """(source, source id) of a detection's frame: the platform's detection id, or in a
        lane pyro-annotator split off, pyro-annotator's own detection id."""
        source = self._source(seq)
        return (source, str(det.id)) if source == SOURCE else (source, str(det.alert_api_id))

    def _find_sequence(self, seq: AnnotatorSequence) -> Sequence | None:
        """The Lookout sequence of this platform sequence, in a project the caller sees."""
        query = SequenceRepository(self.session, self.principal).readable()
        query = query.where(
            Sequence.source == self._source(seq), Sequence.source_id == str(seq.alert_api_id)
        )
        if self.options.project_id is not None:
            query = query.where(Sequence.project_id == self.options.project_id)
        found = list(self.session.scalars(query))
        if len(found) <= 1:
            return found[0] if found else None
        named = [
            s
            for s in found
            if self.session.get_one(Project, s.project_id).name == seq.organisation_name
        ]
        if len(named) == 1:
            return named[0]
        raise SequenceFailed(
            f"platform sequence {seq.alert_api_id} is in {len(found)} projects; "
            "choose one with --project"
        )

    def _sequence(self, seq: AnnotatorSequence) -> Sequence | None:
        """Find or create the Lookout sequence (None: a dry run would create it)."""
        existing = self._find_sequence(seq)
        if existing is not None:
            self.stats.add(sequences_already_present=1)
            return existing
        self.stats.add(sequences_created=1)
        if self.options.dry_run:
            log.info("would create sequence %d (%s)", seq.alert_api_id, seq.camera_name)
            return None
        project_id = self._project(seq.organisation_name)
        camera = CameraCreate(
            project_id=project_id,
            source=self._source(seq),
            source_id=str(seq.camera_id),
            name=seq.camera_name,
            organization_id=str(seq.organisation_id),
            organization_name=seq.organisation_name,
            lat=seq.lat,
            lon=seq.lon,
        )
        cam, _ = sequences.get_or_create_camera(
            self.session, principal=self.principal, values=camera.model_dump()
        )
        values = SequenceCreate(
            project_id=project_id,
            camera_id=cam.id,
            source=self._source(seq),
            source_id=str(seq.alert_api_id),
            azimuth=seq.azimuth,
            started_at=seq.recorded_at,
            last_seen_at=seq.last_seen_at,
            source_label=seq.is_wildfire_alertapi,
            lat=seq.lat,
            lon=seq.lon,
            extra={
                "camera_name": seq.camera_name,
                "organisation_id": seq.organisation_id,
                "organisation_name": seq.organisation_name,
                "is_wildfire": seq.is_wildfire_alertapi,
                "pyro_annotator": {
                    "sequence_id": seq.id,
                    "source_api": seq.source_api,
                    "platform_alert_id": seq.platform_alert_id,
                },
            },
        )
        made, _ = sequences.get_or_create_sequence(
            self.session, principal=self.principal, values=values.model_dump()
        )
        log.debug("sequence %d: created in Lookout", seq.alert_api_id)
        return made

    def _project(self, organisation: str) -> uuid.UUID:
        """--project, else the project (and group) named after the organisation."""
        if self.options.project_id is not None:
            return self.options.project_id
        if organisation not in self._projects:
            project, _ = projects.create_project(
                self.session,
                principal=self.principal,
                name=organisation,
                group=organisation,
                create_group=True,
                exist_ok=True,
            )
            self._projects[organisation] = project.id
        return self._projects[organisation]

    # ------------------------------------------------------------ frames

    def _frames(
        self,
        client: AnnotatorClient,
        seq: AnnotatorSequence,
        detections: list[AnnotatorDetection],
        target: Sequence | None,
    ) -> dict[int, Frame]:
        """The frame of each detection, stored when missing; raises if any failed."""
        stored: dict[tuple[str | None, str | None], Image] = {}
        if target is not None:
            query = sa.select(Image).where(Image.sequence_id == target.id)
            stored = {(i.source, i.source_id): i for i in self.session.scalars(query)}

        def stored_frame(det: AnnotatorDetection) -> Image | None:
            return stored.get(self._frame_key(seq, det)) or stored.get((SOURCE, str(det.id)))

        # The images of the missing frames download --concurrency at a time, in the background,
        # while the frames are stored one after the other in order.
        fetching: dict[int, Future[bytes]] = {}
        if target is not None and not self.options.dry_run:
            fetching = {
                det.id: self._downloader().submit(
                    client.image, det.id, limit=self.options.max_image_bytes
                )
                for det in detections
                if stored_frame(det) is None
            }
        frames: dict[int, Frame] = {}
        failed: list[str] = []
        for index, det in enumerate(detections):
            image = stored_frame(det)
            if image is not None:
                self.stats.add(frames_already_present=1)
                frames[det.id] = Frame(str(image.id), index, image.width, image.height)
                continue
            self.stats.add(frames_created=1)
            if target is None or self.options.dry_run:
                frames[det.id] = Frame(str(uuid.uuid4()), index)
                continue
            try:
                image = self._store_frame(fetching[det.id].result(), seq, det, target)
            except (AnnotatorError, LookoutError, StorageError) as exc:
                self.session.rollback()
                self.stats.add(frames_created=-1, frames_failed=1)
                failed.append(f"detection {det.id}: {getattr(exc, 'message', None) or exc}")
                continue
            frames[det.id] = Frame(str(image.id), index, image.width, image.height)
        if failed:
            raise SequenceFailed(
                f"{len(failed)} of {len(detections)} frames could not be stored, so no review "
                f"(first: {failed[0]})"
            )
        return frames

    def _downloader(self) -> ThreadPoolExecutor:
        assert self._downloads is not None, "images are downloaded during run() only"
        return self._downloads

    def _store_frame(
        self,
        content: bytes,
        seq: AnnotatorSequence,
        det: AnnotatorDetection,
        target: Sequence,
    ) -> Image:
        """Store a detection's image as the platform import stores a frame."""
        source, source_id = self._frame_key(seq, det)
        taken = sa.select(Image.id).where(
            Image.project_id == target.project_id,
            Image.source == source,
            Image.source_id == source_id,
        )
        if source != SOURCE and self.session.scalar(taken) is not None:
            # The platform's frame is another sequence's (a sibling lane): keep it apart.
            source, source_id = SOURCE, str(det.id)
        boxes = det.algo_predictions.predictions if det.algo_predictions else []
        predictions = FramePredictions(
            model_name=MODEL_NAME,
            model_version=(
                MODEL_VERSION if self._source(seq) == PLATFORM_SOURCE else seq.source_api
            ),
            annotations=[
                {
                    "annotation_type": "bounding_box",
                    "class_name": p.class_name or "smoke",
                    "confidence": p.confidence,
                    "data": {"bbox": p.xyxyn, "format": "xyxyn"},
                }
                for p in boxes
                if p.xyxyn[2] > p.xyxyn[0] and p.xyxyn[3] > p.xyxyn[1]
            ],
        )
        stored = sequence_frames.add_frame(
            self.session,
            self.storage,
            principal=self.principal,
            sequence_id=target.id,
            stream=io.BytesIO(content),
            metadata=FrameMetadata(
                captured_at=det.recorded_at,
                source=source,
                source_id=source_id,
                predictions=predictions,
            ),
            max_pixels=self.options.max_pixels,
            filename=det.bucket_key.rsplit("/", 1)[-1] or None,
        )
        return stored.image

    # ------------------------------------------------------------ reviews

    def _review(
        self,
        seq: AnnotatorSequence,
        annotation: AnnotatorSequenceAnnotation,
        target: Sequence | None,
        frames: dict[int, Frame],
    ) -> None:
        """Write the annotation as the sequence's review unless Lookout's must be kept."""
        try:
            mapped = review_of(annotation, frames)
        except MappingProblem as exc:
            self.stats.add(invalid_items=1)
            raise SequenceFailed(f"annotation {annotation.id}: {exc}") from exc
        self.stats.add(boxes_left_out=mapped.boxes_left_out)
        existing = reviews.review_of(self.session, target.id) if target is not None else None
        changed_at = annotation.changed_at.isoformat()
        action = self._review_action(existing, annotation, mapped.decided, changed_at)
        label = f"sequence {seq.alert_api_id}"
        if action == "unchanged":
            self.stats.add(reviews_unchanged=1)
            log.debug("%s: review already imported, nothing new", label)
            return
        if action == "kept":
            assert existing is not None
            self.stats.add(reviews_kept=1)
            log.info(
                "%s: review changed or made in Lookout (version %d, stage %s); kept",
                label,
                existing.version,
                existing.processing_stage,
            )
            return
        if action == "draft_left":
            self.stats.add(drafts_left=1)
            log.debug("%s: Lookout's own draft kept over pyro-annotator's draft", label)
            return
        self.stats.add(**{f"reviews_{action}": 1})
        if self.options.dry_run or target is None:
            log.info("would write the review of %s (%s)", label, mapped.processing_stage)
            return
        names = [c.username for c in annotation.contributors or []]
        reviewer = self._user(names[-1]) if names and mapped.decided else None
        expected = 1 if existing is None else existing.version + 1
        try:
            write = ReviewWrite(
                tracks=mapped.tracks,
                has_missed_smoke=mapped.has_missed_smoke,
                is_unsure=mapped.is_unsure,
                processing_stage=mapped.processing_stage,
            )
        except ValidationError as exc:
            self.stats.add(invalid_items=1)
            raise SequenceFailed(f"annotation {annotation.id}: {exc.errors()[0]['msg']}") from exc
        by = ", ".join(names) or "nobody named"
        written = reviews.write_imported_review(
            self.session,
            sequence_id=target.id,
            write=write,
            reviewed_by_id=reviewer,
            reviewed_at=annotation.changed_at,
            draft_params={
                "source": SOURCE,
                "server": self.options.url,
                "model_name": SOURCE,
                "annotation_id": annotation.id,
                "sequence_id": seq.id,
                "processing_stage": annotation.processing_stage,
                "annotation_changed_at": changed_at,
                "contributors": names,
                "imported_version": expected,
            },
            reason=(
                f"imported from pyro-annotator: annotation {annotation.id}, stage "
                f"{annotation.processing_stage}, by {by}"
            ),
        )
        if written.version != expected:  # someone wrote at the same moment
            log.warning("%s: review version %d, not %d", label, written.version, expected)
        log.debug("%s: review %s (%d tracks)", label, action, len(mapped.tracks))

    @staticmethod
    def _review_action(
        existing: reviews.SequenceReview | None,
        annotation: AnnotatorSequenceAnnotation,
        decided: bool,
        changed_at: str,
    ) -> str:
        """created, updated, unchanged, kept (a person's in Lookout) or draft_left."""
        if existing is None:
            return "created"
        marker: dict[str, Any] = existing.draft_params or {}
        ours = marker.get("source") == SOURCE and marker.get("annotation_id") == annotation.id
        if ours and existing.version == marker.get("imported_version"):
            return "unchanged" if marker.get("annotation_changed_at") == changed_at else "updated"
        if reviews.is_human(existing):
            return "kept"
        return "created" if decided else "draft_left"

    def _user(self, username: str) -> uuid.UUID:
        """The Lookout user standing for a pyro-annotator annotator (created on first sight)."""
        if username not in self._users:
            email = annotator_email(username, self.options.email_domain)
            user = accounts.get_or_create_user(self.session, email=email)
            self.session.commit()
            self._users[username] = user.id
        return self._users[username]
