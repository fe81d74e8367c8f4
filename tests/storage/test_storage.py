"""Both storage backends behave the same; local presigned URLs are verified on use."""

from __future__ import annotations

import io
import time
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import boto3
import pytest

from lookout.storage import LocalStorage, ObjectTooLarge, S3Storage
from lookout.storage.base import validate_key
from tests.support import http_get, http_put


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "objects", b"k" * 32)
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"bucket-{time.monotonic_ns()}"
    return S3Storage(
        bucket,
        endpoint_url=endpoint,
        access_key_id="test",
        secret_access_key="test",
        create_bucket=True,
    )


def test_put_get_head_delete(storage):
    size = storage.put_file("a/b/c.bin", io.BytesIO(b"x" * 3_000_000), "application/octet-stream")
    assert size == 3_000_000
    info = storage.head("a/b/c.bin")
    assert info.size == 3_000_000
    assert info.content_type == "application/octet-stream"
    assert b"".join(storage.iter_chunks("a/b/c.bin")) == b"x" * 3_000_000
    storage.put_bytes("a/small.txt", b"hello", "text/plain")
    assert storage.get_bytes("a/small.txt") == b"hello"
    storage.delete("a/small.txt")
    assert storage.head("a/small.txt") is None
    storage.delete("a/small.txt")  # deleting twice is fine


def test_size_limit_while_streaming(storage):
    with pytest.raises(ObjectTooLarge):
        storage.put_file(
            "big.bin", io.BytesIO(b"y" * 100_000), "application/octet-stream", max_bytes=10_000
        )
    assert storage.head("big.bin") is None


@pytest.mark.parametrize(
    "key", ["../escape", "a/../../b", "/abs", "a//b", "", "a/.hidden", "x\x00y"]
)
def test_keys_that_could_escape_are_refused(key):
    with pytest.raises(ValueError):
        validate_key(key)


def test_s3_presigned_put_and_get_round_trip(s3_endpoint):
    storage = S3Storage(
        "presign-bucket",
        endpoint_url=s3_endpoint,
        access_key_id="test",
        secret_access_key="test",
        create_bucket=True,
    )
    url = storage.presign_put("art/one.png", "image/png", 60, base_url="unused")
    assert (
        http_put(url, content=b"\x89PNG...", headers={"Content-Type": "image/png"}).status_code
        == 200
    )
    assert storage.head("art/one.png").size == 7
    download = http_get(
        storage.presign_get("art/one.png", 60, base_url="unused", filename="one.png")
    )
    assert download.content == b"\x89PNG..."


def test_s3_public_endpoint_is_used_for_presigned_urls(s3_endpoint):
    storage = S3Storage(
        "pub-bucket",
        endpoint_url=s3_endpoint,
        public_endpoint_url="http://files.example.test:9000",
        access_key_id="test",
        secret_access_key="test",
        create_bucket=True,
    )
    url = storage.presign_put("k.png", "image/png", 60, base_url="unused")
    assert url.startswith("http://files.example.test:9000/pub-bucket/k.png?")


def _tamper(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_local_presigned_urls_through_the_server(lookout):
    storage = LocalStorage(lookout.settings.resolved_storage_path, lookout.settings.signing_key())
    client = lookout.client()
    url = storage.presign_put("analyses/x/artifacts/a.png", "image/png", 60, lookout.url)
    assert (
        client.put(url, content=b"data", headers={"Content-Type": "image/png"}).status_code == 200
    )
    assert storage.get_bytes("analyses/x/artifacts/a.png") == b"data"

    wrong_type = client.put(url, content=b"evil", headers={"Content-Type": "text/html"})
    assert wrong_type.status_code == 403
    tampered = client.put(
        _tamper(url, content_type="text/html"),
        content=b"evil",
        headers={"Content-Type": "text/html"},
    )
    assert tampered.status_code == 403
    other_key = url.replace("a.png", "b.png")
    assert (
        client.put(other_key, content=b"x", headers={"Content-Type": "image/png"}).status_code
        == 403
    )
    expired = storage.presign_put("analyses/x/artifacts/a.png", "image/png", -10, lookout.url)
    response = client.put(expired, content=b"x", headers={"Content-Type": "image/png"})
    assert response.status_code == 403 and "expired" in response.json()["detail"]
    assert storage.get_bytes("analyses/x/artifacts/a.png") == b"data"  # nothing overwritten

    get_url = storage.presign_get("analyses/x/artifacts/a.png", 60, lookout.url, filename='a"b.png')
    download = client.get(get_url)
    assert download.content == b"data"
    assert download.headers["content-disposition"] == 'attachment; filename="a_b.png"'
    assert download.headers["x-content-type-options"] == "nosniff"
    assert client.get(_tamper(get_url, expires=str(int(time.time()) + 9999))).status_code == 403
    # A PUT URL cannot be used to read, nor a GET URL to write.
    assert client.get(url).status_code == 403
    assert (
        client.put(get_url, content=b"x", headers={"Content-Type": "image/png"}).status_code == 403
    )


def test_s3_backend_serves_the_api(lookout_factory, s3_endpoint):
    """The whole image path on S3: upload, content, thumbnail, delete."""
    from tests.support import jpeg_bytes

    instance = lookout_factory(
        STORAGE_BACKEND="s3",
        S3_ENDPOINT_URL=s3_endpoint,
        S3_BUCKET="api-images",
        S3_ACCESS_KEY_ID="test",
        S3_SECRET_ACCESS_KEY="test",
        S3_CREATE_BUCKET=True,
    )
    client = instance.keyed_client(admin=True)  # purges at once
    project_id = instance.create_project(client)["id"]
    data = jpeg_bytes(300, 200)
    image = instance.upload(client, project_id, data).json()
    assert client.get(image["content_url"]).content == data
    assert client.get(image["thumbnail_url"]).status_code == 200
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket="api-images").get("Contents", [])]
    assert len(keys) == 2
    purge = client.request("DELETE", f"/api/images/{image['id']}", json={"force": True})
    assert purge.status_code == 204, purge.text
    assert s3.list_objects_v2(Bucket="api-images").get("KeyCount") == 0


def test_storage_down_means_503_and_no_row(lookout_factory):
    """An upload while object storage is unreachable leaves no image row behind."""
    from tests.support import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    instance = lookout_factory(
        STORAGE_BACKEND="s3",
        S3_ENDPOINT_URL=dead,
        S3_BUCKET="nowhere",
        S3_ACCESS_KEY_ID="test",
        S3_SECRET_ACCESS_KEY="test",
    )
    client = instance.keyed_client()
    project_id = instance.create_project(client)["id"]
    response = instance.upload(client, project_id)
    assert response.status_code == 503
    assert "storage" in response.json()["detail"]
    assert instance.count("images") == 0
