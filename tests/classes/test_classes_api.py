"""Image classes and classifications on VISTA's paths: create, rename, delete while unused,
classify (who, when), remove, filter the gallery API, access across groups (both databases)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.exports.builders import distinct_jpeg
from tests.support import Lookout


def _image(lookout: Lookout, client: httpx.Client, project_id: str) -> str:
    response = lookout.upload(client, project_id, distinct_jpeg())
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _ids(client: httpx.Client, project_id: str, **params: Any) -> set[str]:
    response = client.get(f"/api/projects/{project_id}/images", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    return {image["id"] for image in (body if isinstance(body, list) else body["items"])}


def test_classes_lifecycle_and_classifications(lookout: Lookout) -> None:
    client = lookout.keyed_client()
    project_id = lookout.create_project(client, "classes")["id"]
    base = f"/api/projects/{project_id}/classes"
    # VISTA sends the project again in the body.
    fog = client.post(base, json={"name": " fog ", "project_id": project_id})
    assert fog.status_code == 201, fog.text
    fog_class = fog.json()
    assert (fog_class["name"], fog_class["image_count"], fog_class["description"]) == (
        "fog",
        0,
        None,
    )
    night = client.post(base, json={"name": "night", "description": "after sunset"}).json()
    dup = client.post(base, json={"name": "fog"})
    assert dup.status_code == 409 and dup.json()["field"] == "name"
    assert [c["name"] for c in client.get(base).json()] == ["fog", "night"]

    image, other_image = _image(lookout, client, project_id), _image(lookout, client, project_id)
    path = f"/api/images/{image}/classifications"
    given = client.post(path, json={"class_id": fog_class["id"], "image_id": image})
    assert given.status_code == 201, given.text
    entry = given.json()
    assert entry["class_name"] == "fog" and entry["created_by"] == "alice@example.org"
    assert entry["created_at"] and entry["created_by_id"]
    again = client.post(path, json={"class_id": fog_class["id"]})
    assert again.status_code == 200 and again.json()["id"] == entry["id"]
    client.post(path, json={"class_id": night["id"]})
    assert [c["class_name"] for c in client.get(path).json()] == ["fog", "night"]

    # The gallery API filters by class, with either paging.
    assert _ids(client, project_id, class_id=fog_class["id"]) == {image}
    assert _ids(client, project_id, class_id=fog_class["id"], skip=0) == {image}
    assert _ids(client, project_id) == {image, other_image}

    # Renaming keeps the classifications; a class in use is not deleted.
    renamed = client.patch(f"/api/classes/{fog_class['id']}", json={"name": "haze"})
    assert renamed.status_code == 200 and renamed.json()["image_count"] == 1
    assert client.get(path).json()[0]["class_name"] == "haze"
    taken = client.patch(f"/api/classes/{fog_class['id']}", json={"name": "night"})
    assert taken.status_code == 409 and taken.json()["field"] == "name"
    in_use = client.delete(f"/api/classes/{fog_class['id']}")
    assert in_use.status_code == 409 and "haze" in in_use.json()["detail"]
    assert client.delete(f"/api/classifications/{entry['id']}").status_code == 204
    assert client.get(f"/api/classes/{fog_class['id']}").json()["image_count"] == 0
    assert client.delete(f"/api/classes/{fog_class['id']}").status_code == 204
    assert client.get(f"/api/classes/{fog_class['id']}").status_code == 404
    # Deleting the project takes its classes and classifications along.
    assert client.delete(f"/api/projects/{project_id}").status_code == 204
    assert lookout.count("image_classes") == 0 and lookout.count("image_classifications") == 0


def test_bad_input_is_refused_naming_the_field(lookout: Lookout) -> None:
    client = lookout.keyed_client()
    project_id = lookout.create_project(client, "classes")["id"]
    other_project = lookout.create_project(client, "other")["id"]
    base = f"/api/projects/{project_id}/classes"
    cases: list[tuple[Any, str]] = [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": 5}, "name"),
        ({"name": "a\x01b"}, "name"),
        ({"name": "ok", "colour": "red"}, "colour"),
        ({"name": "ok", "project_id": other_project}, "project_id"),
        ({"name": "ok", "description": "d" * 2001}, "description"),
        ([], "body"),
    ]
    for body, field in cases:
        response = client.post(base, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["field"] == field, (body, response.json())
    surrogate = client.post(
        base, content=b'{"name": "\\ud83d"}', headers={"Content-Type": "application/json"}
    )
    assert surrogate.status_code == 400 and surrogate.json()["field"] == "name"
    foreign_class = client.post(f"/api/projects/{other_project}/classes", json={"name": "x"})
    image = _image(lookout, client, project_id)
    path = f"/api/images/{image}/classifications"
    for body, field in [
        ({}, "class_id"),
        ({"class_id": "nope"}, "class_id"),
        ({"class_id": foreign_class.json()["id"]}, "class_id"),  # another project's class
        ({"class_id": foreign_class.json()["id"], "image_id": project_id}, "image_id"),
    ]:
        response = client.post(path, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["field"] == field
    assert client.get(
        f"/api/projects/{project_id}/images", params={"class_id": "x"}
    ).status_code in (
        400,
        422,
    )


def test_who_may_remove_a_classification(lookout: Lookout) -> None:
    alice = lookout.keyed_client()
    bob = lookout.keyed_client("bob@example.org")
    admin = lookout.keyed_client("root@example.org", None, admin=True)
    project_id = lookout.create_project(alice, "classes")["id"]
    klass = alice.post(f"/api/projects/{project_id}/classes", json={"name": "fog"}).json()
    image = _image(lookout, alice, project_id)
    path = f"/api/images/{image}/classifications"
    given = alice.post(path, json={"class_id": klass["id"]}).json()
    refused = bob.delete(f"/api/classifications/{given['id']}")
    assert refused.status_code == 403
    assert admin.delete(f"/api/classifications/{given['id']}").status_code == 204
    mine = bob.post(path, json={"class_id": klass["id"]}).json()
    assert mine["created_by"] == "bob@example.org"
    assert bob.delete(f"/api/classifications/{mine['id']}").status_code == 204


def test_another_groups_classes_are_invisible(lookout: Lookout) -> None:
    alice = lookout.keyed_client()
    project_id = lookout.create_project(alice, "classes")["id"]
    klass = alice.post(f"/api/projects/{project_id}/classes", json={"name": "secret-class"}).json()
    image = _image(lookout, alice, project_id)
    given = alice.post(f"/api/images/{image}/classifications", json={"class_id": klass["id"]})
    other = lookout.keyed_client("mallory@example.org", "others")
    own = lookout.create_project(other, "mine")["id"]
    own_image = _image(lookout, other, own)
    responses = [
        other.get(f"/api/projects/{project_id}/classes"),
        other.post(f"/api/projects/{project_id}/classes", json={"name": "x"}),
        other.get(f"/api/classes/{klass['id']}"),
        other.patch(f"/api/classes/{klass['id']}", json={"name": "mine"}),
        other.delete(f"/api/classes/{klass['id']}"),
        other.get(f"/api/images/{image}/classifications"),
        other.post(f"/api/images/{image}/classifications", json={"class_id": klass["id"]}),
        other.delete(f"/api/classifications/{given.json()['id']}"),
    ]
    for response in responses:
        assert response.status_code == 404, (response.request.url, response.text)
        assert "secret-class" not in response.text
    # Naming the owners' class on its own image or in its own gallery finds nothing of theirs.
    own_use = other.post(f"/api/images/{own_image}/classifications", json={"class_id": klass["id"]})
    assert own_use.status_code == 400 and "secret-class" not in own_use.text
    assert _ids(other, own, class_id=klass["id"]) == set()
    assert alice.get(f"/api/classes/{klass['id']}").json()["name"] == "secret-class"
