"""The trash of sequences, on SQLite and PostgreSQL: a deleted sequence is hidden with its
frames from lists, the review queue, exports and evaluations, keeps its objects, comes back
within the retention period, is logged beside images, and is purged with its objects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta

import sqlalchemy as sa

from lookout.db import utcnow
from lookout.sequences.models import Sequence
from tests.exports.builders import distinct_jpeg, read_zip, standard_world
from tests.support import stored_files


def _trash(client, sequence_id, body=None, **kwargs):
    if body is None and not kwargs:
        return client.request("DELETE", f"/api/sequences/{sequence_id}")
    return client.request("DELETE", f"/api/sequences/{sequence_id}", json=body or kwargs)


def _listed(client, project_id, **params):
    response = client.get("/api/sequences", params={"project_id": project_id, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {s["id"] for s in body["items"]}


def _exported(world):
    response = world.client.get(
        "/api/exports", params={"project_id": world.project_id, "stage": "any"}
    )
    doc = json.loads(read_zip(response).read("annotations.json"))
    return {i["lookout_id"] for i in doc["images"]}


def _image_ids(client, project_id):
    response = client.get(f"/api/projects/{project_id}/images", params={"limit": 100})
    assert response.status_code == 200, response.text
    return {i["id"] for i in response.json()["items"]}


def _back_date(lookout, sequence_id, days):
    with lookout.sessions() as session:
        session.execute(
            sa.update(Sequence)
            .where(Sequence.id == uuid.UUID(sequence_id))
            .values(deleted_at=utcnow() - timedelta(days=days))
        )
        session.commit()


def test_trashed_sequence_is_hidden_everywhere_and_restored(lookout):
    world = standard_world(lookout)
    client, project_id = world.client, world.project_id
    s1, s2, s3, s4 = world.sequences  # s4 waits in the review queue
    every = {s.id for s in world.sequences}
    objects = len(stored_files(lookout.settings.resolved_storage_path))
    boxed = set(s1.frames[1:])  # the frames with a box, exported
    assert boxed <= _exported(world)
    assert client.get("/api/review-queue").json()["remaining"] == 1

    response = _trash(client, s1.id, reason="  camera pointed at a wall  ")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == s1.id and body["delete_reason"] == "camera pointed at a wall"
    assert body["deleted_at"] and body["deleted_by_id"]
    assert _trash(client, s4.id).status_code == 200  # no body: no reason

    # Lists, the sequence itself and its frames.
    assert _listed(client, project_id) == {s2.id, s3.id}
    assert _listed(client, project_id, include_deleted="true") == every
    assert _listed(client, project_id, deleted_only="true") == {s1.id, s4.id}
    assert client.get(f"/api/sequences/{s1.id}").status_code == 404
    found = client.get(f"/api/sequences/{s1.id}", params={"include_deleted": "true"})
    assert found.status_code == 200 and found.json()["delete_reason"] == "camera pointed at a wall"
    assert len(found.json()["frames"]) == 3
    assert client.get(f"/api/images/{s1.frames[0]}").status_code == 404
    assert _image_ids(client, project_id) == set(s2.frames + s3.frames)
    frame = client.post(
        f"/api/sequences/{s1.id}/frames",
        files={"file": ("late.jpg", distinct_jpeg(), "image/jpeg")},
    )
    assert frame.status_code == 404, frame.text
    # The review queue, exports, the project's counts.
    queue = client.get("/api/review-queue").json()
    assert queue["remaining"] == 0 and queue["claimed"] is None
    assert client.post("/api/review-queue/claim").status_code == 204
    exported = _exported(world)
    assert not boxed & exported
    assert exported  # the other sequences' frames are still there
    # Objects are kept while in the trash; twice is a conflict.
    assert len(stored_files(lookout.settings.resolved_storage_path)) == objects
    assert _trash(client, s1.id, reason="again and again").status_code == 409

    # The log holds the sequences' events beside the images'.
    log = client.get(f"/api/projects/{project_id}/deletion-events", params={"kind": "sequence"})
    assert log.status_code == 200, log.text
    events = log.json()["events"]
    assert [(e["kind"], e["sequence_id"], e["action"]) for e in events] == [
        ("sequence", s4.id, "soft_delete"),
        ("sequence", s1.id, "soft_delete"),
    ]
    assert events[1]["reason"] == "camera pointed at a wall" and events[0]["reason"] is None
    assert events[1]["actor_email"] == "alice@example.org" and events[1]["image_id"] is None
    images_only = client.get(f"/api/projects/{project_id}/images/deletion-events").json()
    assert images_only == {"events": [], "total": 0}

    restored = client.post(f"/api/sequences/{s1.id}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["deleted_at"] is None and restored.json()["delete_reason"] is None
    assert client.post(f"/api/sequences/{s4.id}/restore").status_code == 200
    assert _listed(client, project_id) == every
    assert boxed <= _exported(world)
    assert client.get(f"/api/images/{s1.frames[0]}").status_code == 200
    assert client.get("/api/review-queue").json()["remaining"] == 1
    again = client.post(f"/api/sequences/{s1.id}/restore")
    assert again.status_code == 409, again.text
    log = client.get(
        f"/api/projects/{project_id}/deletion-events", params={"sequence_id": s1.id}
    ).json()
    assert [e["action"] for e in log["events"]] == ["restore", "soft_delete"]


def test_trashed_sequence_leaves_evaluations(lookout):
    world = standard_world(lookout)
    s1, s2 = world.sequences[:2]
    for frame in s1.frames + s2.frames:
        world.predict(frame, [("smoke", [0.1, 0.2, 0.3, 0.5], 0.9)])

    def models():
        response = world.client.get(
            "/api/evaluations/models", params={"project_id": world.project_id}
        )
        assert response.status_code == 200, response.text
        return {(m["model_name"], m["images"]) for m in response.json()}

    def images():
        response = world.client.post(
            "/api/evaluations", json={"project_id": world.project_id, "model_name": "yolo"}
        )
        assert response.status_code == 201, response.text
        return response.json()["images"]

    before = images()
    assert models() == {("yolo", len(s1.frames) + len(s2.frames))}
    assert _trash(world.client, s1.id, reason="duplicate import").status_code == 200
    assert images() == before - len(s1.frames)
    assert models() == {("yolo", len(s2.frames))}
    assert world.client.post(f"/api/sequences/{s1.id}/restore").status_code == 200
    assert images() == before


def test_bad_input_force_and_another_group(lookout):
    world = standard_world(lookout)
    client, project_id = world.client, world.project_id
    admin = lookout.keyed_client("boss@example.org", None, admin=True)
    stranger = lookout.keyed_client("eve@example.org", "others")
    gone = world.sequences[0]
    for reason in ("no", "", " ab ", "x" * 1001, 5, ["a reason"]):
        response = _trash(client, gone.id, {"reason": reason})
        assert response.status_code == 400, (reason, response.text)
        assert response.json()["field"] == "reason"
    refused = _trash(client, gone.id, {"force": "yes"})
    assert refused.status_code == 400 and refused.json()["field"] == "force"
    assert _trash(client, gone.id, {"extra": 1}).json()["field"] == "extra"
    not_json = client.request(
        "DELETE",
        f"/api/sequences/{gone.id}",
        content=b"{nope",
        headers={"content-type": "application/json"},
    )
    assert not_json.status_code == 400 and not_json.json()["field"] == "body"
    assert client.delete("/api/sequences/not-a-uuid").status_code == 422
    # A member may not purge at once.
    assert _trash(client, gone.id, {"force": True}).status_code == 403
    assert gone.id in _listed(client, project_id)
    # Another group sees nothing: 404 for deleting, restoring, reading and the log.
    assert _trash(stranger, gone.id, {"reason": "not mine"}).status_code == 404
    assert stranger.post(f"/api/sequences/{gone.id}/restore").status_code == 404
    assert _listed(client, project_id) == {s.id for s in world.sequences}
    assert _trash(client, gone.id, {"reason": "duplicate"}).status_code == 200
    hidden = stranger.get(f"/api/sequences/{gone.id}", params={"include_deleted": "true"})
    assert hidden.status_code == 404
    assert stranger.get("/api/sequences", params={"deleted_only": "true"}).json()["total"] == 0
    assert stranger.post(f"/api/sequences/{gone.id}/restore").status_code == 404
    assert stranger.get(f"/api/projects/{project_id}/deletion-events").status_code == 404

    # An admin purges at once: rows and objects together (in the trash or not).
    before = len(stored_files(lookout.settings.resolved_storage_path))
    purged = _trash(admin, gone.id, {"reason": "personal data", "force": True})
    assert purged.status_code == 204, purged.text
    assert len(stored_files(lookout.settings.resolved_storage_path)) == before - len(gone.frames)
    found = client.get(f"/api/sequences/{gone.id}", params={"include_deleted": "true"})
    assert found.status_code == 404
    for frame in gone.frames:
        shown = client.get(f"/api/images/{frame}", params={"include_deleted": "true"})
        assert shown.status_code == 404
    restore = client.post(f"/api/sequences/{gone.id}/restore")
    assert restore.status_code == 409, restore.text
    # ...and a stranger still learns nothing about it.
    assert stranger.post(f"/api/sequences/{gone.id}/restore").status_code == 404
    log = client.get(f"/api/projects/{project_id}/deletion-events").json()
    assert [(e["action"], e["actor_email"], e["reason"]) for e in log["events"]][0] == (
        "purge",
        "boss@example.org",
        "personal data",
    )
    live = world.sequences[1]
    assert _trash(admin, live.id, {"force": True}).status_code == 204
    assert live.id not in _listed(client, project_id, include_deleted="true")


def test_restore_after_the_retention_period_is_gone(lookout):
    world = standard_world(lookout)
    gone = world.sequences[0]
    assert _trash(world.client, gone.id).status_code == 200
    _back_date(lookout, gone.id, lookout.settings.trash_retention_days + 1)
    response = world.client.post(f"/api/sequences/{gone.id}/restore")
    assert response.status_code == 410, response.text
    assert "retention" in response.text or "past" in response.text


def test_purge_trash_command_removes_expired_sequences_with_their_objects(lookout):
    world = standard_world(lookout)
    client, project_id = world.client, world.project_id
    old, recent = world.sequences[0], world.sequences[1]
    for seq in (old, recent):
        assert _trash(client, seq.id, reason="bad camera").status_code == 200
    _back_date(lookout, old.id, 31)
    _back_date(lookout, recent.id, 5)
    before = len(stored_files(lookout.settings.resolved_storage_path))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOKOUT_", "DATABASE_URL"))}
    env.update(
        LOOKOUT_DATA_DIR=str(lookout.settings.data_dir),
        DATABASE_URL=lookout.settings.resolved_database_url,
        STORAGE_LOCAL_PATH=str(lookout.settings.resolved_storage_path),
        LOOKOUT_SECRET_KEY="test-signing-key",
        COLUMNS="200",
    )
    result = subprocess.run(
        [sys.executable, "-m", "lookout.cli", "purge-trash"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "purged 0 images and 1 sequences" in result.stdout
    assert len(stored_files(lookout.settings.resolved_storage_path)) == before - len(old.frames)
    shown = _listed(client, project_id, deleted_only="true")
    assert shown == {recent.id}
    assert client.post(f"/api/sequences/{old.id}/restore").status_code == 409
    assert client.post(f"/api/sequences/{recent.id}/restore").status_code == 200
