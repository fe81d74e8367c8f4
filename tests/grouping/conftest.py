"""A camera that sees the same objects day after day, built through the API."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.exports.builders import World, distinct_jpeg, make_world
from tests.support import Lookout

ANTENNA = [0.60, 0.20, 0.66, 0.32]
CHIMNEY = [0.10, 0.50, 0.18, 0.70]


def platform_box(box: list[float], confidence: float = 0.7, *, tracked: bool | None = None) -> dict:
    data: dict[str, Any] = {"bbox": box, "format": "xyxyn"}
    if tracked is not None:
        data["tracked"] = tracked
    return {
        "annotation_type": "bounding_box",
        "class_name": "smoke",
        "confidence": confidence,
        "data": data,
    }


@dataclass
class Camera:
    """One camera of a project whose sequences are drafted as the platform import does."""

    world: World
    camera_id: str
    sequences: dict[str, str] = field(default_factory=dict)

    @property
    def client(self) -> Any:
        return self.world.client

    def sequence(
        self,
        name: str,
        day: int,
        boxes: list[list[float]],
        *,
        context: list[list[float]] = (),  # type: ignore[assignment]
        frames: int = 3,
        score: float | None = 0.6,
        **fields: Any,
    ) -> dict[str, Any]:
        """A sequence seen on day `day` (June 2024) whose frames hold `boxes` (each a bit
        shifted from frame to frame) and other sequences' `context` boxes; drafted. Returns
        the draft's review."""
        body = {
            "project_id": self.world.project_id,
            "camera_id": self.camera_id,
            "source": "test",
            "source_id": name,
            "started_at": f"2024-06-{day:02d}T10:00:00Z",
            "platform_score": score,
            **fields,
        }
        created = self.client.post("/api/sequences", json=body)
        assert created.status_code == 201, created.text
        sequence_id = created.json()["id"]
        for index in range(frames):
            shift = 0.004 * index
            own = [[b[0] + shift, b[1], b[2] + shift, b[3]] for b in boxes]
            metadata = {
                "captured_at": f"2024-06-{day:02d}T10:0{index}:00Z",
                "source": "test",
                "source_id": f"{name}-f{index}",
                "predictions": {
                    "model_name": "platform",
                    "annotations": [platform_box(b) for b in own]
                    + [platform_box(b, 0.9, tracked=False) for b in context],
                },
            }
            stored = self.client.post(
                f"/api/sequences/{sequence_id}/frames",
                files={"file": (f"{name}-{index}.jpg", distinct_jpeg(), "image/jpeg")},
                data={"metadata": json.dumps(metadata)},
            )
            assert stored.status_code == 201, stored.text
        drafted = self.client.post(f"/api/sequences/{sequence_id}/draft", json={})
        assert drafted.status_code == 200, drafted.text
        self.sequences[name] = sequence_id
        return drafted.json()["review"]

    def review(self, name: str) -> dict[str, Any]:
        got = self.client.get(f"/api/sequences/{self.sequences[name]}/review")
        assert got.status_code == 200, got.text
        return got.json()

    def groups(self, **params: Any) -> list[dict[str, Any]]:
        listed = self.client.get(
            "/api/groups", params={"project_id": self.world.project_id, **params}
        )
        assert listed.status_code == 200, listed.text
        return listed.json()["items"]

    def group(self, group_id: str) -> dict[str, Any]:
        got = self.client.get(f"/api/groups/{group_id}")
        assert got.status_code == 200, got.text
        return got.json()

    def decide(self, group_id: str, **body: Any) -> dict[str, Any]:
        decided = self.client.post(f"/api/groups/{group_id}/decision", json=body)
        assert decided.status_code == 200, decided.text
        return decided.json()

    def save(self, name: str, tracks: list[dict[str, Any]], stage: str = "annotated") -> dict:
        review = self.review(name)
        body = {"tracks": tracks, "processing_stage": stage, "version": review["version"]}
        saved = self.client.put(f"/api/sequences/{self.sequences[name]}/review", json=body)
        assert saved.status_code == 200, saved.text
        return saved.json()


def new_camera(world: World, key: str) -> str:
    made = world.client.post(
        "/api/cameras",
        json={"project_id": world.project_id, "source": "test", "source_id": key, "name": key},
    )
    assert made.status_code == 201, made.text
    return made.json()["id"]


@pytest.fixture
def camera(lookout: Lookout) -> Camera:
    world = make_world(lookout, email="gina@example.org", group="watchers", name="ridge")
    assert world.camera is not None
    return Camera(world, world.camera["id"])
