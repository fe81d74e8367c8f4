"""Input VISTA's clients send that Lookout used to ignore is now honoured or refused (issue 16):
`meta_group_id` on project creation, a body `image_id` on analysis creation."""

from __future__ import annotations

from tests.exports.builders import distinct_jpeg
from tests.support import Lookout


def test_meta_group_id_names_the_projects_group(lookout: Lookout) -> None:
    client = lookout.keyed_client("vista@example.org", group="team")
    lookout.user_with_key("vista@example.org", group="other")  # now in two groups
    made = client.post("/api/projects", json={"name": "vista", "meta_group_id": "other"})
    assert made.status_code == 201, made.text
    in_other = client.post("/api/projects", json={"name": "in-other", "group": "other"}).json()
    in_team = client.post("/api/projects", json={"name": "in-team", "group": "team"}).json()
    assert made.json()["group_id"] == in_other["group_id"] != in_team["group_id"]

    both = {"name": "both", "group": "team", "meta_group_id": "team"}
    same = client.post("/api/projects", json=both)
    assert same.status_code == 201 and same.json()["group_id"] == in_team["group_id"]

    clash = client.post(
        "/api/projects", json={"name": "clash", "group": "team", "meta_group_id": "other"}
    )
    assert clash.status_code in (400, 422)
    assert "meta_group_id" in clash.text
    names = [p["name"] for p in client.get("/api/projects").json()]
    assert "clash" not in names

    outside = client.post("/api/projects", json={"name": "x", "meta_group_id": "not-mine"})
    assert outside.status_code in (403, 404), outside.text


def test_a_body_image_id_must_be_the_image_of_the_path(lookout: Lookout) -> None:
    client = lookout.keyed_client()
    project = lookout.create_project(client, "imgs")
    first = lookout.upload(client, project["id"], data=distinct_jpeg()).json()["id"]
    second = lookout.upload(client, project["id"], data=distinct_jpeg()).json()["id"]
    assert first != second
    body = {"model_name": "yolo_v8", "image_id": second}
    refused = client.post(f"/api/images/{first}/analyses", json=body)
    assert refused.status_code == 400 and refused.json()["field"] == "image_id"
    assert client.get(f"/api/images/{first}/analyses").json()["total"] == 0

    body["image_id"] = first
    made = client.post(f"/api/images/{first}/analyses", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["image_id"] == first
