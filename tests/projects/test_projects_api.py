"""Projects and the group boundary."""

from __future__ import annotations

import uuid

from lookout.analyses.models import Artifact
from tests.support import stored_files


def test_create_list_get_project(lookout):
    client = lookout.keyed_client()
    project = lookout.create_project(client, "ridge cams", description="north ridge")
    assert project["name"] == "ridge cams"
    listed = client.get("/api/projects").json()
    assert [p["id"] for p in listed] == [project["id"]]
    assert client.get(f"/api/projects/{project['id']}").json()["description"] == "north ridge"


def test_duplicate_project_name_is_409(lookout):
    client = lookout.keyed_client()
    lookout.create_project(client, "dup")
    response = client.post("/api/projects", json={"name": "dup"})
    assert response.status_code == 409
    assert response.json()["field"] == "name"


def test_other_group_cannot_see_project(lookout):
    alice = lookout.keyed_client("alice@example.org", "team-a")
    bob = lookout.keyed_client("bob@example.org", "team-b")
    project = lookout.create_project(alice, "secret")
    assert bob.get("/api/projects").json() == []
    response = bob.get(f"/api/projects/{project['id']}")
    assert response.status_code == 404
    assert "secret" not in response.text
    assert bob.delete(f"/api/projects/{project['id']}").status_code == 404
    assert alice.get(f"/api/projects/{project['id']}").status_code == 200


def test_user_without_group_must_name_one(lookout):
    client = lookout.keyed_client("loner@example.org", group=None)
    response = client.post("/api/projects", json={"name": "x"})
    assert response.status_code == 400
    assert response.json()["field"] == "group"


def test_cannot_create_in_foreign_group(lookout):
    lookout.user_with_key("bob@example.org", "team-b")
    alice = lookout.keyed_client("alice@example.org", "team-a")
    response = alice.post("/api/projects", json={"name": "x", "group": "team-b"})
    assert response.status_code == 403


def test_malformed_uuid_is_422(lookout):
    client = lookout.keyed_client()
    response = client.get("/api/projects/not-a-uuid")
    assert response.status_code == 422
    assert "project_id" in response.text


def test_empty_name_is_422(lookout):
    response = lookout.keyed_client().post("/api/projects", json={"name": ""})
    assert response.status_code == 422
    assert "name" in response.text


def test_deleting_a_project_removes_its_objects(lookout):
    client = lookout.keyed_client()
    project = lookout.create_project(client, "gone")
    image = lookout.upload(client, project["id"]).json()
    client.get(image["thumbnail_url"])
    analysis = client.post(
        f"/api/images/{image['id']}/analyses", json={"model_name": "m", "model_version": "1"}
    ).json()
    assert len(stored_files(lookout.settings.resolved_storage_path)) == 2
    with lookout.sessions() as session:  # an artifact object as a pipeline would leave it
        session.add(
            Artifact(
                analysis_id=uuid.UUID(analysis["id"]),
                name="a.png",
                content_type="image/png",
                object_key="analyses/x/artifacts/a.png",
            )
        )
        session.commit()
    (lookout.settings.resolved_storage_path / "analyses/x/artifacts").mkdir(parents=True)
    (lookout.settings.resolved_storage_path / "analyses/x/artifacts/a.png").write_bytes(b"png")
    assert client.delete(f"/api/projects/{project['id']}").status_code == 204
    assert client.get(f"/api/projects/{project['id']}").status_code == 404
    assert lookout.count("images") == 0 and lookout.count("analyses") == 0
    assert stored_files(lookout.settings.resolved_storage_path) == []
