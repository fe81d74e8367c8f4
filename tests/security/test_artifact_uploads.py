"""Artifact uploads after confirmation, side-file names and line breaks (issue 13, items 6, 7).

A presigned upload URL must not replace an artifact once it is confirmed (listed as uploaded,
or its analysis finalized), on local storage (Lookout refuses the PUT) and on S3 (the URL
writes to an upload key that confirmation copies from, never to the artifact's own key). A
download sends what storage serves, whatever size the row recorded. Local storage keeps content
types where no object key reaches, and names and content types are matched whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.analyses.ml_support import Setup, make_setup
from tests.support import Lookout, http_get, http_put, png_bytes

ORIGINAL = b"original!"  # 9 bytes
REPLACEMENT = b"replaced by a later PUT..."  # 26 bytes
TEXT = {"Content-Type": "text/plain"}


@pytest.fixture
def local(lookout: Lookout) -> Setup:
    """Local storage, on SQLite and on PostgreSQL."""
    return make_setup(lookout)


@pytest.fixture
def on_s3(lookout_factory: Callable[..., Lookout], s3_endpoint: str) -> Setup:
    """S3 (moto), in a bucket of its own, on SQLite and on PostgreSQL."""
    return make_setup(
        lookout_factory(
            STORAGE_BACKEND="s3",
            S3_ENDPOINT_URL=s3_endpoint,
            S3_BUCKET=f"uploads-{uuid.uuid4().hex[:12]}",
            S3_CREATE_BUCKET="true",
            S3_ACCESS_KEY_ID="test",
            S3_SECRET_ACCESS_KEY="test",
        )
    )


def _processing(s: Setup) -> str:
    analysis_id = s.create_analysis()["id"]
    moved = s.v1("PATCH", f"/api/analyses/{analysis_id}/status", {"status": "processing"})
    assert moved.status_code == 200, moved.text
    return analysis_id


def _presign(s: Setup, analysis_id: str, *artifacts: dict[str, Any]) -> httpx.Response:
    path = f"/api/analyses/{analysis_id}/artifacts/presign"
    return s.v1("POST", path, {"artifacts": list(artifacts)})


def _upload_url(s: Setup, analysis_id: str, name: str, content_type: str = "text/plain") -> str:
    response = _presign(s, analysis_id, {"artifact_name": name, "content_type": content_type})
    assert response.status_code == 200, response.text
    return response.json()["presigned_urls"][0]["upload_url"]


def _finalize(s: Setup, analysis_id: str) -> None:
    path = f"/api/analyses/{analysis_id}/finalize"
    assert s.v1("POST", path, {"status": "completed"}).status_code == 200


def _listed(s: Setup, analysis_id: str) -> dict[str, dict[str, Any]]:
    response = s.client.get(f"/api/analyses/{analysis_id}/artifacts")
    assert response.status_code == 200, response.text
    return {a["name"]: a for a in response.json()["artifacts"]}


def _download(s: Setup, analysis_id: str, name: str) -> httpx.Response:
    """The artifact through the API: complete, and as long as it says it is."""
    response = s.client.get(f"/api/analyses/{analysis_id}/artifacts/{name}")
    assert response.status_code == 200, response.text
    assert int(response.headers["content-length"]) == len(response.content)
    return response


def _assert_refused(response: httpx.Response) -> None:
    assert response.status_code in {403, 409}, response.text
    assert response.json()["detail"]


def test_a_put_after_finalize_is_refused_and_the_artifact_stays(local: Setup) -> None:
    analysis_id = _processing(local)
    url = _upload_url(local, analysis_id, "report.txt")
    assert http_put(url, content=ORIGINAL, headers=TEXT).status_code == 200
    _finalize(local, analysis_id)

    _assert_refused(http_put(url, content=REPLACEMENT, headers=TEXT))
    listed = _listed(local, analysis_id)["report.txt"]
    assert (listed["state"], listed["size_bytes"]) == ("uploaded", len(ORIGINAL))
    assert _download(local, analysis_id, "report.txt").content == ORIGINAL


def test_a_put_after_confirmation_is_refused_while_the_analysis_runs(local: Setup) -> None:
    analysis_id = _processing(local)
    url = _upload_url(local, analysis_id, "report.txt")
    assert http_put(url, content=ORIGINAL, headers=TEXT).status_code == 200
    assert _listed(local, analysis_id)["report.txt"]["state"] == "uploaded"

    _assert_refused(http_put(url, content=REPLACEMENT, headers=TEXT))
    assert local.client.get(f"/api/analyses/{analysis_id}").json()["status"] == "processing"
    assert _download(local, analysis_id, "report.txt").content == ORIGINAL
    # Presigning the name again is how a running analysis replaces an artifact.
    again = _upload_url(local, analysis_id, "report.txt")
    assert http_put(again, content=REPLACEMENT, headers=TEXT).status_code == 200
    assert _download(local, analysis_id, "report.txt").content == REPLACEMENT


def test_a_put_to_an_old_s3_url_after_finalize_changes_nothing(on_s3: Setup) -> None:
    analysis_id = _processing(on_s3)
    url = _upload_url(on_s3, analysis_id, "report.txt")
    never_sent = _upload_url(on_s3, analysis_id, "late.txt")
    assert http_put(url, content=ORIGINAL, headers=TEXT).status_code == 200
    _finalize(on_s3, analysis_id)

    # S3 answers these PUTs itself; they must not change what Lookout serves.
    http_put(url, content=REPLACEMENT, headers=TEXT)
    http_put(never_sent, content=REPLACEMENT, headers=TEXT)
    listed = _listed(on_s3, analysis_id)
    assert listed["report.txt"]["size_bytes"] == len(ORIGINAL)
    assert listed["late.txt"]["state"] == "pending"  # not uploaded when the analysis ended
    assert _download(on_s3, analysis_id, "report.txt").content == ORIGINAL
    link = on_s3.client.get(f"/api/analyses/{analysis_id}/artifacts/report.txt/url").json()
    assert http_get(link["url"]).content == ORIGINAL


def test_an_artifact_named_like_a_side_file_keeps_its_own_content_type(local: Setup) -> None:
    analysis_id = _processing(local)
    png, side = png_bytes(8, 8), b"text/html\r\nX-Injected: 1"
    png_url = _upload_url(local, analysis_id, "hx.png", "image/png")
    side_url = _upload_url(local, analysis_id, "hx.png.content-type")
    assert http_put(png_url, content=png, headers={"Content-Type": "image/png"}).is_success
    assert http_put(side_url, content=side, headers=TEXT).is_success
    _finalize(local, analysis_id)

    assert {a["state"] for a in _listed(local, analysis_id).values()} == {"uploaded"}
    expected = {"hx.png": (png, "image/png"), "hx.png.content-type": (side, "text/plain")}
    for name, (body, content_type) in expected.items():
        direct = _download(local, analysis_id, name)
        link = local.client.get(f"/api/analyses/{analysis_id}/artifacts/{name}/url").json()
        presigned = http_get(link["url"])
        for response in (direct, presigned):
            assert response.status_code == 200 and response.content == body
            assert response.headers["content-type"].split(";")[0] == content_type


def test_names_and_content_types_with_line_breaks_are_refused(local: Setup) -> None:
    analysis_id = _processing(local)
    cases = [
        ({"artifact_name": "x.png\n", "content_type": "image/png"}, "artifact_name"),
        ({"artifact_name": "x.png", "content_type": "image/png\n"}, "content_type"),
        ({"artifact_name": "x.png", "content_type": "image/png\r\n"}, "content_type"),
        ({"artifact_name": "x.png", "content_type": "text/html\r\nX-A: b"}, "content_type"),
    ]
    for artifact, field in cases:
        response = _presign(local, analysis_id, artifact)
        assert response.status_code == 400, (artifact, response.text)
        assert response.json()["field"] == f"artifacts[0].{field}", artifact
        assert f"artifacts[0].{field}" in response.json()["detail"]
    assert _listed(local, analysis_id) == {}


def test_a_size_mismatch_between_row_and_object_still_downloads_completely(
    local: Setup,
) -> None:
    analysis_id = _processing(local)
    url = _upload_url(local, analysis_id, "report.txt")
    assert http_put(url, content=ORIGINAL, headers=TEXT).status_code == 200
    _finalize(local, analysis_id)
    stored = local.lookout.settings.resolved_storage_path / "analyses" / analysis_id
    (stored / "artifacts" / "report.txt").write_bytes(REPLACEMENT)  # behind Lookout's back

    assert _listed(local, analysis_id)["report.txt"]["size_bytes"] == len(ORIGINAL)
    assert _download(local, analysis_id, "report.txt").content == REPLACEMENT
