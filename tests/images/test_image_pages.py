"""Image pages: every filter, access scoping and paging (PostgreSQL builds these pages as JSON)."""

from __future__ import annotations

import json

from lookout.pipeline.signing import sign_request
from tests.conftest import HMAC_SECRET
from tests.exports.builders import make_world


def _ids(client, project_id, **params):
    response = client.get(f"/api/projects/{project_id}/images", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_filters_paging_and_scoping_agree(lookout):
    world = make_world(lookout, email="boss@example.org", group="team", name="cams")
    admin = lookout.keyed_client("boss@example.org", "team", admin=True)  # boss, made admin
    member = lookout.keyed_client("member@example.org", "team")
    outsider = lookout.keyed_client("outsider@example.org", "elsewhere")
    project_id = world.project_id
    sequence = world.add_sequence("q", frames=1, started_at="2024-01-01T00:30:00")
    in_sequence = sequence.frames[0]
    loose = [
        lookout.upload(admin, project_id, captured_at=f"2024-01-01T0{h}:00:00Z").json()["id"]
        for h in range(1, 5)
    ]
    analysis = admin.post(f"/api/images/{loose[0]}/analyses", json={"model_name": "yolo"}).json()
    path = f"/api/analyses/{analysis['id']}/status"
    body = json.dumps({"status": "processing"}).encode()
    signed = sign_request(HMAC_SECRET, "PATCH", path, body)
    assert (
        lookout.client()
        .patch(path, content=body, headers={**signed, "Content-Type": "application/json"})
        .status_code
        == 200
    )

    everything = _ids(admin, project_id)
    assert len(everything) == 5 and set(loose) | {in_sequence} == set(everything)
    assert _ids(member, project_id) == everything
    assert outsider.get(f"/api/projects/{project_id}/images").status_code == 404
    assert _ids(admin, project_id, sequence_id=sequence.id) == [in_sequence]
    assert _ids(admin, project_id, model_name="yolo") == [loose[0]]
    assert _ids(member, project_id, analysis_status="processing") == [loose[0]]
    assert _ids(admin, project_id, model_name="yolo", analysis_status="completed") == []
    assert set(
        _ids(
            admin,
            project_id,
            captured_after="2024-01-01T02:00:00Z",
            captured_before="2024-01-01T04:00:00Z",
        )
    ) == {loose[1], loose[2]}
    # An empty page of a visible project is an empty page, not a 404.
    assert _ids(member, project_id, model_name="nothing") == []
    paged, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = member.get(f"/api/projects/{project_id}/images", params=params).json()
        paged += [item["id"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert paged == everything
    one = member.get(f"/api/projects/{project_id}/images", params={"limit": 1}).json()["items"][0]
    assert one == member.get(f"/api/images/{one['id']}").json()
    assert one["created_at"].endswith("Z") and one["content_url"].endswith("/content")


def test_a_page_read_again_follows_uploads_and_deletions(lookout):
    client = lookout.keyed_client()
    project_id = lookout.create_project(client, "cams")["id"]
    first = lookout.upload(client, project_id).json()["id"]
    assert _ids(client, project_id) == _ids(client, project_id) == [first]
    second = lookout.upload(client, project_id).json()["id"]
    assert _ids(client, project_id) == [second, first]
    assert client.delete(f"/api/images/{first}").status_code == 200  # to the trash
    assert _ids(client, project_id) == [second]
    assert client.delete(f"/api/images/{second}").status_code == 200
    assert _ids(client, project_id) == []
