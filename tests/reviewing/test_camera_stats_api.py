"""Per-camera statistics of a project on a small hand-made dataset, on both databases."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support import Lookout, jpeg_bytes


def _camera(client: httpx.Client, project_id: str, name: str) -> str:
    created = client.post(
        "/api/cameras",
        json={"project_id": project_id, "source": "test", "source_id": name, "name": name},
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


def _track(frame_id: str, decision: str, types: list[str] | None = None) -> dict[str, Any]:
    track: dict[str, Any] = {
        "decision": decision,
        "boxes": [{"frame_id": frame_id, "xyxyn": [0.1, 0.1, 0.2, 0.2]}],
    }
    if decision == "smoke":
        track["smoke_type"] = "wildfire"
    if types:
        track["false_positive_types"] = types
    return track


def _sequence(
    client: httpx.Client,
    project_id: str,
    camera_id: str,
    name: str,
    started_at: str,
    tracks: list[tuple[str, list[str]]] | None,
) -> str:
    """A sequence with one frame; reviewed with these (decision, types) tracks when given."""
    created = client.post(
        "/api/sequences",
        json={
            "project_id": project_id,
            "camera_id": camera_id,
            "source": "test",
            "source_id": name,
            "started_at": started_at,
        },
    )
    assert created.status_code == 201, created.text
    sequence_id = created.json()["id"]
    frame = client.post(
        f"/api/sequences/{sequence_id}/frames",
        files={"file": ("f.jpg", jpeg_bytes(color=(len(name) * 9, 50, 80)), "image/jpeg")},
        data={"metadata": json.dumps({"source": "test", "source_id": f"{name}-f0"})},
    )
    assert frame.status_code == 201, frame.text
    assert client.post(f"/api/sequences/{sequence_id}/draft", json={}).status_code == 200
    if tracks is not None:
        frame_id = frame.json()["id"]
        version = client.get(f"/api/sequences/{sequence_id}/review").json()["version"]
        saved = client.put(
            f"/api/sequences/{sequence_id}/review",
            json={
                "tracks": [_track(frame_id, d, t) for d, t in tracks],
                "processing_stage": "annotated",
                "version": version,
            },
        )
        assert saved.status_code == 200, saved.text
    return sequence_id


@pytest.fixture
def cameras(lookout: Lookout) -> dict[str, Any]:
    client = lookout.keyed_client("alice@example.org", "team")
    project = lookout.create_project(client, "cams")["id"]
    north, south = _camera(client, project, "North"), _camera(client, project, "South")
    day1, day2 = "2024-03-01T10:00:00Z", "2024-03-02T23:30:00Z"
    _sequence(client, project, north, "n1", day1, [("smoke", []), ("false_positive", ["building"])])
    _sequence(client, project, north, "n2", day1, None)  # waiting: counted, not reviewed
    _sequence(
        client,
        project,
        north,
        "n3",
        day2,
        [("false_positive", ["building", "antenna"]), ("false_positive", ["antenna"])],
    )
    _sequence(client, project, north, "n4", "2024-03-10T10:00:00Z", [("smoke", [])])  # later
    _sequence(client, project, south, "s1", day1, [("smoke", []), ("unsure", [])])
    return {"lookout": lookout, "client": client, "project": project, "ids": (north, south)}


def test_camera_stats_on_a_small_dataset(cameras: dict[str, Any]) -> None:
    client, project = cameras["client"], cameras["project"]
    north, south = cameras["ids"]
    response = client.get(
        f"/api/projects/{project}/camera-stats",
        params={"since": "2024-03-01", "until": "2024-03-02"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["since"], body["until"]) == ("2024-03-01", "2024-03-02")
    by_name = {c["name"]: c for c in body["cameras"]}
    assert list(by_name) == ["North", "South"]
    n = by_name["North"]
    assert n["camera_id"] == north
    # n1: smoke + fp; n2 waiting; n3: two fps. 3 fps of 4 decided tracks.
    assert (n["sequences"], n["reviewed"]) == (3, 2)
    assert (n["smoke_tracks"], n["false_positive_tracks"]) == (1, 3)
    assert n["false_positive_rate"] == 0.75
    assert n["top_false_positive_types"] == [
        {"type": "antenna", "count": 2},
        {"type": "building", "count": 2},
    ]
    assert n["share_in_groups"] == 0.0  # no drafted track joined a group
    assert [
        (d["day"], d["sequences"], d["reviewed"], d["false_positive_rate"]) for d in n["days"]
    ] == [("2024-03-01", 2, 1, 0.5), ("2024-03-02", 1, 1, 1.0)]
    s = by_name["South"]
    assert s["camera_id"] == south
    # The unsure track counts in neither: one smoke track, no false positive.
    assert (s["sequences"], s["smoke_tracks"], s["false_positive_tracks"]) == (1, 1, 0)
    assert s["false_positive_rate"] == 0.0 and s["top_false_positive_types"] == []
    assert [d["false_positive_rate"] for d in s["days"]] == [0.0, None]


def test_camera_stats_default_to_the_last_thirty_days_of_the_project(
    cameras: dict[str, Any],
) -> None:
    client, project = cameras["client"], cameras["project"]
    body = client.get(f"/api/projects/{project}/camera-stats").json()
    assert (body["since"], body["until"]) == ("2024-02-10", "2024-03-10")
    north = next(c for c in body["cameras"] if c["name"] == "North")
    assert north["sequences"] == 4 and len(north["days"]) == 30
    assert north["false_positive_rate"] == 0.6  # 3 fps of 5 decided tracks


def test_camera_stats_refuse_bad_periods_and_other_groups(cameras: dict[str, Any]) -> None:
    client, project = cameras["client"], cameras["project"]
    path = f"/api/projects/{project}/camera-stats"
    swapped = client.get(path, params={"since": "2024-03-02", "until": "2024-03-01"})
    assert swapped.status_code == 400 and swapped.json()["field"] == "until"
    too_long = client.get(path, params={"since": "2020-01-01", "until": "2024-03-01"})
    assert too_long.status_code == 400 and too_long.json()["field"] == "since"
    mallory = cameras["lookout"].keyed_client("mallory@example.org", "other")
    assert mallory.get(path).status_code == 404
