"""Building small projects for export, import and evaluation tests.

Frames and reviews go through the API; a model's boxes are stored in-process through the
analyses service (what a pipeline would post, without the HMAC ceremony).
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count
from typing import Any

import httpx

from lookout.accounts import service as accounts
from lookout.analyses import bulk
from lookout.analyses import service as analyses
from lookout.auth.principal import Principal
from lookout.images.models import Image
from lookout.sequences import reviews
from lookout.sequences.schemas import ReviewWrite
from lookout.storage import ObjectStorage, make_storage
from tests.support import Lookout, jpeg_bytes

_colors = count(1)


def distinct_jpeg(width: int = 64, height: int = 48) -> bytes:
    """A JPEG whose bytes differ from every other one made here (so sha256s differ)."""
    n = next(_colors)
    return jpeg_bytes(width, height, color=((n * 37) % 256, (n * 91) % 256, (n * 13) % 256))


@dataclass
class Seq:
    id: str
    source_id: str
    frames: list[str]


@dataclass
class World:
    lookout: Lookout
    client: httpx.Client
    project: dict[str, Any]
    email: str
    camera: dict[str, Any] | None = None
    sequences: list[Seq] = field(default_factory=list)

    @property
    def project_id(self) -> str:
        return self.project["id"]

    def principal(self) -> Principal:
        with self.lookout.sessions() as session:
            user = accounts.get_user(session, email=self.email)
            return accounts.principal_for(session, user, via="api_key")

    def storage(self) -> ObjectStorage:
        return make_storage(self.lookout.settings)

    def add_sequence(
        self,
        source_id: str,
        *,
        frames: int = 3,
        started_at: str = "2024-06-01T10:00:00",
        size: tuple[int, int] = (64, 48),
        camera: bool = True,
    ) -> Seq:
        start = datetime.fromisoformat(started_at)
        body = {
            "project_id": self.project_id,
            "source": "test",
            "source_id": source_id,
            "started_at": start.isoformat() + "Z",
        }
        if camera and self.camera is not None:
            body["camera_id"] = self.camera["id"]
        created = self.client.post("/api/sequences", json=body)
        assert created.status_code == 201, created.text
        seq = Seq(created.json()["id"], source_id, [])
        for i in range(frames):
            metadata = {
                "captured_at": (start + timedelta(minutes=i)).isoformat() + "Z",
                "source": "test",
                "source_id": f"{source_id}-f{i}",
            }
            files = {"file": (f"{source_id}-{i}.jpg", distinct_jpeg(*size), "image/jpeg")}
            response = self.client.post(
                f"/api/sequences/{seq.id}/frames",
                files=files,
                data={"metadata": json.dumps(metadata)},
            )
            assert response.status_code == 201, response.text
            seq.frames.append(response.json()["id"])
        self.sequences.append(seq)
        return seq

    def review(self, seq: Seq, tracks: list[dict[str, Any]], stage: str = "annotated") -> None:
        """Save a person's review (through the reviews service, as the review page does)."""
        write = ReviewWrite.model_validate({"tracks": tracks, "processing_stage": stage})
        with self.lookout.sessions() as session:
            reviews.save_review(
                session, principal=self.principal(), sequence_id=uuid.UUID(seq.id), write=write
            )

    def predict(
        self,
        image_id: str,
        boxes: list[tuple[str, list[float], float | None]],
        model: str = "yolo",
        version: str = "v1",
        status: str = "completed",
    ) -> None:
        """Store a model's boxes (class, xyxyn, confidence) as a completed analysis."""
        with self.lookout.sessions() as session:
            image = session.get(Image, uuid.UUID(image_id))
            analysis = analyses.create_analysis_row(
                session, image=image, model_name=model, model_version=version, status=status
            )
            bulk.insert_annotations(
                session,
                analysis=analysis,
                image=image,
                annotations=[
                    {
                        "annotation_type": "bounding_box",
                        "class_name": cls,
                        "confidence": conf,
                        "data": {"bbox": box, "format": "xyxyn"},
                    }
                    for cls, box, conf in boxes
                ],
            )
            session.commit()


def smoke(seq: Seq, boxes: dict[int, list[float]], smoke_type: str | None = None) -> dict:
    return {
        "decision": "smoke",
        "smoke_type": smoke_type,
        "boxes": [{"frame_id": seq.frames[i], "xyxyn": box} for i, box in boxes.items()],
    }


def false_positive(seq: Seq, boxes: dict[int, list[float]], types: list[str]) -> dict:
    return {
        "is_smoke": False,
        "false_positive_types": types,
        "boxes": [{"frame_id": seq.frames[i], "xyxyn": box} for i, box in boxes.items()],
    }


def make_world(
    lookout: Lookout,
    *,
    email: str = "alice@example.org",
    group: str = "team",
    name: str = "cams",
    camera: bool = True,
) -> World:
    client = lookout.keyed_client(email, group)
    project = lookout.create_project(client, name)
    world = World(lookout, client, project, email)
    if camera:
        response = client.post(
            "/api/cameras",
            json={
                "project_id": project["id"],
                "source": "test",
                "source_id": f"cam-{name}",
                "name": f"Ridge {name}",
            },
        )
        assert response.status_code == 201, response.text
        world.camera = response.json()
    return world


def standard_world(lookout: Lookout) -> World:
    """Three annotated sequences (two with smoke, one false positive), one draft, a model."""
    world = make_world(lookout)
    s1 = world.add_sequence("seq-1", frames=3, started_at="2024-06-01T10:00:00")
    s2 = world.add_sequence("seq-2", frames=2, started_at="2024-06-02T10:00:00")
    s3 = world.add_sequence("seq-3", frames=2, started_at="2024-06-03T10:00:00")
    s4 = world.add_sequence("seq-4", frames=2, started_at="2024-06-04T10:00:00")
    world.review(
        s1,
        [smoke(s1, {1: [0.1, 0.2, 0.3, 0.5], 2: [0.12, 0.2, 0.35, 0.55]}, smoke_type="wildfire")],
    )
    world.review(
        s2,
        [
            smoke(s2, {0: [0.5, 0.5, 0.9, 0.8]}, smoke_type="industrial"),
            smoke(s2, {0: [0.0, 0.0, 0.2, 0.1], 1: [0.0, 0.0, 0.25, 0.1]}),
        ],
    )
    world.review(s3, [false_positive(s3, {0: [0.4, 0.4, 0.6, 0.6]}, ["high_cloud", "building"])])
    world.review(s4, [smoke(s4, {0: [0.3, 0.3, 0.4, 0.4]})], stage="ready_to_annotate")
    return world


def read_zip(response: httpx.Response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    return archive
