"""Cameras, sequences, frames, drafts and reviews through the API."""

from __future__ import annotations

import json

import pytest

from tests.support import LiveServer, jpeg_bytes, stored_files


def _box(x1, y1, x2, y2, conf=0.8):
    return {
        "annotation_type": "bounding_box",
        "class_name": "smoke",
        "confidence": conf,
        "data": {"bbox": [x1, y1, x2, y2], "format": "xyxyn"},
    }


@pytest.fixture
def setup(lookout):
    client = lookout.keyed_client()
    project = lookout.create_project(client, "org-a")
    camera = client.post(
        "/api/cameras",
        json={
            "project_id": project["id"],
            "source": "pyronear",
            "source_id": "cam-1",
            "name": "Ridge",
            "organization_id": "1",
            "organization_name": "org-a",
            "lat": 44.5,
            "lon": 4.2,
        },
    ).json()
    sequence = client.post(
        "/api/sequences",
        json={
            "project_id": project["id"],
            "camera_id": camera["id"],
            "source": "pyronear",
            "source_id": "seq-1",
            "azimuth": 120.5,
            "started_at": "2024-01-01T10:00:00Z",
            "last_seen_at": "2024-01-01T10:05:00Z",
            "source_label": "True",
        },
    ).json()
    return lookout, client, project, camera, sequence


def _frame(client, sequence_id, index, boxes, source_id=None):
    metadata = {
        "captured_at": f"2024-01-01T10:0{index}:00Z",
        "source": "pyronear",
        "source_id": source_id or f"det-{index}",
        "predictions": {"model_name": "platform", "model_version": "v1", "annotations": boxes},
    }
    return client.post(
        f"/api/sequences/{sequence_id}/frames",
        files={"file": ("f.jpg", jpeg_bytes(), "image/jpeg")},
        data={"metadata": json.dumps(metadata)},
    )


def test_camera_and_sequence_creation_is_idempotent(setup):
    lookout, client, project, camera, sequence = setup
    assert camera["existing"] is False and sequence["existing"] is False
    again = client.post(
        "/api/cameras",
        json={
            "project_id": project["id"],
            "source": "pyronear",
            "source_id": "cam-1",
            "name": "Ridge",
        },
    )
    assert again.status_code == 200
    assert again.json()["id"] == camera["id"] and again.json()["existing"] is True
    seq_again = client.post(
        "/api/sequences",
        json={
            "project_id": project["id"],
            "source": "pyronear",
            "source_id": "seq-1",
            "started_at": "2024-01-01T10:00:00Z",
            "last_seen_at": "2024-01-01T10:09:00Z",
        },
    )
    assert seq_again.status_code == 200
    assert seq_again.json()["id"] == sequence["id"]
    assert seq_again.json()["last_seen_at"].startswith("2024-01-01T10:09")
    assert lookout.count("cameras") == 1 and lookout.count("sequences") == 1


def test_frames_with_predictions_and_detail(setup):
    lookout, client, _project, camera, sequence = setup
    first = _frame(client, sequence["id"], 1, [_box(0.1, 0.1, 0.2, 0.2, 0.9)])
    assert first.status_code == 201, first.text
    assert first.json()["prediction_count"] == 1
    _frame(
        client, sequence["id"], 0, [_box(0.11, 0.1, 0.21, 0.2, 0.7), _box(0.6, 0.6, 0.7, 0.7, 0.3)]
    )
    again = _frame(client, sequence["id"], 1, [_box(0.1, 0.1, 0.2, 0.2)])
    assert again.status_code == 200 and again.json()["existing"] is True
    assert lookout.count("images") == 2 and lookout.count("predictions") == 3
    detail = client.get(f"/api/sequences/{sequence['id']}").json()
    assert [f["source_id"] for f in detail["frames"]] == ["det-0", "det-1"]  # time order
    assert detail["camera_name"] == "Ridge" and detail["organization_name"] == "org-a"
    assert detail["frame_count"] == 2 and detail["review"] is None
    boxes = detail["frames"][0]["predictions"]
    assert {b["confidence"] for b in boxes} == {0.7, 0.3}
    assert boxes[0]["model_name"] == "platform"
    assert boxes[0]["bbox_xyxyn"] == pytest.approx([0.11, 0.1, 0.21, 0.2])


def test_bad_prediction_stores_nothing(setup):
    lookout, client, _project, _camera, sequence = setup
    bad = _frame(
        client,
        sequence["id"],
        0,
        [
            _box(0.1, 0.1, 0.2, 0.2),
            {
                "annotation_type": "bounding_box",
                "class_name": "smoke",
                "confidence": 7,
                "data": {"bbox": [0, 0, 1, 1], "format": "xyxyn"},
            },
        ],
    )
    assert bad.status_code == 400, bad.text
    assert "annotations[1]" in bad.json()["detail"] or "1" in str(bad.json().get("field"))
    assert lookout.count("images") == 0 and lookout.count("analyses") == 0
    assert stored_files(lookout.settings.resolved_storage_path) == []


def test_frame_fetched_by_url(setup):
    lookout, client, _project, _camera, sequence = setup
    from fastapi import FastAPI
    from fastapi.responses import Response

    source = FastAPI()
    calls = {"n": 0}

    @source.get("/frame.jpg")
    def frame() -> Response:
        calls["n"] += 1
        return Response(jpeg_bytes(80, 60), media_type="image/jpeg")

    @source.get("/missing.jpg")
    def missing() -> Response:
        return Response(status_code=404)

    server = LiveServer(source).start()
    try:
        body = {
            "url": f"{server.url}/frame.jpg?X-Amz-Signature=secret",
            "source": "pyronear",
            "source_id": "det-url",
            "captured_at": "2024-01-01T10:00:00Z",
            "predictions": {"annotations": [_box(0.1, 0.2, 0.3, 0.4)]},
        }
        created = client.post(f"/api/sequences/{sequence['id']}/frames", json=body)
        assert created.status_code == 201, created.text
        assert (created.json()["width"], created.json()["height"]) == (80, 60)
        again = client.post(f"/api/sequences/{sequence['id']}/frames", json=body)
        assert again.status_code == 200 and calls["n"] == 1  # no second download
        failed = client.post(
            f"/api/sequences/{sequence['id']}/frames",
            json={**body, "url": f"{server.url}/missing.jpg?sig=secret", "source_id": "x"},
        )
        assert failed.status_code == 502
        assert "404" in failed.json()["detail"] and "secret" not in failed.json()["detail"]
        wrong_scheme = client.post(
            f"/api/sequences/{sequence['id']}/frames",
            json={**body, "url": "file:///etc/passwd", "source_id": "y"},
        )
        assert wrong_scheme.status_code == 400
    finally:
        server.stop()
    assert lookout.count("images") == 1


def test_draft_clusters_and_respects_people(setup):
    _lookout, client, _project, _camera, sequence = setup
    for i in range(3):
        _frame(
            client,
            sequence["id"],
            i,
            [_box(0.1 + i * 0.01, 0.1, 0.2 + i * 0.01, 0.2, 0.8), _box(0.7, 0.7, 0.8, 0.8, 0.2)],
        )
    url = f"/api/sequences/{sequence['id']}/draft"
    draft = client.post(url, json={"confidence_threshold": 0.5, "iou_threshold": 0.3}).json()
    assert draft["status"] == "created" and draft["track_count"] == 1
    review = draft["review"]
    assert review["processing_stage"] == "ready_to_annotate"
    assert review["tracks"][0]["is_smoke"] is True and len(review["tracks"][0]["boxes"]) == 3
    assert review["draft_params"]["confidence_threshold"] == 0.5
    redraft = client.post(url, json={"confidence_threshold": 0.0}).json()
    assert redraft["status"] == "updated" and redraft["track_count"] == 2
    # A person starts reviewing: later drafts keep their work.
    track = redraft["review"]["tracks"][0]
    saved = client.put(
        f"/api/sequences/{sequence['id']}/review",
        json={
            "tracks": [
                {"is_smoke": False, "false_positive_types": ["building"], "boxes": track["boxes"]}
            ],
            "processing_stage": "in_review",
            "version": redraft["review"]["version"],
        },
    )
    assert saved.status_code == 200, saved.text
    skipped = client.post(url, json={}).json()
    assert skipped["status"] == "skipped"
    assert skipped["review"]["processing_stage"] == "in_review"
    forced = client.post(url, json={"force": True}).json()
    assert forced["status"] == "updated"


def test_review_save_conflict_and_validation(setup):
    lookout, client, _project, _camera, sequence = setup
    frame = _frame(client, sequence["id"], 0, [_box(0.1, 0.1, 0.2, 0.2)]).json()
    url = f"/api/sequences/{sequence['id']}/review"
    box = {"frame_id": frame["id"], "xyxyn": [0.1, 0.1, 0.2, 0.2]}
    first = client.put(
        url, json={"tracks": [{"is_smoke": True, "smoke_type": "wildfire", "boxes": [box]}]}
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["has_smoke"] is True and body["smoke_types"] == ["wildfire"]
    assert body["processing_stage"] == "annotated" and body["reviewed_by"] == "alice@example.org"
    version = body["version"]
    other = lookout.keyed_client("bob@example.org", "team")
    assert other.put(url, json={"tracks": [], "version": version}).status_code == 200
    stale = client.put(url, json={"tracks": [], "has_missed_smoke": True, "version": version})
    assert stale.status_code == 409
    assert "reload" in stale.json()["detail"]
    assert client.get(url).json()["reviewed_by"] == "bob@example.org"
    for bad in (
        {"tracks": [{"smoke_type": "volcano"}]},
        {"tracks": [{"false_positive_types": ["unicorn"]}]},
        {"tracks": [{"boxes": [{**box, "xyxyn": [0.5, 0.5, 0.4, 0.6]}]}]},
        {"tracks": [{"boxes": [box, box]}]},
    ):
        assert client.put(url, json={**bad, "version": version + 1}).status_code == 422, bad
    foreign = {"frame_id": "00000000-0000-0000-0000-000000000000", "xyxyn": [0.1, 0.1, 0.2, 0.2]}
    response = client.put(url, json={"tracks": [{"boxes": [foreign]}], "version": version + 1})
    assert response.status_code == 400 and response.json()["field"] == "tracks[0].boxes"


def test_list_filters(setup):
    lookout, client, project, camera, sequence = setup
    client.post(
        "/api/sequences",
        json={
            "project_id": project["id"],
            "camera_id": camera["id"],
            "source": "pyronear",
            "source_id": "seq-2",
            "started_at": "2024-01-03T08:00:00Z",
        },
    )
    frame = _frame(client, sequence["id"], 0, [_box(0.1, 0.1, 0.2, 0.2)]).json()
    client.put(
        f"/api/sequences/{sequence['id']}/review",
        json={
            "tracks": [
                {
                    "is_smoke": False,
                    "false_positive_types": ["low_cloud"],
                    "boxes": [{"frame_id": frame["id"], "xyxyn": [0.1, 0.1, 0.2, 0.2]}],
                }
            ]
        },
    )

    def ids(**params):
        page = client.get("/api/sequences", params=params)
        assert page.status_code == 200, page.text
        return [item["source_id"] for item in page.json()["items"]]

    assert ids() == ["seq-2", "seq-1"]
    assert ids(order="oldest") == ["seq-1", "seq-2"]
    assert ids(date_from="2024-01-02") == ["seq-2"]
    assert ids(date_to="2024-01-01") == ["seq-1"]
    assert ids(processing_stage="none") == ["seq-2"]
    assert ids(processing_stage="annotated") == ["seq-1"]
    assert ids(has_false_positives=True) == ["seq-1"]
    assert ids(false_positive_type="low_cloud") == ["seq-1"]
    assert ids(false_positive_type="building") == []
    assert ids(organization="org-a", limit=1) == ["seq-2"]
    assert ids(camera_id=camera["id"], project_id=project["id"], offset=1) == ["seq-1"]
    assert client.get("/api/sequences", params={"processing_stage": "bogus"}).status_code == 400
    assert (
        client.get("/api/sequences", params={"false_positive_type": "x"}).json()["field"]
        == "false_positive_type"
    )
    item = client.get("/api/sequences", params={"processing_stage": "annotated"}).json()["items"][0]
    assert item["frame_count"] == 1 and item["has_false_positives"] is True


def test_other_group_sees_nothing(setup):
    lookout, client, project, _camera, sequence = setup
    frame = _frame(client, sequence["id"], 0, []).json()
    bob = lookout.keyed_client("bob@example.org", "other")
    assert bob.get("/api/sequences").json()["total"] == 0
    for path in (
        f"/api/sequences/{sequence['id']}",
        f"/api/sequences/{sequence['id']}/review",
        f"/api/images/{frame['id']}",
    ):
        assert bob.get(path).status_code == 404
    assert bob.post(f"/api/sequences/{sequence['id']}/draft", json={}).status_code == 404
    assert (
        bob.put(f"/api/sequences/{sequence['id']}/review", json={"tracks": []}).status_code == 404
    )
    assert (
        bob.post(
            "/api/sequences",
            json={
                "project_id": project["id"],
                "source": "x",
                "source_id": "y",
                "started_at": "2024-01-01T00:00:00Z",
            },
        ).status_code
        == 404
    )


def test_frames_batch_fetches_in_order_one_at_a_time(setup):
    """A batch: each frame its own status, URLs fetched in order, never two at once."""
    lookout, client, _project, _camera, sequence = setup
    import threading
    import time

    from fastapi import FastAPI
    from fastapi.responses import Response

    source = FastAPI()
    seen: list[str] = []
    state = {"in_flight": 0, "most": 0}
    lock = threading.Lock()

    @source.get("/f/{name}")
    def frame(name: str) -> Response:
        with lock:
            seen.append(name)
            state["in_flight"] += 1
            state["most"] = max(state["most"], state["in_flight"])
        time.sleep(0.05)  # long enough for a second fetch to overlap, if one were started
        with lock:
            state["in_flight"] -= 1
        if name == "missing.jpg":
            return Response(status_code=404)
        return Response(jpeg_bytes(80, 60), media_type="image/jpeg")

    server = LiveServer(source).start()
    path = f"/api/sequences/{sequence['id']}/frames:batch"

    def item(name: str, source_id: str, boxes=()) -> dict:
        return {
            "url": f"{server.url}/f/{name}?X-Amz-Signature=secret",
            "source": "pyronear",
            "source_id": source_id,
            "captured_at": "2024-01-01T10:00:00Z",
            "predictions": {"annotations": list(boxes)},
        }

    try:
        assert _frame(client, sequence["id"], 0, [], source_id="stored").status_code == 201
        frames = [
            item("a.jpg", "a", [_box(0.1, 0.2, 0.3, 0.4)]),
            item("stored.jpg", "stored"),
            item("missing.jpg", "m"),
            {**item("x.jpg", "x"), "url": "file:///etc/passwd"},
            item("b.jpg", "b"),
            item("a.jpg", "a"),  # a repeat within the batch
        ]
        response = client.post(path, json={"frames": frames})
        assert response.status_code == 200, response.text
        body = response.json()
    finally:
        server.stop()
    assert [f["status"] for f in body["frames"]] == [201, 200, 502, 400, 201, 200]
    assert (body["created"], body["existing"], body["failed"]) == (2, 2, 2)
    assert body["frames"][0]["frame"]["prediction_count"] == 1
    assert body["frames"][5]["frame"]["id"] == body["frames"][0]["frame"]["id"]
    assert body["frames"][2]["field"] == "frames.2.url"
    assert "404" in body["frames"][2]["detail"] and "secret" not in response.text
    assert body["frames"][3]["field"] == "frames.3.url"
    # The stored frame and the file:// URL were never fetched; the others in order, one by one.
    assert seen == ["a.jpg", "missing.jpg", "b.jpg", "a.jpg"]
    assert state["most"] == 1
    assert lookout.count("images") == 3


def test_a_frames_batch_keeps_the_good_frames_when_one_is_refused(setup):
    """The batch's rows go in one transaction: a frame whose boxes are refused makes it
    fail, and each frame is then stored on its own: the others land, the refused one leaves
    neither a row nor an object; a file that is not a picture is refused before that."""
    from fastapi import FastAPI
    from fastapi.responses import Response

    lookout, client, _project, _camera, sequence = setup
    source = FastAPI()

    @source.get("/f/{name}")
    def frame(name: str) -> Response:
        if name == "text":
            return Response(b"not a picture", media_type="image/jpeg")
        size = {"a": (80, 60), "bad": (64, 48), "b": (96, 72)}[name]
        return Response(jpeg_bytes(*size), media_type="image/jpeg")

    server = LiveServer(source).start()
    path = f"/api/sequences/{sequence['id']}/frames:batch"

    def item(name: str, box: dict) -> dict:
        return {
            "url": f"{server.url}/f/{name}",
            "source": "pyronear",
            "source_id": name,
            "captured_at": "2024-01-01T10:00:00Z",
            "predictions": {"annotations": [box]},
        }

    good = _box(0.1, 0.2, 0.3, 0.4)
    reversed_box = _box(0.5, 0.5, 0.2, 0.2)  # x2 < x1
    try:
        frames = [item("a", good), item("bad", reversed_box), item("text", good), item("b", good)]
        response = client.post(path, json={"frames": frames})
    finally:
        server.stop()
    assert response.status_code == 200, response.text
    body = response.json()
    assert [f["status"] for f in body["frames"]] == [201, 400, 415, 201]
    assert body["frames"][1]["field"].startswith("frames.1")
    assert (body["created"], body["existing"], body["failed"]) == (2, 0, 2)
    assert [body["frames"][i]["frame"]["prediction_count"] for i in (0, 3)] == [1, 1]
    assert lookout.count("images") == 2 and lookout.count("analyses") == 2
    assert len(stored_files(lookout.settings.resolved_storage_path)) == 2


def _frame_server() -> LiveServer:
    """A live server answering every `/f/{name}` with an 80x60 JPEG (stop it after use)."""
    from fastapi import FastAPI
    from fastapi.responses import Response

    source = FastAPI()

    @source.get("/f/{name}")
    def frame(name: str) -> Response:
        return Response(jpeg_bytes(80, 60), media_type="image/jpeg")

    return LiveServer(source).start()


def test_a_frames_batch_stores_its_sequences_queue_scores(setup):
    """The platform's boxes of a batch are scored once the batch is stored, and a later batch
    of the same sequence rescores it with every frame."""
    import uuid

    import sqlalchemy as sa

    from lookout.scoring.models import QueueScore

    lookout, client, _project, _camera, sequence = setup
    server = _frame_server()
    path = f"/api/sequences/{sequence['id']}/frames:batch"

    def item(name: str, confidence: float) -> dict:
        box = _box(0.1, 0.2, 0.3, 0.4, conf=confidence)
        return {
            "url": f"{server.url}/f/{name}.jpg",
            "source": "pyronear",
            "source_id": name,
            "captured_at": "2024-01-01T10:00:00Z",
            "predictions": {"annotations": [box]},
        }

    def platform_confidences() -> list[list[float]]:
        with lookout.sessions() as session:
            query = sa.select(QueueScore.confidences).where(
                QueueScore.sequence_id == uuid.UUID(sequence["id"]),
                QueueScore.kind == "uncertainty",
            )
            return [list(c or []) for c in session.scalars(query)]

    try:
        first = client.post(path, json={"frames": [item("a", 0.3), item("b", 0.5)]})
        assert first.status_code == 200 and first.json()["created"] == 2, first.text
        once = platform_confidences()
        later = client.post(path, json={"frames": [item("c", 0.9)]})
        assert later.status_code == 200 and later.json()["created"] == 1, later.text
        again = platform_confidences()
    finally:
        server.stop()
    assert len(once) == 1 and len(once[0]) == 1  # one track over both frames
    assert len(again) == 1 and again[0] != once[0]  # the third frame's box counts


def test_a_frames_batch_stores_each_frames_boxes_as_its_own_analysis(setup):
    """The boxes of a batch's frames are written together: each frame gets its own completed
    analysis with its own boxes, in the posted order; a frame without boxes gets none."""
    lookout, client, _project, _camera, sequence = setup
    server = _frame_server()
    boxes = {
        "a": [_box(0.1, 0.2, 0.3, 0.4, 0.9), _box(0.5, 0.5, 0.6, 0.7, 0.2)],
        "b": [],
        "c": [_box(0.7, 0.1, 0.8, 0.2, 0.6), _box(0.2, 0.2, 0.3, 0.3, 0.5), _box(0, 0, 1, 1, 0.4)],
    }
    frames = [
        {
            "url": f"{server.url}/f/{name}.jpg",
            "source": "pyronear",
            "source_id": name,
            "captured_at": f"2024-01-01T10:0{minute}:00Z",
            "predictions": {"model_name": "yolo", "model_version": "8", "annotations": found},
        }
        for minute, (name, found) in enumerate(boxes.items())
    ]
    frames.append({**frames[1], "source_id": "d", "captured_at": "2024-01-01T10:09:00Z"})
    del frames[-1]["predictions"]
    try:
        response = client.post(
            f"/api/sequences/{sequence['id']}/frames:batch", json={"frames": frames}
        )
    finally:
        server.stop()
    assert response.status_code == 200 and response.json()["created"] == 4, response.text
    counts = [f["frame"]["prediction_count"] for f in response.json()["frames"]]
    assert counts == [2, 0, 3, 0]
    assert lookout.count("analyses") == 3 and lookout.count("predictions") == 5
    detail = client.get(f"/api/sequences/{sequence['id']}").json()
    by_frame = {f["source_id"]: f["predictions"] for f in detail["frames"]}
    for name, posted in boxes.items():
        stored = by_frame[name]
        assert [b["confidence"] for b in stored] == [b["confidence"] for b in posted], name
        assert [b["bbox_xyxyn"] for b in stored] == [
            pytest.approx(b["data"]["bbox"]) for b in posted
        ]
        assert {(b["model_name"], b["model_version"]) for b in stored} <= {("yolo", "8")}
    assert by_frame["d"] == []
    analyses = {a["image_id"]: a for f in detail["frames"] for a in _analyses_of(client, f["id"])}
    assert len(analyses) == 3
    assert {a["status"] for a in analyses.values()} == {"completed"}
    assert {a["provenance"]["source_id"] for a in analyses.values()} == {"a", "b", "c"}


def _analyses_of(client, image_id: str) -> list[dict]:
    listed = client.get(f"/api/images/{image_id}/analyses")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    return body["items"] if isinstance(body, dict) else body


def test_frames_batch_refuses_bad_batches(setup):
    lookout, client, _project, _camera, sequence = setup
    path = f"/api/sequences/{sequence['id']}/frames:batch"
    one = {"url": "https://example.org/f.jpg", "source": "pyronear", "source_id": "z"}
    for body, where in (
        ({"frames": []}, ["body", "frames"]),
        ({"frames": [one] * 101}, ["body", "frames"]),
        ({"frames": [{"source": "pyronear"}]}, ["body", "frames", 0, "url"]),
    ):
        response = client.post(path, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == where
    bob = lookout.keyed_client("bob@example.org", "other")
    assert bob.post(path, json={"frames": [one]}).status_code == 404
    assert lookout.count("images") == 0
