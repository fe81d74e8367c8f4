"""One platform frame in several sequences, one per smoke object (the 2026 alert platform).

Each sequence drafts only its own tracked boxes; the other objects' boxes are kept as context
(drawn, not drafted); the picture is stored once; a sequence lists its siblings, and its review
page links them. Live servers on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support import Lookout, jpeg_bytes

PLUME_A = [0.10, 0.20, 0.30, 0.50]
PLUME_B = [0.60, 0.40, 0.80, 0.60]


def _sequence(client: Any, project_id: str, source_id: str) -> str:
    body = {
        "project_id": project_id,
        "source": "pyronear",
        "source_id": source_id,
        "started_at": "2026-06-01T10:00:00Z",
    }
    created = client.post("/api/sequences", json=body)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def _box(xyxyn: list[float], tracked: bool) -> dict[str, Any]:
    return {
        "annotation_type": "bounding_box",
        "class_name": "smoke",
        "confidence": 0.8,
        "data": {"bbox": xyxyn, "format": "xyxyn", "tracked": tracked},
    }


def _frame(client: Any, sequence_id: str, picture: bytes, n: int, own: list, other: list) -> str:
    metadata = {
        "captured_at": f"2026-06-01T10:0{n}:00Z",
        "source": "pyronear",
        "source_id": f"{sequence_id[:8]}-{n}",
        "predictions": {
            "model_name": "platform",
            "annotations": [_box(own, True), _box(other, False)],
        },
    }
    files = {"file": ("frame.jpg", picture, "image/jpeg")}
    response = client.post(
        f"/api/sequences/{sequence_id}/frames",
        files=files,
        data={"metadata": json.dumps(metadata)},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_sibling_sequences_share_frames_and_draft_their_own_object(lookout: Lookout) -> None:
    client = lookout.keyed_client()
    project = lookout.create_project(client, "cams-2026")["id"]
    first, second = _sequence(client, project, "101"), _sequence(client, project, "102")
    lonely = _sequence(client, project, "103")
    pictures = [jpeg_bytes(64 + n, 48) for n in range(3)]
    for n, picture in enumerate(pictures):
        _frame(client, first, picture, n, PLUME_A, PLUME_B)
        _frame(client, second, picture, n, PLUME_B, PLUME_A)
    _frame(client, lonely, jpeg_bytes(50, 40), 0, PLUME_A, PLUME_B)
    assert lookout.count("images") == 7

    listed = client.get("/api/sequences", params={"sibling_of": first}).json()["items"]
    assert [s["id"] for s in listed] == [second]
    assert client.get("/api/sequences", params={"sibling_of": lonely}).json()["items"] == []

    for sequence_id, plume in ((first, PLUME_A), (second, PLUME_B)):
        drafted = client.post(f"/api/sequences/{sequence_id}/draft", json={})
        assert drafted.status_code == 200, drafted.text
        review = client.get(f"/api/sequences/{sequence_id}/review").json()
        assert len(review["tracks"]) == 1  # its own object only, never the sibling's
        boxes = [b["xyxyn"] for b in review["tracks"][0]["boxes"]]
        assert all(box == plume for box in boxes) and len(boxes) == 3
        detail = client.get(f"/api/sequences/{sequence_id}").json()
        flags = {
            (tuple(p["bbox_xyxyn"]), p["context"])
            for f in detail["frames"]
            for p in f["predictions"]
        }
        other = PLUME_B if plume == PLUME_A else PLUME_A
        assert flags == {(tuple(plume), False), (tuple(other), True)}

    page = client.get(f"/sequences/{first}")
    assert page.status_code == 200 and f'href="/sequences/{second}"' in page.text
    assert "Same frames, other smoke objects" in page.text


def test_siblings_of_another_groups_sequence_are_not_found(lookout: Lookout) -> None:
    owner = lookout.keyed_client("owner@example.org", "owners")
    project = lookout.create_project(owner, "private")["id"]
    sequence_id = _sequence(owner, project, "201")
    outsider = lookout.keyed_client("outsider@example.org", "others")
    answer = outsider.get("/api/sequences", params={"sibling_of": sequence_id})
    assert answer.status_code == 404
