"""VISTA's four scripts, replayed by `tests/vista/scripts.py`, complete against Lookout.

Each runs every step against a live server on SQLite and PostgreSQL, then the test reads back
what Lookout stored: boxes where the script put them, heatmaps as uploaded artifacts, statuses
as the script left them. Local mode stands in for VISTA's debug mode (no credentials, or a user
named by `X-User-Email`); a production server is called with API keys.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest
import requests

from tests.conftest import HMAC_SECRET
from tests.support import Lookout, jpeg_bytes
from tests.vista import scripts

BOX_CORNERS = ("x_min", "y_min", "x_max", "y_max")


def _project(lookout: Lookout, client: httpx.Client, sizes: list[tuple[int, int]]) -> list[str]:
    # Servers of one test share a database: each project gets its own name.
    project = lookout.create_project(client, f"vista-{uuid.uuid4().hex[:8]}")
    ids = []
    for width, height in sizes:
        response = lookout.upload(client, project["id"], jpeg_bytes(width, height))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return [project["id"], *ids]


def _analysis(client: httpx.Client, analysis_id: str) -> dict[str, Any]:
    response = client.get(f"/api/analyses/{analysis_id}", params={"annotations_limit": 1000})
    assert response.status_code == 200, response.text
    return response.json()


def _artifact_states(client: httpx.Client, analysis_id: str) -> dict[str, str]:
    response = client.get(f"/api/analyses/{analysis_id}/artifacts")
    assert response.status_code == 200, response.text
    return {a["name"]: a["state"] for a in response.json()["artifacts"]}


def test_test_ml_pipeline_completes_in_local_mode(lookout_factory: Any) -> None:
    """scripts/test_ml_pipeline.py: created without credentials, every callback signed the
    VISTA way; corner boxes in a 1024x768 frame land where they are on the 640x480 image."""
    lookout = lookout_factory(LOOKOUT_LOCAL_MODE=True)
    client = lookout.client()
    _, image_id = _project(lookout, client, [(640, 480)])

    run = scripts.test_ml_pipeline(lookout.url, image_id, HMAC_SECRET, rng=random.Random(3))

    assert run.final["status"] == "completed"
    assert run.final["started_at"] and run.final["completed_at"]
    assert run.bulk["total"] == len(run.boxes) + 2
    stored = _analysis(client, run.analysis_id)
    kinds = [a["annotation_type"] for a in stored["annotations"]]
    assert kinds == ["bounding_box"] * len(run.boxes) + ["heatmap", "classification"]
    for sent, kept in zip(run.boxes, stored["annotations"], strict=False):
        corners = [sent["data"][k] for k in BOX_CORNERS]
        scaled = [corners[0] / 1024, corners[1] / 768, corners[2] / 1024, corners[3] / 768]
        assert kept["bbox_xyxyn"] == pytest.approx(scaled)
        assert kept["class_name"] == sent["class_name"]
        assert kept["data"]["ordering"] == sent["ordering"]
    heatmap, classification = stored["annotations"][-2:]
    assert heatmap["data"]["artifact_name"] == "heatmap.png"
    assert classification["data"]["topk"][0]["confidence"] == 0.95
    assert _artifact_states(client, run.analysis_id) == {"heatmap.png": "uploaded"}
    # The heatmap comes back by VISTA's storage path, bytes and URL alike.
    path = f"ml_outputs/{run.analysis_id}/heatmap.png"
    content = client.get("/api/ml/artifacts/content", params={"path": path})
    assert content.status_code == 200 and content.content.startswith(b"\x89PNG")
    url = client.get("/api/ml/artifacts/download", params={"path": path}).json()["url"]
    assert requests.get(url).content == content.content


def test_heatmap_and_yolo_scripts_complete_as_a_developer(lookout_factory: Any) -> None:
    """scripts/heatmap_ml_pipeline.py and yolov8_ml_pipeline.py in debug mode: X-User-Email
    names the user (local mode), every step is sent unsigned, images come through /download."""
    lookout = lookout_factory(LOOKOUT_LOCAL_MODE=True)
    client = lookout.client()
    project_id, *image_ids = _project(lookout, client, [(640, 480), (320, 240), (800, 600)])

    heatmaps = scripts.heatmap_pipeline(lookout.url, project_id, limit=10)
    assert sorted(heatmaps.processed) == sorted(image_ids) and not heatmaps.failed
    yolo = scripts.yolov8_pipeline(lookout.url, project_id, scripts.stand_in_yolo, limit=2)
    assert len(yolo.processed) == 2 and not yolo.failed

    for analysis_id in yolo.analyses:
        stored = _analysis(client, analysis_id)
        assert stored["status"] == "completed"
        boxes = [a for a in stored["annotations"] if a["annotation_type"] == "bounding_box"]
        assert [b["class_name"] for b in boxes] == ["person", "car"]
        assert boxes[0]["bbox_xyxyn"] == pytest.approx([0.1, 0.2, 0.3, 0.8])
        assert len(_artifact_states(client, analysis_id)) == 1
    # Who did it is the developer the header named.
    with lookout.sessions() as session:
        from lookout.accounts.models import User
        from lookout.analyses.models import Analysis

        creator = session.get(Analysis, uuid.UUID(yolo.analyses[0])).created_by_id
        assert session.get(User, creator).email == "test@example.com"

    # --skip-existing reads {"analyses": [...]} and skips images with a completed analysis.
    again = scripts.heatmap_pipeline(lookout.url, project_id, skip_existing=True)
    assert sorted(again.skipped) == sorted(image_ids) and not again.processed


def test_user_scripts_with_an_api_key(lookout_factory: Any) -> None:
    """With --api-key on a production server: the user's status changes are taken as VISTA
    takes them; results need the pipeline secret unless ML_PIPELINE_REQUIRE_HMAC=false."""
    strict = lookout_factory()
    key = strict.user_with_key("ml@example.org", "team")
    project_id, image_id = _project(strict, strict.client({"X-API-Key": key}), [(640, 480)])
    refused = scripts.heatmap_pipeline(strict.url, project_id, api_key=key)
    assert refused.failed_at == {image_id: "presign"}
    stored = strict.client({"X-API-Key": key}).get(f"/api/images/{image_id}/analyses").json()
    # The user moved it to processing; results and finalizing need the pipeline's secret.
    assert [a["status"] for a in stored["items"]] == ["processing"]

    open_ = lookout_factory(ML_PIPELINE_REQUIRE_HMAC=False)
    key = open_.user_with_key("ml@example.org", "team")
    client = open_.client({"X-API-Key": key})
    project_id, *image_ids = _project(open_, client, [(640, 480), (320, 240)])
    run = scripts.yolov8_pipeline(open_.url, project_id, scripts.stand_in_yolo, api_key=key)
    assert sorted(run.processed) == sorted(image_ids) and not run.failed

    # Another team's key reaches none of it (404), signed or not.
    other = open_.user_with_key("outsider@example.org", "others")
    with pytest.raises(scripts.ScriptFailed) as refused_listing:
        scripts.yolov8_pipeline(open_.url, project_id, scripts.stand_in_yolo, api_key=other)
    assert refused_listing.value.response.status_code == 404
    patch = requests.patch(
        f"{open_.url}/api/analyses/{run.analyses[0]}/status",
        json={"status": "canceled"},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert patch.status_code == 404
    assert _analysis(client, run.analyses[0])["status"] == "completed"


def test_clear_ml_queue_cancels_queued_analyses(lookout_factory: Any) -> None:
    """scripts/clear_ml_queue.py with an API key (/api-key prefix, skip/limit paging across
    pages) and in debug mode: queued analyses become cancelled, the others stay."""
    lookout = lookout_factory()
    key = lookout.user_with_key("ops@example.org", "team")
    client = lookout.client({"X-API-Key": key})
    project_id, *image_ids = _project(lookout, client, [(64, 48)] * 3)
    queued = []
    for image_id in image_ids:
        for _ in range(2):
            response = client.post(
                f"/api/images/{image_id}/analyses", json={"model_name": "m", "model_version": "1"}
            )
            queued.append(response.json()["id"])
    done = queued.pop()
    finalize = client.patch(f"/api/analyses/{done}/status", json={"status": "processing"})
    assert finalize.status_code == 200, finalize.text

    dry = scripts.clear_ml_queue(lookout.url, project_id, api_key=key, confirm=False)
    assert sorted(dry.candidates) == sorted(queued)
    cleared = scripts.clear_ml_queue(lookout.url, project_id, api_key=key, limit=3)
    assert (cleared.updated, cleared.failed) == (3, 0)
    statuses = {a: _analysis(client, a)["status"] for a in [*queued, done]}
    assert sorted(statuses.values()) == ["cancelled"] * 3 + ["processing"] + ["queued"] * 2

    local = lookout_factory(LOOKOUT_LOCAL_MODE=True)
    local_client = local.client()
    project_id, image_id = _project(local, local_client, [(64, 48)])
    created = local_client.post(f"/api/images/{image_id}/analyses", json={"model_name": "m"})
    debug = scripts.clear_ml_queue(local.url, project_id, debug_email="ops@example.org")
    assert (debug.candidates, debug.updated) == ([created.json()["id"]], 1)


def test_project_images_paged_with_skip(lookout_factory: Any) -> None:
    """`skip` (VISTA) answers a plain list, newest first, the same order as the cursor pages;
    skip with a cursor is refused naming the field; an upload's `metadata` is stored, and bad
    metadata is refused naming the field with nothing half-stored."""
    lookout = lookout_factory()
    client = lookout.keyed_client()
    project_id, *_ = _project(lookout, client, [(32, 32)] * 5)
    paged = client.get(f"/api/projects/{project_id}/images", params={"limit": 50}).json()
    order = [image["id"] for image in paged["items"]]
    pages = [
        client.get(f"/api/projects/{project_id}/images", params={"skip": skip, "limit": 2}).json()
        for skip in (0, 2, 4, 6)
    ]
    assert [[image["id"] for image in page] for page in pages] == [
        order[0:2],
        order[2:4],
        order[4:5],
        [],
    ]
    assert pages[0][0] == paged["items"][0]  # one JSON for an image, whichever paging
    both = client.get(f"/api/projects/{project_id}/images", params={"skip": 0, "cursor": "x"})
    assert both.status_code == 400 and both.json()["field"] == "skip"
    bad = lookout.upload(client, project_id, jpeg_bytes(), metadata='{"site": ["A"]}')
    assert bad.status_code == 400 and bad.json()["field"] == "metadata.site"
    listed = client.get(f"/api/projects/{project_id}/images", params={"limit": 50}).json()
    assert len(listed["items"]) == 5  # nothing half-stored
    with_metadata = lookout.upload(client, project_id, jpeg_bytes(), metadata='{"site": "A"}')
    assert with_metadata.status_code == 201 and with_metadata.json()["metadata"] == {"site": "A"}

    download = client.get(f"/api/images/{order[0]}/download").json()
    assert download["url"] == f"/images/{order[0]}/content"
    assert client.get(f"/api{download['url']}").status_code == 200
