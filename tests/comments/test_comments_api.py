"""Comments on images and sequences: add, list newest first, edit own, delete own (admins
any), plain text kept as typed, limits refused naming the field, invisible to other groups."""

from __future__ import annotations

from typing import Any

import httpx

from lookout.comments.models import MAX_COMMENT_CHARS
from tests.exports.builders import distinct_jpeg
from tests.support import Lookout


def _image(lookout: Lookout, client: httpx.Client, project_id: str) -> str:
    response = lookout.upload(client, project_id, distinct_jpeg())
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _sequence(client: httpx.Client, project_id: str, source_id: str = "s1") -> str:
    body = {
        "project_id": project_id,
        "source": "test",
        "source_id": source_id,
        "started_at": "2024-06-01T10:00:00Z",
    }
    response = client.post("/api/sequences", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_comments_on_an_image_and_a_sequence(lookout: Lookout) -> None:
    alice = lookout.keyed_client()
    project_id = lookout.create_project(alice, "talk")["id"]
    image = _image(lookout, alice, project_id)
    sequence = _sequence(alice, project_id)
    path = f"/api/images/{image}/comments"
    markup = "<script>alert(1)</script> & <b>bold</b>\nsecond line"
    first = alice.post(path, json={"text": "  first look  "})
    assert first.status_code == 201, first.text
    comment = first.json()
    assert comment["text"] == "first look" and comment["image_id"] == image
    assert comment["author"]["email"] == "alice@example.org" and comment["edited"] is False
    second = alice.post(path, json={"text": markup}).json()
    assert second["text"] == markup  # stored as typed; pages show it as text
    listed = alice.get(path).json()
    assert [c["id"] for c in listed] == [second["id"], comment["id"]]  # newest first
    assert [c["id"] for c in alice.get(path, params={"skip": 1, "limit": 1}).json()] == [
        comment["id"]
    ]

    on_sequence = alice.post(f"/api/sequences/{sequence}/comments", json={"text": "smoke?"})
    assert on_sequence.status_code == 201 and on_sequence.json()["sequence_id"] == sequence
    assert [c["text"] for c in alice.get(f"/api/sequences/{sequence}/comments").json()] == [
        "smoke?"
    ]
    assert alice.get(f"/api/sequences/{sequence}/comments").json()[0]["image_id"] is None

    edited = alice.patch(f"/api/comments/{comment['id']}", json={"text": "second look"})
    assert edited.status_code == 200 and edited.json()["edited"] is True
    assert alice.get(f"/api/comments/{comment['id']}").json()["text"] == "second look"
    assert alice.delete(f"/api/comments/{comment['id']}").status_code == 204
    assert alice.get(f"/api/comments/{comment['id']}").status_code == 404
    # The aliases serve the same routes (VISTA's scripts use /api-key).
    assert alice.get(f"/api-key/images/{image}/comments").json()[0]["id"] == second["id"]


def test_only_the_author_edits_and_the_author_or_an_admin_deletes(lookout: Lookout) -> None:
    alice = lookout.keyed_client()
    bob = lookout.keyed_client("bob@example.org")
    admin = lookout.keyed_client("root@example.org", None, admin=True)
    project_id = lookout.create_project(alice, "talk")["id"]
    image = _image(lookout, alice, project_id)
    comment = alice.post(f"/api/images/{image}/comments", json={"text": "mine"}).json()
    url = f"/api/comments/{comment['id']}"
    assert bob.patch(url, json={"text": "bob's"}).status_code == 403
    assert admin.patch(url, json={"text": "admin's"}).status_code == 403
    assert bob.delete(url).status_code == 403
    assert alice.get(url).json()["text"] == "mine"
    assert admin.delete(url).status_code == 204
    bobs = bob.post(f"/api/images/{image}/comments", json={"text": "bob's"}).json()
    assert bob.delete(f"/api/comments/{bobs['id']}").status_code == 204


def test_bad_text_is_refused_naming_the_field(lookout: Lookout) -> None:
    alice = lookout.keyed_client()
    project_id = lookout.create_project(alice, "talk")["id"]
    image = _image(lookout, alice, project_id)
    path = f"/api/images/{image}/comments"
    comment = alice.post(path, json={"text": "ok"}).json()
    cases: list[tuple[Any, str]] = [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": " \n "}, "text"),
        ({"text": 5}, "text"),
        ({"text": None}, "text"),
        ({"text": "x" * (MAX_COMMENT_CHARS + 1)}, "text"),
        ({"text": "bell\x07"}, "text"),
        ({"text": "nul\x00"}, "text"),
        ({"text": "ok", "author_id": "x"}, "author_id"),
        ("text", "body"),
    ]
    for body, field in cases:
        for response in (
            alice.post(path, json=body),
            alice.patch(f"/api/comments/{comment['id']}", json=body),
        ):
            assert response.status_code == 400, (body, response.text)
            assert response.json()["field"] == field, (body, response.json())
    surrogate = alice.post(
        path, content=b'{"text": "a\\udfff"}', headers={"Content-Type": "application/json"}
    )
    assert surrogate.status_code == 400 and surrogate.json()["field"] == "text"
    not_json = alice.post(path, content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    longest = alice.post(path, json={"text": "é" * MAX_COMMENT_CHARS})
    assert longest.status_code == 201
    assert alice.get(path, params={"limit": 0}).status_code == 422
    assert [c["text"] for c in alice.get(path).json()] == ["é" * MAX_COMMENT_CHARS, "ok"]


def test_another_groups_comments_are_invisible(lookout: Lookout) -> None:
    alice = lookout.keyed_client()
    project_id = lookout.create_project(alice, "talk")["id"]
    image = _image(lookout, alice, project_id)
    sequence = _sequence(alice, project_id)
    on_image = alice.post(f"/api/images/{image}/comments", json={"text": "private words"}).json()
    alice.post(f"/api/sequences/{sequence}/comments", json={"text": "private words"})
    other = lookout.keyed_client("mallory@example.org", "others")
    responses = [
        other.get(f"/api/images/{image}/comments"),
        other.post(f"/api/images/{image}/comments", json={"text": "hi"}),
        other.get(f"/api/sequences/{sequence}/comments"),
        other.post(f"/api/sequences/{sequence}/comments", json={"text": "hi"}),
        other.get(f"/api/comments/{on_image['id']}"),
        other.patch(f"/api/comments/{on_image['id']}", json={"text": "mine"}),
        other.delete(f"/api/comments/{on_image['id']}"),
    ]
    for response in responses:
        assert response.status_code == 404, (response.request.url, response.text)
        assert "private words" not in response.text
    assert lookout.count("comments") == 2
    # Purging the image or the sequence takes its comments along.
    admin = lookout.keyed_client("root@example.org", "team", admin=True)
    assert admin.request("DELETE", f"/api/images/{image}", json={"force": True}).status_code == 204
    assert lookout.count("comments") == 1
