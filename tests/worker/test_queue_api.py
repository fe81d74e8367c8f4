"""The work-queue API on SQLite and PostgreSQL: queueing, claiming, leases, heartbeats, images."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from lookout.analyses.models import Analysis
from lookout.db import utcnow
from lookout.pipeline import LookoutAPIError
from lookout.pipeline.queue import QueueClient
from tests.analyses.ml_support import python_client_headers
from tests.conftest import HMAC_SECRET
from tests.support import Lookout, jpeg_bytes
from tests.worker.support import IMAGE_H, IMAGE_W, Project, make_project


def _client(project: Project, **kwargs) -> QueueClient:
    return QueueClient(project.url, HMAC_SECRET, api_key=project.api_key, retries=1, **kwargs)


def _set(project: Project, analysis_id, **values) -> None:
    with project.lookout.sessions() as session:
        session.execute(
            sa.update(Analysis).where(Analysis.id == uuid.UUID(str(analysis_id))).values(**values)
        )
        session.commit()


def _get(project: Project, analysis_id) -> Analysis:
    with project.lookout.sessions() as session:
        return session.get_one(Analysis, uuid.UUID(str(analysis_id)))


# --- queueing -------------------------------------------------------------------------------


def test_queueing_is_idempotent_per_model_and_version(project: Project):
    project.upload(2)
    first = project.queue(model_version="v1", parameters={"confidence_threshold": 0.5})
    assert first == {"queued": 3, "already_present": 0, "over_limit": 0}
    assert project.queue(model_version="v1") == {"queued": 0, "already_present": 3, "over_limit": 0}
    assert project.queue(model_version="v2")["queued"] == 3
    assert project.queue("other_model", model_version="v1")["queued"] == 3
    v1 = [a for a in project.analyses("yolo_v8") if a.model_version == "v1"]
    assert sorted(str(a.image_id) for a in v1) == sorted(project.image_ids)
    assert all(a.status == "queued" and a.attempts == 0 for a in v1)
    assert all(a.parameters == {"confidence_threshold": 0.5} for a in v1)
    assert all(a.provenance == {"source": "queue"} for a in v1)
    assert len({a.id for a in project.analyses()}) == 9
    # The queued analyses are ordinary analyses: readable through the API like any other.
    listed = project.client.get(f"/api/images/{project.image_ids[0]}/analyses").json()
    assert {a["model_version"] for a in listed["items"]} == {"v1", "v2"}


def test_an_image_analyzed_by_hand_is_already_present(project: Project):
    body = {"model_name": "yolo_v8", "model_version": "v1"}
    created = project.client.post(f"/api/images/{project.image_ids[0]}/analyses", json=body)
    assert created.status_code == 201
    project.upload(1)
    assert project.queue(model_version="v1") == {"queued": 1, "already_present": 1, "over_limit": 0}


def test_queueing_in_batches_covers_every_image_once(lookout: Lookout):
    project = make_project(lookout, images=7)
    from lookout.analyses import queue
    from lookout.auth.principal import Principal
    from lookout.config import QueueLimits

    admin = Principal(user_id=uuid.uuid4(), email="admin", is_admin=True)
    with lookout.sessions() as session:
        result = queue.queue_model(
            session,
            principal=admin,
            project_id=uuid.UUID(project.project_id),
            job=queue.QueueJob(model_name="yolo_v8"),
            limits=QueueLimits(batch_size=3),
        )
    assert (result.queued, result.already_present) == (7, 0)
    assert len({a.image_id for a in project.analyses()}) == 7
    with lookout.sessions() as session:
        again = queue.queue_model(
            session,
            principal=admin,
            project_id=uuid.UUID(project.project_id),
            job=queue.QueueJob(model_name="yolo_v8"),
            limits=QueueLimits(batch_size=2),
        )
    assert (again.queued, again.already_present) == (0, 7)


def test_concurrent_queue_calls_never_duplicate(lookout: Lookout):
    project = make_project(lookout, images=6)
    answers: list[dict] = []

    def call() -> None:
        response = project.client.post(
            f"/api/projects/{project.project_id}/analyses:queue", json={"model_name": "yolo_v8"}
        )
        assert response.status_code == 200, response.text
        answers.append(response.json())

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(a["queued"] for a in answers) == 6
    assert len(project.analyses()) == 6


def test_queue_a_sequence_or_a_capture_range(project: Project):
    client = project.client
    sequence = client.post(
        "/api/sequences",
        json={
            "project_id": project.project_id,
            "source": "test",
            "source_id": "seq-1",
            "started_at": "2024-05-01T10:00:00Z",
        },
    ).json()
    in_sequence = project.upload(2, sequence_id=sequence["id"], captured_at="2024-05-01T10:00:00Z")
    early = project.upload(1, captured_at="2024-04-30T23:59:59Z")
    late = project.upload(1, captured_at="2024-05-02T00:00:00Z")
    by_sequence = project.queue("by_sequence", sequence_id=sequence["id"])
    assert by_sequence["queued"] == 2
    assert {str(a.image_id) for a in project.analyses("by_sequence")} == set(in_sequence)
    by_range = project.queue(
        "by_range", captured_after="2024-05-01T00:00:00Z", captured_before="2024-05-02T00:00:00Z"
    )
    assert by_range["queued"] == 2  # after is inclusive, before exclusive
    assert {str(a.image_id) for a in project.analyses("by_range")} == set(in_sequence)
    naive = project.queue("naive_is_utc", captured_after="2024-05-02T00:00:00")
    assert naive["queued"] == 1
    assert {str(a.image_id) for a in project.analyses("naive_is_utc")} == set(late)
    assert early[0] not in {str(a.image_id) for a in project.analyses("by_range")}


def test_queue_limit_takes_images_in_upload_order(project: Project):
    project.upload(3)
    assert project.queue(limit=2) == {"queued": 2, "already_present": 0, "over_limit": 0}
    assert {str(a.image_id) for a in project.analyses()} == set(project.image_ids[:2])
    assert project.queue(limit=5) == {"queued": 2, "already_present": 2, "over_limit": 0}
    assert project.queue(limit=1) == {"queued": 0, "already_present": 4, "over_limit": 0}


def test_retry_failed_queues_a_new_run_for_failed_images(project: Project):
    project.upload(1)
    project.queue()
    with _client(project) as client:
        claimed = client.claim("w", "yolo_v8", limit=1)["analyses"][0]
        client.finalize_analysis(claimed["id"], "failed", error_message="boom")
    assert project.queue()["queued"] == 0
    assert project.queue(retry_failed=True) == {"queued": 1, "already_present": 1, "over_limit": 0}
    again = [a for a in project.analyses() if str(a.image_id) == claimed["image_id"]]
    assert sorted(a.status for a in again) == ["failed", "queued"]


def test_images_at_their_analysis_limit_are_skipped(lookout_factory):
    lookout = lookout_factory(ML_MAX_ANALYSES_PER_IMAGE=1)
    project = make_project(lookout, images=2)
    created = project.client.post(
        f"/api/images/{project.image_ids[0]}/analyses", json={"model_name": "other"}
    )
    assert created.status_code == 201
    assert project.queue() == {"queued": 1, "already_present": 0, "over_limit": 1}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"model_name": " "}, 400, "model_name"),
        ({}, 400, "model_name"),
        ({"model_name": "m", "limit": 0}, 400, "limit"),
        ({"model_name": "m", "sequence_id": str(uuid.uuid4())}, 404, "sequence_id"),
        (
            {
                "model_name": "m",
                "captured_after": "2024-02-01T00:00:00Z",
                "captured_before": "2024-01-01T00:00:00Z",
            },
            400,
            "captured_after",
        ),
    ],
)
def test_bad_queue_requests_name_the_field(project: Project, body, status, field):
    response = project.client.post(f"/api/projects/{project.project_id}/analyses:queue", json=body)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert project.analyses() == []


def test_queueing_checks_access_and_allowed_models(lookout_factory):
    lookout = lookout_factory(ML_ALLOWED_MODELS="yolo_v8")
    project = make_project(lookout)
    path = f"/api/projects/{project.project_id}/analyses:queue"
    stranger = lookout.keyed_client("mallory@example.org", group="others")
    assert stranger.post(path, json={"model_name": "yolo_v8"}).status_code == 404
    assert lookout.client().post(path, json={"model_name": "yolo_v8"}).status_code == 401
    refused = project.client.post(path, json={"model_name": "resnet50"})
    assert refused.status_code == 400 and "Model not in allowed list" in refused.json()["detail"]
    assert project.analyses() == []


# --- claiming -------------------------------------------------------------------------------


def test_claim_hands_out_analyses_under_a_lease(project: Project):
    project.upload(2)
    project.queue(model_version="v1", parameters={"confidence_threshold": 0.4})
    with _client(project) as client:
        answer = client.claim("worker-a", "yolo_v8", limit=2, lease_seconds=60)
        assert answer["remaining"] == 1 and (answer["requeued"], answer["failed"]) == (0, 0)
        first = answer["analyses"][0]
        assert first["model_name"] == "yolo_v8" and first["model_version"] == "v1"
        assert first["parameters"] == {"confidence_threshold": 0.4}
        assert (first["width"], first["height"], first["attempts"]) == (IMAGE_W, IMAGE_H, 1)
        assert first["image_url"] == f"/api/analyses/{first['id']}/image"
        stored = _get(project, first["id"])
        assert stored.status == "processing" and stored.worker_id == "worker-a"
        assert stored.started_at is not None
        assert stored.lease_expires_at - utcnow() > timedelta(seconds=50)
        assert len(client.claim("worker-b", "yolo_v8", limit=5)["analyses"]) == 1
        assert client.claim("worker-b", "yolo_v8", limit=5) == {
            "analyses": [],
            "remaining": 0,
            "requeued": 0,
            "failed": 0,
        }


def test_claim_filters_by_model_version_and_project(lookout: Lookout):
    project = make_project(lookout, images=1)
    other = make_project(lookout, images=1, name="other cams")
    other_id = other.project_id
    project.queue(model_version="v1")
    project.queue(model_version="v2")
    other.queue(model_version="v1")
    with _client(project) as client:
        assert client.claim("w", "resnet50", limit=10)["analyses"] == []
        v2 = client.claim("w", "yolo_v8", model_version="v2", limit=10)["analyses"]
        assert [a["model_version"] for a in v2] == ["v2"]
        mine = client.claim("w", "yolo_v8", project_id=other_id, limit=10)["analyses"]
        assert [a["image_id"] for a in mine] == other.image_ids


def test_concurrent_claims_never_hand_out_an_analysis_twice(lookout: Lookout):
    project = make_project(lookout, images=12)
    project.queue()
    taken: list[list[str]] = []
    errors: list[BaseException] = []

    def drain(name: str) -> None:
        mine: list[str] = []
        try:
            with _client(project) as client:
                while batch := client.claim(name, "yolo_v8", limit=2)["analyses"]:
                    mine += [a["id"] for a in batch]
        except BaseException as exc:  # reported below: threads cannot fail the test themselves
            errors.append(exc)
        taken.append(mine)

    threads = [threading.Thread(target=drain, args=(f"worker-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    claimed = [analysis_id for batch in taken for analysis_id in batch]
    assert len(claimed) == 12 and len(set(claimed)) == 12
    assert all(a.status == "processing" and a.attempts == 1 for a in project.analyses())


def test_expired_leases_go_back_to_the_queue_then_fail_after_max_attempts(project: Project):
    project.queue()
    with _client(project) as client:
        first = client.claim("worker-a", "yolo_v8", lease_seconds=60)["analyses"][0]
        # Not expired yet: nothing to claim.
        assert client.claim("worker-b", "yolo_v8")["analyses"] == []
        _set(project, first["id"], lease_expires_at=utcnow() - timedelta(seconds=1))
        answer = client.claim("worker-b", "yolo_v8")
        assert answer["requeued"] == 1
        [again] = answer["analyses"]
        assert again["id"] == first["id"] and again["attempts"] == 2
        assert _get(project, first["id"]).worker_id == "worker-b"
        # worker-a lost it: its heartbeat is refused.
        with pytest.raises(LookoutAPIError) as refused:
            client.heartbeat(first["id"], "worker-a")
        assert refused.value.status_code == 409 and "worker-b" in refused.value.detail
        _set(project, first["id"], attempts=3, lease_expires_at=utcnow() - timedelta(seconds=1))
        answer = client.claim("worker-c", "yolo_v8")
        assert answer["analyses"] == [] and answer["failed"] == 1
    failed = _get(project, first["id"])
    assert failed.status == "failed" and failed.completed_at is not None
    assert failed.error_message.startswith("lease expired 3 times")
    assert "worker-b" in failed.error_message and "ML_QUEUE_MAX_ATTEMPTS=3" in failed.error_message
    read = project.client.get(f"/api/analyses/{first['id']}").json()
    assert read["status"] == "failed" and read["error_message"] == failed.error_message


def test_an_expired_lease_is_handed_back_by_a_claim_for_any_model(project: Project):
    project.queue()
    with _client(project) as client:
        [held] = client.claim("worker-a", "yolo_v8", lease_seconds=60)["analyses"]
        _set(project, held["id"], lease_expires_at=utcnow() - timedelta(seconds=1))
        assert client.claim("worker-b", "another_model")["requeued"] == 1
    requeued = _get(project, held["id"])
    assert requeued.status == "queued" and requeued.worker_id is None
    assert requeued.lease_expires_at is None and requeued.attempts == 1


def test_heartbeat_extends_only_the_holders_lease_and_release_gives_it_back(project: Project):
    project.queue()
    with _client(project) as client:
        [held] = client.claim("worker-a", "yolo_v8", lease_seconds=5)["analyses"]
        before = _get(project, held["id"]).lease_expires_at
        beat = client.heartbeat(held["id"], "worker-a", lease_seconds=600)
        assert beat["status"] == "processing" and beat["worker_id"] == "worker-a"
        after = _get(project, held["id"]).lease_expires_at
        assert after - before > timedelta(seconds=500)
        for call in (
            lambda: client.heartbeat(held["id"], "worker-b"),
            lambda: client.release(held["id"], "worker-b"),
        ):
            with pytest.raises(LookoutAPIError) as refused:
                call()
            assert refused.value.status_code == 409
            assert refused.value.detail.startswith(f"analysis {held['id']} is not held by worker")
        with pytest.raises(LookoutAPIError) as missing:
            client.heartbeat(str(uuid.uuid4()), "worker-a")
        assert missing.value.status_code == 404
        released = client.release(held["id"], "worker-a")
        assert released["status"] == "queued" and released["attempts"] == 0
        with pytest.raises(LookoutAPIError) as gone:
            client.heartbeat(held["id"], "worker-a")
        assert gone.value.status_code == 409
        [again] = client.claim("worker-b", "yolo_v8")["analyses"]
        assert again["id"] == held["id"] and again["attempts"] == 1


def test_a_finalized_analysis_is_no_longer_held(project: Project):
    project.queue()
    with _client(project) as client:
        [held] = client.claim("worker-a", "yolo_v8")["analyses"]
        client.finalize_analysis(held["id"], "completed", {"total_detections": 0})
        with pytest.raises(LookoutAPIError) as refused:
            client.heartbeat(held["id"], "worker-a")
        assert refused.value.status_code == 409 and "completed" in refused.value.detail


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"worker_id": "", "model_name": "m"}, "worker_id"),
        ({"worker_id": "w", "model_name": "m", "limit": 0}, "limit"),
        ({"worker_id": "w", "model_name": "m", "limit": 101}, "limit"),
        ({"worker_id": "w", "model_name": "m", "lease_seconds": 0}, "lease_seconds"),
        ({"worker_id": "w"}, "model_name"),
        ({"worker_id": "w\x07", "model_name": "m"}, "worker_id"),
    ],
)
def test_bad_claims_name_the_field(project: Project, body, field):
    project.queue("m")
    with _client(project) as client:
        try:
            client._request("POST", "/api/analyses:claim", payload=body, signed=True, safe=False)
        except LookoutAPIError as exc:
            assert exc.status_code == 400 and exc.field == field
        else:
            pytest.fail("the claim was accepted")
    assert all(a.status == "queued" for a in project.analyses())


# --- authentication and the image -----------------------------------------------------------


def test_worker_endpoints_require_a_v1_signature(project: Project):
    project.queue()
    raw = project.lookout.client()
    claim = {"worker_id": "w", "model_name": "yolo_v8"}
    unsigned = raw.post("/api/analyses:claim", json=claim)
    assert unsigned.status_code == 401
    legacy = raw.post(
        "/api/analyses:claim", content=json.dumps(claim), headers=python_client_headers(claim)
    )
    assert legacy.status_code == 401 and "only the v1 scheme" in legacy.json()["detail"]
    with QueueClient(project.url, "wrong-secret", retries=0) as wrong:
        with pytest.raises(LookoutAPIError) as refused:
            wrong.claim("w", "yolo_v8")
        assert refused.value.status_code == 401
    # An API key is not enough either: these are pipeline callbacks.
    keyed = project.client.post("/api/analyses:claim", json=claim)
    assert keyed.status_code == 401
    assert all(a.status == "queued" for a in project.analyses())


def test_the_image_of_an_analysis_is_served_to_signed_workers_only(project: Project):
    data = jpeg_bytes(IMAGE_W, IMAGE_H, color=(1, 2, 3))
    uploaded = project.lookout.upload(project.client, project.project_id, data)
    project.queue()
    [analysis] = [a for a in project.analyses() if str(a.image_id) == uploaded.json()["id"]]
    with _client(project) as client:
        assert client.download_image(str(analysis.id)) == data
    raw = project.lookout.client()
    path = f"/api/analyses/{analysis.id}/image"
    assert raw.get(path).status_code == 401
    assert project.client.get(path).status_code == 401
    legacy = raw.get(path, headers=python_client_headers({}))
    assert legacy.status_code == 401
    with _client(project) as client, pytest.raises(LookoutAPIError) as missing:
        client.download_image(str(uuid.uuid4()))
    assert missing.value.status_code == 404


def test_the_queue_client_queues_with_the_api_key(project: Project):
    project.upload(1)
    with _client(project) as client:
        answer = client.queue(
            project.project_id, "yolo_v8", "v1", limit=1, parameters={"iou_threshold": 0.5}
        )
        assert answer == {"queued": 1, "already_present": 0, "over_limit": 0}
        assert client.queue(project.project_id, "yolo_v8", "v1")["queued"] == 1
    assert [a.parameters for a in project.analyses()][0] == {"iou_threshold": 0.5}
