"""Artifacts: presign → PUT → confirm → download on local storage and on S3 (moto)."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from lookout.storage.local import LocalStorage
from tests.analyses.ml_support import Setup
from tests.support import http_get, http_put, png_bytes, stored_files

PNG = png_bytes(40, 30)


def _presign(s: Setup, analysis_id: str, *artifacts: dict) -> httpx.Response:
    return s.v1(
        "POST", f"/api/analyses/{analysis_id}/artifacts/presign", {"artifacts": list(artifacts)}
    )


def _one_url(
    s: Setup,
    analysis_id: str,
    name: str = "detections.png",
    content_type: str = "image/png",
    **extra,
) -> str:
    response = _presign(
        s, analysis_id, {"artifact_name": name, "content_type": content_type, **extra}
    )
    assert response.status_code == 200, response.text
    [entry] = response.json()["presigned_urls"]
    assert entry["artifact_name"] == name
    assert entry["headers"] == {"Content-Type": content_type}
    return entry["upload_url"]


def _artifacts(s: Setup, analysis_id: str) -> list[dict]:
    response = s.client.get(f"/api/analyses/{analysis_id}/artifacts")
    assert response.status_code == 200, response.text
    return response.json()["artifacts"]


def _round_trip(s: Setup) -> str:
    analysis_id = s.create_analysis()["id"]
    s.v1("PATCH", f"/api/analyses/{analysis_id}/status", {"status": "processing"})
    url = _one_url(s, analysis_id, size=len(PNG))
    assert _artifacts(s, analysis_id)[0]["state"] == "pending"
    put = http_put(url, content=PNG, headers={"Content-Type": "image/png"})
    assert put.status_code == 200, put.text
    final = s.v1("POST", f"/api/analyses/{analysis_id}/finalize", {"status": "completed"})
    assert final.status_code == 200
    [artifact] = _artifacts(s, analysis_id)
    assert artifact["state"] == "uploaded" and artifact["size_bytes"] == len(PNG)
    assert artifact["expected_size"] == len(PNG) and artifact["uploaded_at"]
    streamed = s.client.get(artifact["download_url"])
    assert streamed.status_code == 200 and streamed.content == PNG
    assert streamed.headers["content-type"] == "image/png"
    assert streamed.headers["content-disposition"] == 'attachment; filename="detections.png"'
    presigned = s.client.get(artifact["url_endpoint"]).json()
    fetched = http_get(presigned["url"])
    assert fetched.status_code == 200 and fetched.content == PNG
    return analysis_id


def test_local_storage_round_trip(ml: Setup):
    analysis_id = _round_trip(ml)
    root = ml.lookout.settings.resolved_storage_path
    assert any(analysis_id in str(p) for p in stored_files(root))
    assert ml.client.delete(f"/api/analyses/{analysis_id}").status_code == 204
    assert not any(analysis_id in str(p) for p in stored_files(root))
    assert ml.client.get(f"/api/analyses/{analysis_id}").status_code == 404


@pytest.fixture
def s3_setup(sqlite_factory, s3_endpoint: str) -> Setup:
    return sqlite_factory(
        STORAGE_BACKEND="s3",
        S3_ENDPOINT_URL=s3_endpoint,
        S3_BUCKET=f"ml-{uuid.uuid4().hex[:12]}",
        S3_CREATE_BUCKET="true",
        S3_ACCESS_KEY_ID="test",
        S3_SECRET_ACCESS_KEY="test",
    )


def test_s3_round_trip(s3_setup: Setup, s3_endpoint: str):
    url = _one_url(s3_setup, s3_setup.create_analysis()["id"])
    assert url.startswith(s3_endpoint) and "X-Amz-Signature" in url
    analysis_id = _round_trip(s3_setup)
    storage = s3_setup.lookout.settings
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    key = f"analyses/{analysis_id}/artifacts/detections.png"
    assert s3.head_object(Bucket=storage.s3_bucket, Key=key)["ContentLength"] == len(PNG)
    assert s3_setup.client.delete(f"/api/analyses/{analysis_id}").status_code == 204
    listed = s3.list_objects_v2(Bucket=storage.s3_bucket, Prefix=f"analyses/{analysis_id}/")
    assert listed.get("KeyCount", 0) == 0


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_local_presigned_urls_refuse_tampering(shared_sqlite: Setup):
    s = shared_sqlite
    analysis_id, other_id = s.create_analysis()["id"], s.create_analysis()["id"]
    url = _one_url(s, analysis_id)
    headers = {"Content-Type": "image/png"}
    attempts = {
        "other content type": http_put(url, content=PNG, headers={"Content-Type": "text/html"}),
        "signed type changed": http_put(
            _with_query(url, content_type="text/html"),
            content=PNG,
            headers={"Content-Type": "text/html"},
        ),
        "expiry extended": http_put(
            _with_query(url, expires=str(int(time.time()) + 99999)), content=PNG, headers=headers
        ),
        "signature altered": http_put(
            _with_query(url, signature="A" * 43), content=PNG, headers=headers
        ),
        "other key": http_put(url.replace(analysis_id, other_id), content=PNG, headers=headers),
        "used for GET": http_get(url),
    }
    for what, response in attempts.items():
        assert response.status_code == 403, (what, response.text)
    assert _artifacts(s, analysis_id)[0]["state"] == "pending"
    assert http_put(url, content=PNG, headers=headers).status_code == 200


def test_expired_local_presigned_url_is_refused(shared_sqlite: Setup):
    s = shared_sqlite
    analysis_id = s.create_analysis()["id"]
    url = _one_url(s, analysis_id)
    key = urlsplit(url).path.split("/storage/objects/", 1)[1]
    storage = LocalStorage(s.lookout.settings.resolved_storage_path, b"test-signing-key")
    past = int(time.time()) - 10
    signed_but_expired = _with_query(
        url, expires=str(past), signature=storage.sign("PUT", key, "image/png", past)
    )
    response = http_put(signed_but_expired, content=PNG, headers={"Content-Type": "image/png"})
    assert response.status_code == 403 and "expired" in response.json()["detail"]


@pytest.mark.parametrize(
    ("artifact", "field"),
    [
        ({"artifact_name": "../escape.png", "content_type": "image/png"}, "artifact_name"),
        ({"artifact_name": "dir/file.png", "content_type": "image/png"}, "artifact_name"),
        ({"artifact_name": ".hidden", "content_type": "image/png"}, "artifact_name"),
        ({"artifact_name": "a..b.png", "content_type": "image/png"}, "artifact_name"),
        ({"artifact_name": "", "content_type": "image/png"}, "artifact_name"),
        ({"artifact_name": "back\\slash.png", "content_type": "image/png"}, "artifact_name"),
        ({"artifact_name": "ok.png", "content_type": "png"}, "content_type"),
        ({"artifact_name": "ok.png", "content_type": "image/png; x=1"}, "content_type"),
        ({"artifact_name": "ok.png"}, "content_type"),
    ],
)
def test_artifact_names_and_types_are_validated(shared_sqlite: Setup, artifact, field):
    analysis_id = shared_sqlite.create_analysis()["id"]
    response = _presign(shared_sqlite, analysis_id, artifact)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == f"artifacts[0].{field}"


def test_presign_many_repeat_and_refresh(shared_sqlite: Setup):
    s = shared_sqlite
    analysis_id = s.create_analysis()["id"]
    response = _presign(
        s,
        analysis_id,
        {"artifact_name": "bounding_boxes.png", "content_type": "image/png"},
        {"artifact_name": "heatmap.png", "content_type": "image/png"},
    )
    assert [u["artifact_name"] for u in response.json()["presigned_urls"]] == [
        "bounding_boxes.png",
        "heatmap.png",
    ]
    assert all(u["expires_in"] == 3600 for u in response.json()["presigned_urls"])
    first = response.json()["presigned_urls"][0]["upload_url"]
    assert http_put(first, content=PNG, headers={"Content-Type": "image/png"}).is_success
    assert _artifacts(s, analysis_id)[0]["state"] == "uploaded"  # confirmed on read
    # Presigning the name again (e.g. after expiry) refreshes it: pending, new type.
    _one_url(s, analysis_id, "bounding_boxes.png", "image/jpeg")
    refreshed = {a["name"]: a for a in _artifacts(s, analysis_id)}["bounding_boxes.png"]
    assert refreshed["content_type"] == "image/jpeg"
    duplicate = _presign(
        s,
        analysis_id,
        {"artifact_name": "x.png", "content_type": "image/png"},
        {"artifact_name": "x.png", "content_type": "image/png"},
    )
    assert duplicate.status_code == 400
    s.v1("POST", f"/api/analyses/{analysis_id}/finalize", {"status": "completed"})
    late = _presign(s, analysis_id, {"artifact_name": "late.png", "content_type": "image/png"})
    assert late.status_code == 409


def test_wrong_size_and_oversized_uploads_are_rejected(sqlite_factory):
    s = sqlite_factory(ML_MAX_ARTIFACT_BYTES="1000")
    analysis_id = s.create_analysis()["id"]
    big = _one_url(s, analysis_id, "big.bin", "application/octet-stream")
    refused = http_put(
        big, content=b"x" * 1001, headers={"Content-Type": "application/octet-stream"}
    )
    assert refused.status_code == 413
    announced = _presign(
        s,
        analysis_id,
        {"artifact_name": "huge.bin", "size": 5000, "content_type": "application/octet-stream"},
    )
    assert announced.status_code == 413 and announced.json()["field"] == "artifacts[0].size"
    liar = _one_url(s, analysis_id, "liar.bin", "application/octet-stream", size=10)
    assert http_put(
        liar, content=b"y" * 20, headers={"Content-Type": "application/octet-stream"}
    ).is_success
    states = {a["name"]: a["state"] for a in _artifacts(s, analysis_id)}
    assert states == {"big.bin": "pending", "liar.bin": "rejected"}
    download = s.client.get(f"/api/analyses/{analysis_id}/artifacts/liar.bin")
    assert download.status_code == 404


def test_pending_artifact_download_is_404_until_uploaded(shared_sqlite: Setup):
    s = shared_sqlite
    analysis_id = s.create_analysis()["id"]
    url = _one_url(s, analysis_id, "later report.txt", "text/plain")
    path = f"/api/analyses/{analysis_id}/artifacts/later report.txt"
    assert s.client.get(path).status_code == 404
    assert http_put(url, content=b"hello", headers={"Content-Type": "text/plain"}).is_success
    got = s.client.get(path)
    assert got.status_code == 200 and got.content == b"hello"
    assert got.headers["content-security-policy"] == "sandbox"
    assert s.client.get(f"/api/analyses/{analysis_id}/artifacts/none.txt").status_code == 404
