"""Frames with the same bytes share one stored object (content-addressed by sha256).

Since 2026 the alert platform puts one picture in several sequences, one per smoke object:
each sequence keeps its own frame row, and the rows hold one object. Deleting a row keeps the
object while another row holds it. Live servers on SQLite and PostgreSQL.
"""

from __future__ import annotations

from tests.support import Lookout, jpeg_bytes, stored_files


def _image_objects(lookout: Lookout) -> list[str]:
    root = lookout.settings.resolved_storage_path
    return sorted(p.name for p in stored_files(root) if "/images/" in p.as_posix())


def test_same_picture_one_object_until_its_last_row_goes(lookout: Lookout) -> None:
    client = lookout.keyed_client()
    admin = lookout.keyed_client("root@example.org", admin=True)  # purges at once
    project = lookout.create_project(client, "siblings")
    picture, other = jpeg_bytes(64, 48), jpeg_bytes(80, 60)
    ids = []
    for source_id, data in (("a", picture), ("b", picture), ("c", other)):
        response = lookout.upload(client, project["id"], data, source="test", source_id=source_id)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    assert lookout.count("images") == 3
    assert len(_image_objects(lookout)) == 2  # the twin rows share one object

    purge = {"force": True}
    assert admin.request("DELETE", f"/api/images/{ids[0]}", json=purge).status_code == 204
    kept = client.get(f"/api/images/{ids[1]}/content")
    assert kept.status_code == 200 and kept.content == picture
    assert len(_image_objects(lookout)) == 2

    assert admin.request("DELETE", f"/api/images/{ids[1]}", json=purge).status_code == 204
    assert len(_image_objects(lookout)) == 1  # the last holder gone, the object goes too
    assert client.get(f"/api/images/{ids[2]}/content").content == other

    # The picture uploaded again is stored again.
    again = lookout.upload(client, project["id"], picture, source="test", source_id="d")
    assert again.status_code == 201
    assert client.get(f"/api/images/{again.json()['id']}/content").content == picture


def test_projects_do_not_share_objects(lookout: Lookout) -> None:
    """Each project has its own copy: deleting a project never touches another's frames."""
    alice = lookout.keyed_client("alice@example.org", "a")
    bob = lookout.keyed_client("bob@example.org", "b")
    picture = jpeg_bytes(64, 48)
    mine = lookout.create_project(alice, "mine")
    theirs = lookout.create_project(bob, "theirs")
    assert lookout.upload(alice, mine["id"], picture).status_code == 201
    kept = lookout.upload(bob, theirs["id"], picture).json()["id"]
    assert len(_image_objects(lookout)) == 2
    assert alice.delete(f"/api/projects/{mine['id']}").status_code == 204
    assert bob.get(f"/api/images/{kept}/content").content == picture
