"""Images found by who uploaded them (`uploaded_by`: an email in any case or a user id), in the
API's pages (cursor and VISTA's skip) and the gallery; on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.support import jpeg_bytes


def _setup(lookout):
    alice = lookout.keyed_client("alice@example.org", "team")
    bob = lookout.keyed_client("Bob@Example.org", "team")
    project_id = lookout.create_project(alice, "cams")["id"]
    mine = [lookout.upload(alice, project_id, jpeg_bytes(40 + i, 30)).json() for i in range(3)]
    bobs = [lookout.upload(bob, project_id, jpeg_bytes(60 + i, 30)).json() for i in range(2)]
    return alice, project_id, mine, bobs


def _ids(client, project_id, **params):
    response = client.get(f"/api/projects/{project_id}/images", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    return [i["id"] for i in (body["items"] if isinstance(body, dict) else body)]


def test_images_by_uploader_email_or_id(lookout):
    alice, project_id, mine, bobs = _setup(lookout)
    bob_id = bobs[0]["uploaded_by_id"]
    assert bob_id and bob_id != mine[0]["uploaded_by_id"]
    newest_first = [i["id"] for i in reversed(bobs)]
    assert _ids(alice, project_id, uploaded_by="bob@example.org") == newest_first
    assert _ids(alice, project_id, uploaded_by=" BOB@EXAMPLE.ORG ") == newest_first
    assert _ids(alice, project_id, uploaded_by=bob_id) == newest_first
    assert _ids(alice, project_id, uploaded_by="bob@example.org", skip=1, limit=5) == [
        bobs[0]["id"]
    ]
    assert set(_ids(alice, project_id, uploaded_by="alice@example.org")) == {i["id"] for i in mine}
    listed = alice.get(f"/api/projects/{project_id}/images").json()["items"]
    assert {i["uploaded_by_id"] for i in listed} == {bob_id, mine[0]["uploaded_by_id"]}
    # Paging by cursor keeps the filter.
    first = alice.get(
        f"/api/projects/{project_id}/images",
        params={"uploaded_by": "alice@example.org", "limit": 2},
    ).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = _ids(
        alice,
        project_id,
        uploaded_by="alice@example.org",
        limit=2,
        cursor=first["next_cursor"],
    )
    assert rest == [mine[0]["id"]]
    # Nobody by that email: nothing, not an error; with other filters too.
    assert _ids(alice, project_id, uploaded_by="carol@example.org") == []
    assert (
        _ids(
            alice,
            project_id,
            uploaded_by="bob@example.org",
            search_field="filename",
            search_value="frame",
        )
        == newest_first
    )
    # Not shown to another group, whatever the filter.
    stranger = lookout.keyed_client("eve@example.org", "others")
    refused = stranger.get(
        f"/api/projects/{project_id}/images", params={"uploaded_by": "bob@example.org"}
    )
    assert refused.status_code == 404


def test_bad_uploader_values_are_refused_naming_the_field(lookout):
    alice, project_id, _mine, _bobs = _setup(lookout)
    for value in ("bob", "x" * 321 + "@example.org"):
        response = alice.get(f"/api/projects/{project_id}/images", params={"uploaded_by": value})
        assert response.status_code == 400, (value, response.text)
        assert response.json()["field"] == "uploaded_by"
    # An empty value filters nothing.
    assert len(_ids(alice, project_id, uploaded_by="")) == 5


def test_gallery_filters_by_uploader(lookout):
    alice, project_id, mine, bobs = _setup(lookout)
    page = alice.get(f"/projects/{project_id}", params={"uploaded_by": "bob@example.org"})
    assert page.status_code == 200
    for image in bobs:
        assert image["id"] in page.text
    for image in mine:
        assert image["id"] not in page.text
    assert 'value="bob@example.org"' in page.text
    bad = alice.get(f"/projects/{project_id}", params={"uploaded_by": "bob"})
    assert bad.status_code == 200
    assert "uploaded_by: an email or a user id; the filter was ignored" in bad.text
    for image in mine + bobs:
        assert image["id"] in bad.text
