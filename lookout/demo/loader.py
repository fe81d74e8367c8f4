"""A small generated demo dataset, loaded in-process through the services.

`lookout demo` (or `lookout serve --demo`) fills the configured database and storage with one
project, two cameras and sixteen sequences of plume-like frames (eight of them recurring false
alarms: a glinting mast and a steaming chimney, day after day, which form groups), the
platform's predictions on every frame, drafts for every sequence, two finished reviews, two
pipeline models' analyses (`yolo_v8`, `yolo_v11`) on the frames of three sequences, and one
image carrying every annotation type (boxes, polygon and RLE segmentation, keypoints,
classification and a heatmap artifact). Everything is keyed by `source="demo"` ids, so loading
it again adds nothing.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.accounts import service as accounts
from lookout.analyses import bulk
from lookout.analyses import service as analyses
from lookout.analyses.artifacts import artifact_key
from lookout.analyses.models import Analysis, Artifact, ArtifactState
from lookout.auth.principal import Principal
from lookout.config import Settings
from lookout.db import make_engine, make_session_factory, utcnow
from lookout.demo.annotations import (
    all_type_annotations,
    box_annotation,
    heatmap_png,
    pipeline_boxes,
)
from lookout.demo.scenes import (
    BASE_TIME,
    CAMERAS,
    SEQUENCES,
    CameraSpec,
    SequenceSpec,
    render_frame,
)
from lookout.errors import NotFound
from lookout.grouping import service as grouping
from lookout.images import service as images
from lookout.images.models import Image
from lookout.projects import service as projects
from lookout.scoring import service as scoring
from lookout.sequences import frames as frame_service
from lookout.sequences import reviews
from lookout.sequences import service as sequences
from lookout.sequences.drafting import DraftParams
from lookout.sequences.models import ProcessingStage, Sequence, SequenceReview
from lookout.sequences.schemas import FrameMetadata, FramePredictions, ReviewWrite
from lookout.storage import ObjectStorage, make_storage

SOURCE = "demo"


PROJECT_NAME = "Demo - wildfire cameras"


PROJECT_DESCRIPTION = (
    "Generated demo data: two cameras, sixteen sequences with the platform's predictions "
    "(recurring false alarms among them), "
    "two pipeline models and one image with every annotation type."
)


REVIEWER_EMAIL = "camille.reviewer@example.org"


ALL_TYPES_SOURCE_ID = "demo-all-types"


PIPELINE_MODELS = (("yolo_v8", "v8.0.0"), ("yolo_v11", "v11.0.0"))


PLATFORM_MODEL = ("platform", "pyronear-demo")


# Sequences a person has already reviewed, and the sequences pipelines have analysed.
REVIEWED = {"demo-seq-01": "wildfire", "demo-seq-02": "low_cloud"}


PIPELINE_SEQUENCES = ("demo-seq-01", "demo-seq-03", "demo-seq-06")


@dataclass
class DemoSummary:
    project_id: uuid.UUID
    project_name: str
    cameras: int = 0
    sequences: int = 0
    frames: int = 0
    analyses: int = 0
    reviews_annotated: int = 0
    all_types_image_id: uuid.UUID | None = None
    created: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        made = ", ".join(f"{n} {what}" for what, n in self.created.items() if n) or "nothing new"
        return (
            f"demo project {self.project_name!r} ({self.project_id}): {self.cameras} cameras, "
            f"{self.sequences} sequences, {self.frames} frames, {self.analyses} analyses, "
            f"{self.reviews_annotated} reviewed; created {made}"
        )


def load_demo(settings: Settings, *, group: str = "default") -> DemoSummary:
    """Load the demo dataset into the configured database and storage (idempotent)."""
    engine = make_engine(settings.resolved_database_url, pool_size=2, max_overflow=2)
    try:
        with make_session_factory(engine)() as session:
            return load_demo_into(session, make_storage(settings), settings, group=group)
    finally:
        engine.dispose()


def load_demo_into(
    session: Session, storage: ObjectStorage, settings: Settings, *, group: str = "default"
) -> DemoSummary:
    """Load the demo dataset with an open session and storage (idempotent)."""
    owner = _principal(session, settings.local_user_email, group, admin=True)
    reviewer = _principal(session, REVIEWER_EMAIL, group, admin=False)
    project, _ = projects.create_project(
        session,
        principal=owner,
        name=PROJECT_NAME,
        description=PROJECT_DESCRIPTION,
        group=group,
        exist_ok=True,
    )
    created = {"frames": 0, "analyses": 0, "drafts": 0, "reviews": 0}
    loader = _Loader(session, storage, settings, owner, project.id, created)
    cameras = [loader.camera(spec) for spec in CAMERAS]
    for spec in SEQUENCES:
        sequence = loader.sequence(spec, cameras[spec.camera])
        frame_images = loader.frames(spec, sequence)
        if spec.key in PIPELINE_SEQUENCES:
            loader.pipelines(spec, frame_images)
        loader.draft(sequence)
        if spec.key in REVIEWED:
            loader.review(sequence, reviewer, REVIEWED[spec.key])
    all_types = loader.all_types_image()
    loader.thumbnails()
    # The pipelines' analyses were stored in-process (no finalize): score the queue orders now,
    # so disagreement puts the sequences where the models and the platform disagree first.
    scoring.rescore_project(session, project_id=project.id)
    return _summary(session, project.id, project.name, all_types, created)


def _principal(session: Session, email: str, group: str, *, admin: bool) -> Principal:
    user = accounts.get_or_create_user(session, email=email, is_admin=admin or None)
    target = accounts.get_or_create_group(session, name=group)
    accounts.add_member(session, user=user, group=target, role="admin" if admin else "member")
    session.commit()
    return accounts.principal_for(session, user, via="local")


def _summary(
    session: Session,
    project_id: uuid.UUID,
    name: str,
    all_types: uuid.UUID,
    created: dict[str, int],
) -> DemoSummary:
    from lookout.sequences.models import Camera

    def count(query: sa.Select[Any]) -> int:
        return session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0

    return DemoSummary(
        project_id=project_id,
        project_name=name,
        cameras=count(sa.select(Camera.id).where(Camera.project_id == project_id)),
        sequences=count(sa.select(Sequence.id).where(Sequence.project_id == project_id)),
        frames=count(
            sa.select(Image.id).where(
                Image.project_id == project_id, Image.sequence_id.is_not(None)
            )
        ),
        analyses=count(
            sa.select(Analysis.id)
            .join(Image, Image.id == Analysis.image_id)
            .where(Image.project_id == project_id)
        ),
        reviews_annotated=count(
            sa.select(SequenceReview.id)
            .join(Sequence, Sequence.id == SequenceReview.sequence_id)
            .where(
                Sequence.project_id == project_id,
                SequenceReview.processing_stage == ProcessingStage.ANNOTATED,
            )
        ),
        all_types_image_id=all_types,
        created=created,
    )


class _Loader:
    def __init__(
        self,
        session: Session,
        storage: ObjectStorage,
        settings: Settings,
        owner: Principal,
        project_id: uuid.UUID,
        created: dict[str, int],
    ) -> None:
        self.session = session
        self.storage = storage
        self.settings = settings
        self.owner = owner
        self.project_id = project_id
        self.created = created

    def camera(self, spec: CameraSpec) -> Any:
        camera, _ = sequences.get_or_create_camera(
            self.session,
            principal=self.owner,
            values={
                "project_id": self.project_id,
                "source": SOURCE,
                "source_id": spec.key,
                "name": spec.name,
                "organization_id": "demo",
                "organization_name": "Demo fire watch",
                "lat": spec.lat,
                "lon": spec.lon,
                "elevation": 1180.0,
                "angle_of_view": 87.0,
                "is_trustable": True,
                "extra": {"demo": True},
            },
        )
        return camera

    def sequence(self, spec: SequenceSpec, camera: Any) -> Sequence:
        started = BASE_TIME + timedelta(days=spec.day, minutes=spec.minute)
        cam = CAMERAS[spec.camera]
        sequence, _ = sequences.get_or_create_sequence(
            self.session,
            principal=self.owner,
            values={
                "project_id": self.project_id,
                "camera_id": camera.id,
                "source": SOURCE,
                "source_id": spec.key,
                "azimuth": cam.azimuth,
                "started_at": started,
                "last_seen_at": started + timedelta(seconds=30 * (spec.frames - 1)),
                "source_label": spec.label,
                "lat": cam.lat,
                "lon": cam.lon,
                "extra": {"demo": True, "scene": spec.kind},
            },
        )
        return sequence

    def frames(self, spec: SequenceSpec, sequence: Sequence) -> list[Image]:
        stored: list[Image] = []
        for index in range(spec.frames):
            source_id = f"{spec.key}-frame-{index:02d}"
            existing = self.session.scalar(
                sa.select(Image).where(
                    Image.project_id == sequence.project_id,
                    Image.source == SOURCE,
                    Image.source_id == source_id,
                )
            )
            if existing is not None:
                stored.append(existing)
                continue
            scene = render_frame(spec, index)
            metadata = FrameMetadata(
                captured_at=sequence.started_at + timedelta(seconds=30 * index),
                source=SOURCE,
                source_id=source_id,
                predictions=FramePredictions(
                    model_name=PLATFORM_MODEL[0],
                    model_version=PLATFORM_MODEL[1],
                    annotations=[box_annotation(b, c) for b, c in scene.platform_boxes],
                ),
            )
            result = frame_service.add_frame(
                self.session,
                self.storage,
                principal=self.owner,
                sequence_id=sequence.id,
                stream=io.BytesIO(scene.jpeg),
                metadata=metadata,
                max_pixels=self.settings.max_image_pixels,
                filename=f"{source_id}.jpg",
            )
            if not result.existing:
                self.created["frames"] += 1
            stored.append(result.image)
        return stored

    def pipelines(self, spec: SequenceSpec, frame_images: list[Image]) -> None:
        for index, image in enumerate(frame_images):
            scene = render_frame(spec, index, with_pixels=False)
            for model_name, version in PIPELINE_MODELS:
                boxes = pipeline_boxes(model_name, spec, index, scene)
                self._analysis(image, model_name, version, [box_annotation(b, c) for b, c in boxes])
        self.session.commit()

    def _analysis(
        self,
        image: Image,
        model_name: str,
        version: str,
        annotations: list[dict[str, Any]],
        before_insert: Callable[[Analysis], None] | None = None,
    ) -> Analysis | None:
        present = self.session.scalar(
            sa.select(Analysis.id).where(
                Analysis.image_id == image.id, Analysis.model_name == model_name
            )
        )
        if present is not None:
            return None
        analysis = analyses.create_analysis_row(
            self.session,
            image=image,
            model_name=model_name,
            model_version=version,
            parameters={"confidence_threshold": 0.25, "iou_threshold": 0.45, "imgsz": 1280},
            description=f"{model_name} {version} smoke detector (demo)",
            provenance={"pipeline": "lookout-demo", "dataset": "demo"},
            status="processing",
        )
        if before_insert is not None:
            before_insert(analysis)
        rows = bulk.insert_annotations(
            self.session, analysis=analysis, image=image, annotations=annotations
        )
        now = utcnow()
        analysis.status = "completed"
        analysis.completed_at = now + timedelta(seconds=2)
        analysis.summary = {
            "total_detections": len(rows),
            "processing_time_seconds": round(0.12 + 0.01 * len(rows), 2),
            "classes_detected": sorted({r.class_name for r in rows}),
        }
        self.created["analyses"] += 1
        return analysis

    def draft(self, sequence: Sequence) -> None:
        try:
            reviews.get_review(self.session, principal=self.owner, sequence_id=sequence.id)
            return
        except NotFound:
            pass
        reviews.draft_review(
            self.session,
            principal=self.owner,
            sequence_id=sequence.id,
            params=DraftParams(confidence_threshold=0.2, iou_threshold=0.2, min_cluster_size=2),
        )
        # As the platform import's drafts do: its tracks join the camera's recurring objects.
        grouping.join_after_draft(self.session, sequence.id, iou_threshold=self.settings.group_iou)
        self.created["drafts"] += 1

    def review(self, sequence: Sequence, reviewer: Principal, verdict: str) -> None:
        review = reviews.get_review(self.session, principal=reviewer, sequence_id=sequence.id)
        if review.processing_stage == ProcessingStage.ANNOTATED:
            return
        tracks = []
        for track in review.tracks:
            if verdict in ("wildfire", "industrial", "other"):
                tracks.append({**track, "decision": "smoke", "smoke_type": verdict})
            else:
                tracks.append(
                    {
                        **track,
                        "decision": "false_positive",
                        "smoke_type": None,
                        "false_positive_types": [verdict],
                    }
                )
        write = ReviewWrite.model_validate(
            {
                "tracks": tracks,
                "has_missed_smoke": False,
                "processing_stage": "annotated",
                "version": review.version,
            }
        )
        reviews.save_review(self.session, principal=reviewer, sequence_id=sequence.id, write=write)
        self.created["reviews"] += 1

    def thumbnails(self) -> None:
        """Compute the gallery thumbnails now, so the first look at the demo is quick."""
        query = sa.select(Image).where(
            Image.project_id == self.project_id, Image.thumbnail_key.is_(None)
        )
        for image in self.session.scalars(query).all():
            images.thumbnail_bytes(
                self.session, self.storage, image=image, size=self.settings.thumbnail_size
            )

    def all_types_image(self) -> uuid.UUID:
        existing = self.session.scalar(
            sa.select(Image).where(
                Image.project_id == self.project_id,
                Image.source == SOURCE,
                Image.source_id == ALL_TYPES_SOURCE_ID,
            )
        )
        if existing is not None:
            return existing.id
        spec = SequenceSpec("demo-all-types", 0, "wildfire", 8, 6, 30, None)
        scene = render_frame(spec, 6)
        model_name, version = PIPELINE_MODELS[1]
        heatmap_key: list[str] = []

        def with_artifact(analysis: Analysis) -> None:
            png = heatmap_png(scene.plume_mask)
            key = artifact_key(analysis.id, "heatmap.png")
            self.storage.put_bytes(key, png, "image/png")
            heatmap_key.append(key)
            self.session.add(
                Artifact(
                    id=uuid.uuid4(),
                    analysis_id=analysis.id,
                    name="heatmap.png",
                    content_type="image/png",
                    object_key=key,
                    expected_size=len(png),
                    size_bytes=len(png),
                    state=ArtifactState.UPLOADED,
                    uploaded_at=utcnow(),
                )
            )
            self.session.flush()

        def with_analysis(image: Image) -> None:
            self._analysis(
                image, model_name, version, all_type_annotations(scene), before_insert=with_artifact
            )

        upload = images.ImageUpload(
            stream=io.BytesIO(scene.jpeg),
            filename="all-annotation-types.jpg",
            captured_at=BASE_TIME + timedelta(days=6, minutes=30),
            source=SOURCE,
            source_id=ALL_TYPES_SOURCE_ID,
        )
        try:
            stored = images.store_image(
                self.session,
                self.storage,
                principal=self.owner,
                project_id=self.project_id,
                upload=upload,
                max_pixels=self.settings.max_image_pixels,
                on_stored=with_analysis,
            )
        except BaseException:
            for key in heatmap_key:
                self.storage.delete(key)
            raise
        return stored.image.id
