"""A small generated demo dataset, loaded in-process through the services.

`lookout demo` (or `lookout serve --demo`) fills the configured database and storage with one
project, two cameras and eight sequences of plume-like frames, the platform's predictions on
every frame, drafts for every sequence, two finished reviews, two pipeline models' analyses
(`yolo_v8`, `yolo_v11`) on the frames of three sequences, and one image carrying every
annotation type (boxes, polygon and RLE segmentation, keypoints, classification and a heatmap
artifact). Everything is keyed by `source="demo"` ids, so loading it again adds nothing.
"""

from __future__ import annotations

import io
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFilter
from sqlalchemy.orm import Session

from lookout.accounts import service as accounts
from lookout.analyses import bulk
from lookout.analyses import service as analyses
from lookout.analyses.artifacts import artifact_key
from lookout.analyses.models import Analysis, Artifact, ArtifactState
from lookout.auth.principal import Principal
from lookout.config import Settings
from lookout.db import make_engine, make_session_factory, utcnow
from lookout.errors import NotFound
from lookout.images import service as images
from lookout.images.models import Image
from lookout.projects import service as projects
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
    "Generated demo data: two cameras, eight sequences with the platform's predictions, "
    "two pipeline models and one image with every annotation type."
)
REVIEWER_EMAIL = "camille.reviewer@example.org"
ALL_TYPES_SOURCE_ID = "demo-all-types"
PIPELINE_MODELS = (("yolo_v8", "v8.0.0"), ("yolo_v11", "v11.0.0"))
PLATFORM_MODEL = ("platform", "pyronear-demo")
WIDTH, HEIGHT = 800, 450
BASE_TIME = datetime(2025, 7, 14, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class CameraSpec:
    key: str
    name: str
    lat: float
    lon: float
    azimuth: float
    seed: int


CAMERAS = (
    CameraSpec("cam-north-ridge", "North ridge", 44.553, 4.221, 112.0, 11),
    CameraSpec("cam-valley-tower", "Valley tower", 44.418, 4.386, 248.0, 23),
)


@dataclass(frozen=True)
class SequenceSpec:
    key: str
    camera: int
    kind: str  # what the frames show; see _render_frame
    frames: int
    day: int  # days after BASE_TIME
    minute: int
    label: str | None  # what the platform said


SEQUENCES = (
    SequenceSpec("demo-seq-01", 0, "wildfire", 8, 0, 62, "True"),
    SequenceSpec("demo-seq-02", 0, "cloud", 7, 0, 185, "True"),
    SequenceSpec("demo-seq-03", 1, "wildfire_far", 10, 1, 20, "True"),
    SequenceSpec("demo-seq-04", 1, "industrial", 6, 1, 240, None),
    SequenceSpec("demo-seq-05", 0, "glare", 6, 2, 390, None),
    SequenceSpec("demo-seq-06", 1, "wildfire_cloud", 9, 3, 95, "True"),
    SequenceSpec("demo-seq-07", 0, "dust", 7, 4, 300, None),
    SequenceSpec("demo-seq-08", 1, "wildfire_small", 8, 5, 150, None),
)
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
                    annotations=[_box(b, c) for b, c in scene.platform_boxes],
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
                boxes = _pipeline_boxes(model_name, spec, index, scene)
                self._analysis(image, model_name, version, [_box(b, c) for b, c in boxes])
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
        self.created["drafts"] += 1

    def review(self, sequence: Sequence, reviewer: Principal, verdict: str) -> None:
        review = reviews.get_review(self.session, principal=reviewer, sequence_id=sequence.id)
        if review.processing_stage == ProcessingStage.ANNOTATED:
            return
        tracks = []
        for track in review.tracks:
            if verdict in ("wildfire", "industrial", "other"):
                tracks.append({**track, "is_smoke": True, "smoke_type": verdict})
            else:
                tracks.append(
                    {
                        **track,
                        "is_smoke": False,
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


# --- annotations ---------------------------------------------------------------------------

Box = tuple[float, float, float, float]


def _box(box: Box, confidence: float, class_name: str = "smoke") -> dict[str, Any]:
    return {
        "annotation_type": "bounding_box",
        "class_name": class_name,
        "confidence": round(confidence, 3),
        "data": {"bbox": [round(v, 5) for v in box], "format": "xyxyn"},
    }


def _jitter(box: Box, rng: random.Random, amount: float) -> Box:
    x1, y1, x2, y2 = (v + rng.uniform(-amount, amount) for v in box)
    x1, y1 = max(0.0, x1), max(0.0, y1)
    x2, y2 = min(1.0, max(x2, x1 + 0.01)), min(1.0, max(y2, y1 + 0.01))
    return (x1, y1, x2, y2)


def _pipeline_boxes(
    model_name: str, spec: SequenceSpec, index: int, scene: Scene
) -> list[tuple[Box, float]]:
    """Two models that partly agree: both see the plume, each has its own extra boxes."""
    rng = random.Random(f"{model_name}:{spec.key}:{index}")
    out: list[tuple[Box, float]] = []
    smoke = [b for b, _ in scene.platform_boxes[:1]] if spec.kind.startswith("wildfire") else []
    progress = (index + 1) / spec.frames
    for box in smoke:
        # The newer model picks the plume up one frame later, while it is still faint.
        if model_name == "yolo_v11" and index == 0:
            continue
        out.append((_jitter(box, rng, 0.008), 0.45 + 0.5 * progress * rng.uniform(0.9, 1.0)))
    if model_name == "yolo_v8" and index % 2 == 0:
        out.append(((0.62, 0.18, 0.78, 0.27), rng.uniform(0.3, 0.45)))  # a cloud
    if model_name == "yolo_v11" and index % 3 == 1:
        out.append(((0.08, 0.47, 0.13, 0.52), rng.uniform(0.28, 0.4)))  # a glint on the ridge
    return out


def all_type_annotations(scene: Scene) -> list[dict[str, Any]]:
    """One annotation of each type (and both segmentation formats) for the plume."""
    (x1, y1, x2, y2), _ = scene.platform_boxes[0]
    mask = scene.plume_mask
    polygon = _polygon(mask, points=28)
    small = mask.resize((WIDTH // 5, HEIGHT // 5), PILImage.Resampling.BILINEAR)
    rle = rle_encode(np.asarray(small) > 60)
    top = min(polygon, key=lambda p: p[1])
    return [
        {
            "annotation_type": "bounding_box",
            "class_name": "smoke",
            "confidence": 0.91,
            "data": {
                "bbox": [
                    round(x1 * WIDTH),
                    round(y1 * HEIGHT),
                    round(x2 * WIDTH),
                    round(y2 * HEIGHT),
                ],
                "format": "xyxy",
            },
        },
        {
            "annotation_type": "bounding_box",
            "class_name": "cloud",
            "confidence": 0.42,
            "data": {"bbox": [500, 80, 120, 40], "format": "xywh"},
        },
        {
            "annotation_type": "segmentation",
            "class_name": "smoke",
            "confidence": 0.88,
            "data": {"points": [[round(x), round(y)] for x, y in polygon], "format": "polygon"},
        },
        {
            "annotation_type": "segmentation",
            "class_name": "smoke",
            "confidence": 0.86,
            "data": {"rle": {"counts": rle, "size": [HEIGHT // 5, WIDTH // 5]}, "format": "rle"},
        },
        {
            "annotation_type": "keypoint",
            "class_name": "plume",
            "confidence": 0.8,
            "data": {
                "keypoints": [
                    {
                        "name": "source",
                        "x": round(scene.origin[0]),
                        "y": round(scene.origin[1]),
                        "confidence": 0.93,
                    },
                    {"name": "top", "x": round(top[0]), "y": round(top[1]), "confidence": 0.81},
                    {
                        "name": "drift",
                        "x": round(x2 * WIDTH) - 12,
                        "y": round(y1 * HEIGHT) + 20,
                        "confidence": 0.66,
                    },
                ]
            },
        },
        {
            "annotation_type": "classification",
            "class_name": "smoke",
            "confidence": 0.93,
            "data": {"scores": {"smoke": 0.93, "cloud": 0.05, "clear": 0.02}},
        },
        {
            "annotation_type": "heatmap",
            "class_name": "smoke",
            "confidence": 0.9,
            "data": {"artifact_name": "heatmap.png", "colormap": "inferno"},
        },
    ]


def rle_encode(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE: column-major run lengths, starting with a run of zeros."""
    flat = np.asarray(mask, dtype=bool).flatten(order="F")
    counts: list[int] = []
    current, run = False, 0
    for value in flat:
        if value == current:
            run += 1
        else:
            counts.append(run)
            current, run = bool(value), 1
    counts.append(run)
    return counts


def _polygon(mask: PILImage.Image, points: int) -> list[tuple[float, float]]:
    """A star-shaped outline of the mask: the farthest masked pixel along each ray."""
    array = np.asarray(mask) > 60
    ys, xs = np.nonzero(array)
    cx, cy = float(xs.mean()), float(ys.mean())
    outline = []
    for k in range(points):
        angle = 2 * math.pi * k / points
        dx, dy = math.cos(angle), math.sin(angle)
        radius = 0.0
        for step in range(1, 400):
            x, y = int(cx + dx * step), int(cy + dy * step)
            if not (0 <= x < WIDTH and 0 <= y < HEIGHT):
                break
            if array[y, x]:
                radius = step
        outline.append((cx + dx * max(radius, 3), cy + dy * max(radius, 3)))
    return outline


def heatmap_png(mask: PILImage.Image) -> bytes:
    """A saliency map of the plume: transparent where cold, yellow to red where hot."""
    small = mask.resize((WIDTH // 4, HEIGHT // 4), PILImage.Resampling.BILINEAR)
    heat = np.asarray(small.filter(ImageFilter.GaussianBlur(6)), dtype=np.float32) / 255.0
    heat = np.clip(heat / max(float(heat.max()), 1e-6), 0, 1)
    rgba = np.zeros((*heat.shape, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = (230 * (1 - heat)).astype(np.uint8)
    rgba[..., 2] = (40 * (1 - heat)).astype(np.uint8)
    rgba[..., 3] = (220 * np.sqrt(heat)).astype(np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(rgba, "RGBA").save(out, format="PNG", optimize=True)
    return out.getvalue()


# --- frames ---------------------------------------------------------------------------------


@dataclass
class Scene:
    jpeg: bytes
    platform_boxes: list[tuple[Box, float]]
    plume_mask: PILImage.Image
    origin: tuple[float, float]


def _ridge(rng: random.Random, base: float, amplitude: float) -> np.ndarray:
    xs = np.arange(WIDTH, dtype=np.float32)
    line = np.full(WIDTH, base, dtype=np.float32)
    for octave in range(1, 5):
        phase = rng.uniform(0, 2 * math.pi)
        line += amplitude / octave * np.sin(xs / WIDTH * math.pi * (octave * 1.7 + 0.6) + phase)
    return line


def _background(camera: CameraSpec) -> tuple[np.ndarray, np.ndarray]:
    """Sky gradient, a far ridge and a near slope; returns the RGB array and the far ridge line."""
    rng = random.Random(camera.seed)
    rows = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None]
    top = np.array([88, 142, 204], dtype=np.float32)
    horizon = np.array([196, 214, 228], dtype=np.float32)
    sky = top + (horizon - top) * rows[..., None] ** 0.8
    image = np.broadcast_to(sky, (HEIGHT, WIDTH, 3)).copy()
    ys = np.arange(HEIGHT, dtype=np.float32)[:, None]
    far = _ridge(rng, HEIGHT * 0.5, 22)
    near = _ridge(rng, HEIGHT * 0.7, 30)
    far_mask = ys >= far[None, :]
    near_mask = ys >= near[None, :]
    image[far_mask] = np.array([112, 128, 140], dtype=np.float32)
    shade = np.clip((ys - near[None, :]) / (HEIGHT * 0.4), 0, 1)[..., None]
    near_color = np.array([70, 92, 58], dtype=np.float32) * (1 - 0.45 * shade)
    image = np.where(near_mask[..., None], np.broadcast_to(near_color, image.shape), image)
    noise = np.random.default_rng(camera.seed).normal(0, 3.0, image.shape)
    return np.clip(image + noise, 0, 255), far


def _soft(draw_fn: Callable[[ImageDraw.ImageDraw], None], blur: float) -> PILImage.Image:
    mask = PILImage.new("L", (WIDTH, HEIGHT), 0)
    draw_fn(ImageDraw.Draw(mask))
    return mask.filter(ImageFilter.GaussianBlur(blur))


def _plume(
    origin: tuple[float, float],
    progress: float,
    *,
    height: float,
    drift: float,
    width: float,
    rng: random.Random,
) -> PILImage.Image:
    x0, y0 = origin
    top = height * (0.35 + 0.65 * progress)

    def draw(d: ImageDraw.ImageDraw) -> None:
        steps = 14
        for j in range(steps):
            t = j / (steps - 1)
            cx = x0 + drift * top * t**1.6 + rng.uniform(-2, 2)
            cy = y0 - top * t
            r = width * (0.7 + 1.3 * t) * (0.6 + 0.4 * progress)
            d.ellipse((cx - r, cy - r * 0.8, cx + r, cy + r * 0.8), fill=int(245 - 100 * t))

    return _soft(draw, 5)


def _mask_box(mask: PILImage.Image, pad: float = 0.004) -> Box | None:
    bbox = mask.point(lambda v: 255 if v > 50 else 0).getbbox()
    if bbox is None:
        return None
    x1, y1, x2, y2 = bbox
    return (
        max(0.0, x1 / WIDTH - pad),
        max(0.0, y1 / HEIGHT - pad),
        min(1.0, x2 / WIDTH + pad),
        min(1.0, y2 / HEIGHT + pad),
    )


def render_frame(spec: SequenceSpec, index: int, *, with_pixels: bool = True) -> Scene:
    """One frame of a sequence: the scene, and the boxes the platform's model saw on it."""
    camera = CAMERAS[spec.camera]
    rng = random.Random(f"{spec.key}:{index}")
    progress = (index + 1) / spec.frames
    background, far = _background(camera)
    image = PILImage.fromarray(background.astype(np.uint8), "RGB")
    boxes: list[tuple[Box, float]] = []
    layers: list[tuple[PILImage.Image, tuple[int, int, int], float]] = []
    anchor_x = {
        "wildfire": 0.36,
        "wildfire_far": 0.58,
        "wildfire_cloud": 0.3,
        "wildfire_small": 0.7,
        "industrial": 0.45,
    }.get(spec.kind, 0.4)
    ox = WIDTH * anchor_x
    origin = (ox, float(far[int(ox)]) + 4)
    plume_mask = PILImage.new("L", (WIDTH, HEIGHT), 0)
    if spec.kind.startswith("wildfire"):
        scale = {"wildfire_far": 0.6, "wildfire_small": 0.45}.get(spec.kind, 1.0)
        plume_mask = _plume(
            origin, progress, height=150 * scale, drift=0.55, width=16 * scale, rng=rng
        )
        layers.append((plume_mask, (206, 204, 200), 0.82))
        box = _mask_box(plume_mask)
        if box is not None and not (spec.kind == "wildfire_small" and index == 3):
            boxes.append((box, min(0.95, 0.3 + 0.6 * progress + rng.uniform(-0.04, 0.04))))
    if spec.kind == "industrial":
        chimney = (origin[0] - 3, origin[1] - 26, origin[0] + 3, origin[1])
        plume_mask = _plume(
            (origin[0], origin[1] - 26),
            0.7 + 0.3 * progress,
            height=90,
            drift=0.1,
            width=7,
            rng=rng,
        )
        layers.append((plume_mask, (240, 240, 240), 0.9))
        ImageDraw.Draw(image).rectangle(chimney, fill=(60, 60, 64))
        box = _mask_box(plume_mask)
        if box is not None:
            boxes.append((box, 0.55 + 0.2 * progress))
    if spec.kind in ("cloud", "wildfire_cloud"):
        cx = WIDTH * (0.55 + 0.05 * progress) if spec.kind == "cloud" else WIDTH * 0.72
        cy = float(far[int(min(cx, WIDTH - 1))]) - 14
        cloud = _soft(lambda d: d.ellipse((cx - 90, cy - 18, cx + 90, cy + 18), fill=230), 12)
        layers.append((cloud, (244, 246, 248), 0.9))
        box = _mask_box(cloud, pad=-0.01)
        if box is not None and index % 4 != 3:
            boxes.append((box, 0.36 + 0.15 * rng.random()))
    if spec.kind == "glare":
        sx, sy = WIDTH * 0.84, HEIGHT * 0.12

        def flare(d: ImageDraw.ImageDraw) -> None:
            d.ellipse((sx - 30, sy - 30, sx + 30, sy + 30), fill=255)
            for k in range(1, 4):
                fx, fy = sx - k * 95 + index * 3, sy + k * 70
                d.ellipse((fx - 12 * k, fy - 12 * k, fx + 12 * k, fy + 12 * k), fill=110)

        glare = _soft(flare, 4)
        layers.append((glare, (255, 250, 225), 0.85))
        fx, fy = sx - 2 * 95 + index * 3, sy + 2 * 70
        flare_box = ((fx - 30) / WIDTH, (fy - 30) / HEIGHT, (fx + 30) / WIDTH, (fy + 30) / HEIGHT)
        boxes.append((flare_box, 0.41 + 0.03 * index))
    if spec.kind == "dust":
        dx, dy = WIDTH * (0.2 + 0.08 * index), HEIGHT * 0.86

        def dust(d: ImageDraw.ImageDraw) -> None:
            d.ellipse((dx - 70, dy - 30, dx + 40, dy + 10), fill=240)
            d.ellipse((dx - 130, dy - 20, dx - 40, dy + 8), fill=140)

        cloud = _soft(dust, 9)
        layers.append((cloud, (186, 164, 126), 0.9))
        box = _mask_box(cloud)
        if box is not None:
            boxes.append((box, 0.33 + 0.05 * (index % 3)))
    if not with_pixels:
        return Scene(b"", boxes, plume_mask, origin)
    for mask, color, strength in layers:
        alpha = mask.point(lambda v, s=strength: int(v * s))
        image.paste(PILImage.new("RGB", image.size, color), (0, 0), alpha)
    draw = ImageDraw.Draw(image)
    stamp = BASE_TIME + timedelta(days=spec.day, minutes=spec.minute, seconds=30 * index)
    draw.rectangle((0, HEIGHT - 18, 260, HEIGHT), fill=(0, 0, 0))
    draw.text((6, HEIGHT - 15), f"{camera.name}  {stamp:%Y-%m-%d %H:%M:%S}", fill=(235, 235, 235))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80, optimize=True)
    return Scene(out.getvalue(), boxes, plume_mask, origin)
