"""Uploading, listing, serving and deleting images."""

from __future__ import annotations

import hashlib
import io
import zlib

from PIL import Image

from tests.support import jpeg_bytes, png_bytes, stored_files


def _project(lookout, client, name="cams"):
    return lookout.create_project(client, name)["id"]


def test_upload_records_facts_and_serves_content(lookout):
    client = lookout.keyed_client()
    project_id = _project(lookout, client)
    data = jpeg_bytes(120, 80)
    response = lookout.upload(
        client, project_id, data, filename="../../etc/frame.jpg", captured_at="2024-01-01T10:00:00Z"
    )
    assert response.status_code == 201, response.text
    image = response.json()
    assert (image["width"], image["height"]) == (120, 80)
    assert image["sha256"] == hashlib.sha256(data).hexdigest()
    assert image["size_bytes"] == len(data)
    assert image["content_type"] == "image/jpeg"
    assert image["filename"] == "frame.jpg"
    assert image["captured_at"].startswith("2024-01-01T10:00:00")
    content = client.get(image["content_url"])
    assert content.status_code == 200
    assert content.content == data
    assert content.headers["content-type"] == "image/jpeg"
    assert content.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/api/images/{image['id']}").json()["id"] == image["id"]


def test_content_type_comes_from_the_bytes_not_the_client(lookout):
    client = lookout.keyed_client()
    project_id = _project(lookout, client)
    response = lookout.upload(
        client, project_id, png_bytes(), filename="x.jpg", content_type="image/jpeg"
    )
    assert response.status_code == 201
    assert response.json()["content_type"] == "image/png"


def test_thumbnail_is_computed_once_and_stored(lookout):
    client = lookout.keyed_client()
    project_id = _project(lookout, client)
    image = lookout.upload(client, project_id, jpeg_bytes(1000, 600)).json()
    first = client.get(image["thumbnail_url"])
    assert first.status_code == 200
    with Image.open(io.BytesIO(first.content)) as thumb:
        assert max(thumb.size) == 256
        assert thumb.format == "JPEG"
    objects_after_first = stored_files(lookout.settings.resolved_storage_path)
    assert len(objects_after_first) == 2  # the original and its thumbnail
    second = client.get(image["thumbnail_url"])
    assert second.content == first.content
    assert stored_files(lookout.settings.resolved_storage_path) == objects_after_first


def test_non_image_is_refused_and_nothing_is_stored(lookout):
    client = lookout.keyed_client()
    project_id = _project(lookout, client)
    for payload, name in (
        (b"<html><script>alert(1)</script></html>", "x.jpg"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "x.svg"),
        (b"", "empty.png"),
    ):
        response = lookout.upload(client, project_id, payload, filename=name)
        assert response.status_code in (400, 415), response.text
        assert response.json()["field"] == "file"
    truncated = jpeg_bytes(200, 200)[:300]
    response = lookout.upload(client, project_id, truncated)
    assert response.status_code in (400, 415)
    assert lookout.count("images") == 0
    assert stored_files(lookout.settings.resolved_storage_path) == []


def _png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG that claims a huge size (the IDAT compresses a sea of zeros)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
        )

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    raw = zlib.compress(b"\x00" * (width + 1) * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused(lookout):
    client = lookout.keyed_client()
    project_id = _project(lookout, client)
    response = lookout.upload(client, project_id, _png_bomb(40_000, 40_000), filename="bomb.png")
    assert response.status_code == 413
    assert "pixels" in response.json()["detail"] or "bomb" in response.json()["detail"]
    assert lookout.count("images") == 0


def test_upload_over_the_limit_is_413(lookout_factory):
    instance = lookout_factory(LOOKOUT_MAX_UPLOAD_BYTES=20_000)
    client = instance.keyed_client()
    project_id = instance.create_project(client)["id"]
    response = instance.upload(client, project_id, b"\xff" * 50_000)
    assert response.status_code == 413
    assert instance.count("images") == 0


def test_chunked_upload_over_the_limit_is_413(lookout_factory):
    instance = lookout_factory(LOOKOUT_MAX_UPLOAD_BYTES=20_000)
    client = instance.keyed_client()
    project_id = instance.create_project(client)["id"]

    def body():
        yield (
            b'--abc\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n"
        )
        for _ in range(100):
            yield b"x" * 1000

    response = client.post(
        f"/api/projects/{project_id}/images",
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=abc"},
    )
    assert response.status_code == 413
    assert instance.count("images") == 0


def test_same_source_id_answers_with_the_existing_image(lookout):
    client = lookout.keyed_client()
    project_id = _project(lookout, client)
    first = lookout.upload(client, project_id, jpeg_bytes(), source="platform", source_id="42")
    again = lookout.upload(
        client, project_id, jpeg_bytes(color=(1, 2, 3)), source="platform", source_id="42"
    )
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["existing"] is True
    assert again.json()["id"] == first.json()["id"]
    assert lookout.count("images") == 1
    assert len(stored_files(lookout.settings.resolved_storage_path)) == 1


def test_list_pages_with_a_stable_cursor_and_filters(lookout):
    client = lookout.keyed_client()
    project_id = _project(lookout, client)
    ids = []
    for hour in range(7):
        image = lookout.upload(
            client, project_id, jpeg_bytes(), captured_at=f"2024-01-01T{hour:02d}:00:00Z"
        )
        ids.append(image.json()["id"])
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/api/projects/{project_id}/images", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen)) == 7
    filtered = client.get(
        f"/api/projects/{project_id}/images",
        params={
            "captured_after": "2024-01-01T02:00:00Z",
            "captured_before": "2024-01-01T05:00:00Z",
        },
    ).json()
    assert len(filtered["items"]) == 3
    assert (
        client.get(f"/api/projects/{project_id}/images", params={"cursor": "garbage!"}).status_code
        == 400
    )
    assert (
        client.get(f"/api/projects/{project_id}/images", params={"limit": 100000}).status_code
        == 422
    )


def test_delete_moves_to_the_trash_and_an_admin_purges_at_once(lookout):
    client = lookout.keyed_client()
    project_id = _project(lookout, client)
    image = lookout.upload(client, project_id).json()
    client.get(image["thumbnail_url"])
    stored = stored_files(lookout.settings.resolved_storage_path)
    path = f"/api/images/{image['id']}"
    trashed = client.request("DELETE", path, json={"reason": "blurred frame"})
    assert trashed.status_code == 200, trashed.text
    assert trashed.json()["deleted_at"] and trashed.json()["delete_reason"] == "blurred frame"
    assert client.get(path).status_code == 404  # hidden, objects kept
    assert stored_files(lookout.settings.resolved_storage_path) == stored
    assert client.delete(path).status_code == 409  # already in the trash

    refused = client.request("DELETE", path, json={"force": True})
    assert refused.status_code == 403 and refused.json()["field"] == "force"
    bad = client.request("DELETE", path, json={"reason": "x"})
    assert bad.status_code == 400 and bad.json()["field"] == "reason"
    admin = lookout.keyed_client("root@example.org", admin=True)
    assert admin.request("DELETE", path, json={"force": True}).status_code == 204
    assert lookout.count("images") == 0
    assert stored_files(lookout.settings.resolved_storage_path) == []


def test_other_group_gets_404_on_every_image_route(lookout):
    alice = lookout.keyed_client("alice@example.org", "team-a")
    bob = lookout.keyed_client("bob@example.org", "team-b")
    project_id = _project(lookout, alice)
    image = lookout.upload(alice, project_id).json()
    for path in (
        f"/api/images/{image['id']}",
        image["content_url"],
        image["thumbnail_url"],
        f"/api/projects/{project_id}/images",
    ):
        response = bob.get(path)
        assert response.status_code == 404, path
        assert image["sha256"] not in response.text
    assert lookout.upload(bob, project_id).status_code == 404
    assert bob.delete(f"/api/images/{image['id']}").status_code == 404
    assert alice.get(image["content_url"]).status_code == 200


def test_health_and_docs(lookout):
    client = lookout.client()
    assert client.get("/api/health").json()["status"] == "ok"
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower() and "/apidocs/static/swagger-ui-bundle.js" in docs.text
    assert client.get("/apidocs/static/swagger-ui-bundle.js").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/projects/{project_id}/images" in spec["paths"]
