"""Creating analyses, the status machine, finalize, feature switch and limits."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from lookout.analyses.models import AnalysisStatus
from tests.analyses.ml_support import Setup, box, make_setup
from tests.support import jpeg_bytes

STATUSES = ["queued", "processing", "completed", "failed", "cancelled"]
LEGAL = {
    ("queued", "processing"),
    ("queued", "completed"),
    ("queued", "failed"),
    ("queued", "cancelled"),
    ("processing", "completed"),
    ("processing", "failed"),
    ("processing", "cancelled"),
    ("processing", "queued"),
}


def _status_path(analysis_id: str) -> str:
    return f"/api/analyses/{analysis_id}/status"


def _bring_to(s: Setup, status: str) -> str:
    analysis_id = s.create_analysis()["id"]
    if status == "queued":
        return analysis_id
    if status != "processing":
        response = s.v1("PATCH", _status_path(analysis_id), {"status": status})
        assert response.status_code == 200, response.text
        return analysis_id
    assert s.v1("PATCH", _status_path(analysis_id), {"status": "processing"}).status_code == 200
    return analysis_id


def test_create_returns_the_documented_fields_and_stores_description(ml: Setup):
    body = {
        "model_name": "yolo_v8",
        "model_version": "v8.0.0",
        "parameters": {"confidence_threshold": 0.5, "iou_threshold": 0.45},
        "description": "Object detection using YOLOv8",
    }
    response = ml.client.post(f"/api/images/{ml.image_id}/analyses", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "queued"
    assert created["image_id"] == ml.image_id
    assert created["model_name"] == "yolo_v8" and created["model_version"] == "v8.0.0"
    assert created["parameters"] == body["parameters"]
    assert created["created_at"].endswith("Z")
    read = ml.client.get(f"/api/analyses/{created['id']}").json()
    assert read["description"] == "Object detection using YOLOv8"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model_version": "1"}, "model_name"),
        ({"model_name": "   "}, "model_name"),
        ({"model_name": 7}, "model_name"),
        ({"model_name": "m", "parameters": [1, 2]}, "parameters"),
        ({"model_name": "m", "model_version": "x" * 101}, "model_version"),
    ],
)
def test_create_validation_names_the_field(shared_sqlite: Setup, body, field):
    response = shared_sqlite.client.post(
        f"/api/images/{shared_sqlite.image_id}/analyses", json=body
    )
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


def test_create_rejects_bad_json_and_unknown_image(shared_sqlite: Setup):
    s = shared_sqlite
    response = s.client.post(
        f"/api/images/{s.image_id}/analyses",
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["field"] == "body"
    missing = s.client.post(
        "/api/images/00000000-0000-0000-0000-000000000001/analyses", json={"model_name": "m"}
    )
    assert missing.status_code == 404
    assert (
        s.raw.post(f"/api/images/{s.image_id}/analyses", json={"model_name": "m"}).status_code
        == 401
    )


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_transition_table(shared_sqlite: Setup, current: str, target: str):
    analysis_id = _bring_to(shared_sqlite, current)
    before = shared_sqlite.client.get(f"/api/analyses/{analysis_id}").json()
    response = shared_sqlite.v1("PATCH", _status_path(analysis_id), {"status": target})
    if current == target:
        assert response.status_code == 200, response.text
        assert response.json()["updated_at"] == before["updated_at"]  # a no-op
    elif (current, target) in LEGAL:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == target
    else:
        assert response.status_code == 409, response.text
        detail = response.json()["detail"]
        assert current in detail and target in detail


def test_status_machine_on_every_database(ml: Setup):
    analysis_id = ml.create_analysis()["id"]
    path = _status_path(analysis_id)
    processing = ml.v1("PATCH", path, {"status": "processing"}).json()
    assert processing["status"] == "processing" and processing["started_at"]
    requeued = ml.v1("PATCH", path, {"status": "queued"})
    assert requeued.status_code == 200 and requeued.json()["status"] == "queued"
    assert ml.v1("PATCH", path, {"status": "processing"}).status_code == 200
    cancelled = ml.v1("PATCH", path, {"status": "canceled"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["completed_at"]
    illegal = ml.v1("PATCH", path, {"status": "processing"})
    assert illegal.status_code == 409
    assert illegal.json()["detail"] == (
        "cannot change status from cancelled (a final state) to processing"
    )
    bulk = ml.v1("POST", f"/api/analyses/{analysis_id}/annotations:bulk", {"annotations": [box()]})
    assert bulk.status_code == 409


@pytest.mark.parametrize("bad", ["done", "", "COMPLETED", None, 3])
def test_unknown_status_is_400(shared_sqlite: Setup, bad):
    analysis_id = shared_sqlite.create_analysis()["id"]
    response = shared_sqlite.v1("PATCH", _status_path(analysis_id), {"status": bad})
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "status"


def test_finalize_from_queued_with_summary(ml: Setup):
    analysis_id = ml.create_analysis()["id"]
    summary = {
        "total_detections": 25,
        "processing_time_seconds": 3.45,
        "classes_detected": ["person", "car", "bicycle"],
    }
    response = ml.v1(
        "POST", f"/api/analyses/{analysis_id}/finalize", {"status": "completed", "summary": summary}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == analysis_id and body["status"] == "completed" and body["completed_at"]
    read = ml.client.get(f"/api/analyses/{analysis_id}").json()
    assert read["summary"] == summary and read["completed_at"] == body["completed_at"]
    listed = ml.client.get(f"/api/images/{ml.image_id}/analyses").json()
    assert listed["items"][0]["summary"] == summary


def test_finalize_failed_keeps_error_and_repeats_are_no_ops(shared_sqlite: Setup):
    s = shared_sqlite
    analysis_id = _bring_to(s, "processing")
    path = f"/api/analyses/{analysis_id}/finalize"
    failed = s.v1("POST", path, {"status": "failed", "summary": None, "error_message": "OOM"})
    assert failed.status_code == 200 and failed.json()["completed_at"]
    again = s.v1("POST", path, {"status": "failed", "summary": {"x": 1}})
    assert (
        again.status_code == 200 and again.json()["completed_at"] == failed.json()["completed_at"]
    )
    other = s.v1("POST", path, {"status": "completed"})
    assert other.status_code == 409 and "failed" in other.json()["detail"]
    read = s.client.get(f"/api/analyses/{analysis_id}").json()
    assert read["error_message"] == "OOM" and read["summary"] is None


@pytest.mark.parametrize("status", ["processing", "queued", "bogus"])
def test_finalize_needs_a_final_status(shared_sqlite: Setup, status):
    analysis_id = shared_sqlite.create_analysis()["id"]
    response = shared_sqlite.v1("POST", f"/api/analyses/{analysis_id}/finalize", {"status": status})
    assert response.status_code == 400 and response.json()["field"] == "status"


def test_feature_switch_off_hides_every_ml_endpoint(sqlite_factory):
    s = sqlite_factory(ML_ANALYSIS_ENABLED="false")
    analysis = "00000000-0000-0000-0000-000000000002"
    assert (
        s.client.post(f"/api/images/{s.image_id}/analyses", json={"model_name": "m"}).status_code
        == 404
    )
    assert s.client.get(f"/api/images/{s.image_id}/analyses").status_code == 404
    assert s.client.get(f"/api/analyses/{analysis}").status_code == 404
    assert (
        s.v1("PATCH", f"/api/analyses/{analysis}/status", {"status": "processing"}).status_code
        == 404
    )
    assert (
        s.legacy(
            "POST", f"/api/analyses/{analysis}/annotations:bulk", {"annotations": []}
        ).status_code
        == 404
    )
    assert s.client.get(f"/api/images/{s.image_id}").status_code == 200  # the rest still works


def test_allowed_models(sqlite_factory):
    s = sqlite_factory(ML_ALLOWED_MODELS="yolo_v8,resnet50")
    refused = s.client.post(
        f"/api/images/{s.image_id}/analyses",
        json={"model_name": "custom_model", "model_version": "1"},
    )
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("Model not in allowed list")
    assert "custom_model" in refused.json()["detail"]
    assert refused.json()["field"] == "model_name"
    assert s.create_analysis("resnet50")["model_name"] == "resnet50"


def test_limits_per_image_per_request_and_body_size(sqlite_factory):
    s = sqlite_factory(
        ML_MAX_ANALYSES_PER_IMAGE="2",
        ML_MAX_ANNOTATIONS_PER_REQUEST="3",
        LOOKOUT_MAX_REQUEST_BYTES="4000",
    )
    analysis_id = s.create_analysis()["id"]
    s.create_analysis()
    third = s.client.post(f"/api/images/{s.image_id}/analyses", json={"model_name": "m"})
    assert third.status_code == 409 and "ML_MAX_ANALYSES_PER_IMAGE" in third.json()["detail"]
    path = f"/api/analyses/{analysis_id}/annotations:bulk"
    too_many = s.v1("POST", path, {"annotations": [box()] * 4})
    assert too_many.status_code == 413 and too_many.json()["field"] == "annotations"
    too_big = s.v1("POST", path, {"annotations": [box(class_name="x" * 150)] * 30})
    assert too_big.status_code == 413
    assert s.v1("POST", path, {"annotations": [box()] * 3}).status_code == 201
    # Another image has its own budget.
    other = s.lookout.upload(s.client, s.project_id, jpeg_bytes(32, 32, (1, 2, 3))).json()
    assert (
        s.client.post(f"/api/images/{other['id']}/analyses", json={"model_name": "m"}).status_code
        == 201
    )


def test_statuses_constant_matches_the_document():
    assert set(AnalysisStatus.ALL) == set(STATUSES)


def test_concurrent_creations_keep_the_per_image_limit(lookout_factory):
    """Eight creations at once on one image with a limit of 3: the image row is locked while
    each counts, so exactly three are created and the others are refused by name."""
    s = make_setup(lookout_factory(ML_MAX_ANALYSES_PER_IMAGE="3"))
    start = threading.Barrier(8)

    def create(_: int) -> int:
        with s.lookout.client({"X-API-Key": s.api_key}) as client:
            start.wait()
            path = f"/api/images/{s.image_id}/analyses"
            return client.post(path, json={"model_name": "m"}).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(create, range(8)))
    assert codes == [201] * 3 + [409] * 5
    listed = s.client.get(f"/api/images/{s.image_id}/analyses").json()
    assert listed["total"] == 3
