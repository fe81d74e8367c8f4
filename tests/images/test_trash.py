"""The trash of images: delete with a reason, hidden everywhere, restore, events, purge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta

import sqlalchemy as sa

from lookout.db import utcnow
from lookout.images.models import Image
from tests.exports.builders import read_zip, standard_world
from tests.support import jpeg_bytes, stored_files


def _trash(client, project_id, image_id, reason="blurry frame", **body):
    return client.request(
        "DELETE",
        f"/api/projects/{project_id}/images/{image_id}",
        json={"reason": reason, **body},
    )


def _setup(lookout, client):
    project_id = lookout.create_project(client, "cams")["id"]
    kept = lookout.upload(client, project_id, jpeg_bytes(40, 30)).json()["id"]
    gone = lookout.upload(client, project_id, jpeg_bytes(50, 30)).json()["id"]
    return project_id, kept, gone


def _ids(client, project_id, **params):
    response = client.get(f"/api/projects/{project_id}/images", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    return {i["id"] for i in (body["items"] if isinstance(body, dict) else body)}


def _back_date(lookout, image_id, days):
    with lookout.sessions() as session:
        session.execute(
            sa.update(Image)
            .where(Image.id == uuid.UUID(image_id))
            .values(deleted_at=utcnow() - timedelta(days=days))
        )
        session.commit()


def test_trashed_image_is_hidden_shown_on_request_and_restored(lookout):
    client = lookout.keyed_client()
    project_id, kept, gone = _setup(lookout, client)
    response = _trash(client, project_id, gone, reason="  out of focus  ")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == gone and body["delete_reason"] == "out of focus"
    assert body["deleted_at"] and body["deleted_by_id"]

    assert _ids(client, project_id) == {kept}
    assert _ids(client, project_id, skip=0) == {kept}
    assert _ids(client, project_id, include_deleted="true") == {kept, gone}
    assert _ids(client, project_id, deleted_only="true") == {gone}
    assert _ids(client, project_id, deleted_only="true", skip=0) == {gone}
    for what in ("", "/content", "/thumbnail", "/download"):
        assert client.get(f"/api/images/{gone}{what}").status_code == 404, what
        found = client.get(f"/api/images/{gone}{what}", params={"include_deleted": "true"})
        assert found.status_code == 200, what
    # The object is kept while the image is in the trash.
    assert len(stored_files(lookout.settings.resolved_storage_path)) >= 2
    # Twice is a conflict.
    assert _trash(client, project_id, gone).status_code == 409

    restored = client.post(f"/api/projects/{project_id}/images/{gone}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["deleted_at"] is None and restored.json()["delete_reason"] is None
    assert _ids(client, project_id) == {kept, gone}
    assert client.get(f"/api/images/{gone}/content").status_code == 200
    # Restoring an image that is not in the trash is a conflict.
    again = client.post(f"/api/projects/{project_id}/images/{gone}/restore")
    assert again.status_code == 409

    events = client.get(f"/api/projects/{project_id}/images/deletion-events")
    assert events.status_code == 200, events.text
    log = events.json()
    assert log["total"] == 2
    assert [e["action"] for e in log["events"]] == ["restore", "soft_delete"]
    deleted = log["events"][1]
    assert deleted["image_id"] == gone and deleted["reason"] == "out of focus"
    assert deleted["actor_email"] == "alice@example.org" and deleted["created_at"]
    page = client.get(
        f"/api/projects/{project_id}/images/deletion-events", params={"skip": 1, "limit": 1}
    ).json()
    assert page["total"] == 2 and [e["action"] for e in page["events"]] == ["soft_delete"]
    other = client.get(
        f"/api/projects/{project_id}/images/deletion-events", params={"image_id": kept}
    ).json()
    assert other == {"events": [], "total": 0}


def test_reason_force_and_another_group(lookout):
    client = lookout.keyed_client()
    admin = lookout.keyed_client("boss@example.org", None, admin=True)
    stranger = lookout.keyed_client("eve@example.org", "others")
    project_id, kept, gone = _setup(lookout, client)
    for reason in ("no", "", " ab ", "x" * 1001, None, 5):
        response = _trash(client, project_id, gone, reason=reason)
        assert response.status_code == 400, (reason, response.text)
        assert response.json()["field"] == "reason"
    assert _trash(client, project_id, gone, force="yes").status_code == 400
    assert _trash(client, project_id, gone, extra=1).json()["field"] == "extra"
    # A member may not purge at once.
    refused = _trash(client, project_id, gone, force=True)
    assert refused.status_code == 403, refused.text
    assert _ids(client, project_id) == {kept, gone}
    # Another group sees nothing: 404 for deleting, restoring and the log.
    assert _trash(stranger, project_id, gone).status_code == 404
    assert client.get(f"/api/images/{gone}").status_code == 200
    assert stranger.post(f"/api/projects/{project_id}/images/{gone}/restore").status_code == 404
    log = stranger.get(f"/api/projects/{project_id}/images/deletion-events")
    assert log.status_code == 404
    # An image of another project is not found under this one.
    elsewhere = lookout.create_project(client, "elsewhere")["id"]
    assert _trash(client, elsewhere, gone).status_code == 404

    before = len(stored_files(lookout.settings.resolved_storage_path))
    purged = _trash(admin, project_id, gone, reason="personal data", force=True)
    assert purged.status_code == 204, purged.text
    assert len(stored_files(lookout.settings.resolved_storage_path)) == before - 1
    assert client.get(f"/api/images/{gone}", params={"include_deleted": "true"}).status_code == 404
    # Once purged, it cannot come back.
    restore = client.post(f"/api/projects/{project_id}/images/{gone}/restore")
    assert restore.status_code == 409, restore.text
    log = client.get(f"/api/projects/{project_id}/images/deletion-events").json()
    assert [(e["action"], e["actor_email"]) for e in log["events"]] == [
        ("purge", "boss@example.org")
    ]


def test_restore_after_the_retention_period_is_gone(lookout):
    client = lookout.keyed_client()
    project_id, _kept, gone = _setup(lookout, client)
    assert _trash(client, project_id, gone).status_code == 200
    _back_date(lookout, gone, lookout.settings.trash_retention_days + 1)
    response = client.post(f"/api/projects/{project_id}/images/{gone}/restore")
    assert response.status_code == 410, response.text


def test_trashed_frames_leave_exports(lookout):
    world = standard_world(lookout)
    frame = world.sequences[0].frames[1]  # a frame with a box

    def exported():
        response = world.client.get(
            "/api/exports", params={"project_id": world.project_id, "stage": "any"}
        )
        doc = json.loads(read_zip(response).read("annotations.json"))
        return {i["lookout_id"] for i in doc["images"]}

    assert frame in exported()
    assert _trash(world.client, world.project_id, frame).status_code == 200
    assert frame not in exported()
    restored = world.client.post(f"/api/projects/{world.project_id}/images/{frame}/restore")
    assert restored.status_code == 200
    assert frame in exported()


def test_purge_trash_command_removes_only_expired_images(lookout):
    client = lookout.keyed_client()
    project_id = lookout.create_project(client, "cams")["id"]
    old, recent, live = (
        lookout.upload(client, project_id, jpeg_bytes(40 + i, 30)).json()["id"] for i in range(3)
    )
    for image_id in (old, recent):
        assert _trash(client, project_id, image_id).status_code == 200
    _back_date(lookout, old, 31)
    _back_date(lookout, recent, 5)
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
    assert "purged 1 images" in result.stdout
    assert len(stored_files(lookout.settings.resolved_storage_path)) == before - 1
    shown = _ids(client, project_id, include_deleted="true")
    assert shown == {recent, live}
    restore = client.post(f"/api/projects/{project_id}/images/{old}/restore")
    assert restore.status_code == 409
    # A shorter period on the command line takes the recent one too.
    result = subprocess.run(
        [sys.executable, "-m", "lookout.cli", "purge-trash", "--older-than-days", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert _ids(client, project_id, include_deleted="true") == {live}
