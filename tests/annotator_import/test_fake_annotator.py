"""The fake pyro-annotator answers as the real one does where the importer depends on it."""

from __future__ import annotations

import httpx

from lookout.fake_annotator import demo_data_2025, start_fake_annotator
from tests.support import HTTP_TIMEOUT, http_get

API = "/api/v1"


def test_login_bearer_and_errors_as_pyro_annotator() -> None:
    with (
        start_fake_annotator() as fake,
        httpx.Client(timeout=HTTP_TIMEOUT, base_url=fake.url) as http,
    ):
        refused = http.post(f"{API}/auth/login", json={"username": "admin", "password": "x"})
        assert refused.status_code == 401
        assert refused.json() == {"detail": "Incorrect username or password"}
        assert refused.headers["www-authenticate"] == "Bearer"
        missing = http.get(f"{API}/sequences/")
        assert (missing.status_code, missing.json()) == (401, {"detail": "Not authenticated"})
        bad = http.get(f"{API}/sequences/", headers={"Authorization": "Bearer nope"})
        assert bad.json() == {"detail": "Could not validate credentials"}
        login = http.post(f"{API}/auth/login", json={"username": "alice", "password": "alice-pass"})
        assert login.json()["token_type"] == "bearer"
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert (
            http.get(f"{API}/sequences/", headers=headers, params={"size": 101}).status_code == 422
        )
        assert http.get(f"{API}/sequences/", headers=headers, params={"page": 0}).status_code == 422


def test_pages_and_shapes_as_pyro_annotator() -> None:
    with (
        start_fake_annotator() as fake,
        httpx.Client(timeout=HTTP_TIMEOUT, base_url=fake.url) as http,
    ):
        token = http.post(
            f"{API}/auth/login", json={"username": "admin", "password": "admin-pass"}
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        page = http.get(f"{API}/sequences/", params={"size": 2, "page": 3}).json()
        assert {k: page[k] for k in ("total", "page", "size", "pages")} == {
            "total": 5,
            "page": 3,
            "size": 2,
            "pages": 3,
        }
        assert len(page["items"]) == 1
        newest_first = http.get(f"{API}/sequences/").json()["items"]
        assert [s["alert_api_id"] for s in newest_first] == [9005, 9004, 9003, 9002, 9001]
        seq = newest_first[-1]
        assert seq["recorded_at"] == "2024-01-01T08:00:00Z"
        assert seq["is_wildfire_alertapi"] == "wildfire_smoke"
        ann = http.get(f"{API}/annotations/sequences/", params={"sequence_id": 1}).json()
        (item,) = ann["items"]
        assert item["contributors"] == [{"id": 2, "username": "alice"}]
        assert item["annotation"]["sequences_bbox"][0]["bboxes"][0] == {
            "detection_id": 1,
            "xyxyn": [0.1, 0.2, 0.3, 0.4],
        }
        dets = http.get(
            f"{API}/detections/", params={"sequence_id": 1, "order_by": "recorded_at"}
        ).json()
        assert [d["id"] for d in dets["items"]] == [3, 2, 1]  # desc by default
        url = http.get(f"{API}/detections/1/url").json()["url"]
        image = http_get(url)
        assert image.headers["content-type"] == "image/jpeg"
        assert image.content[:2] == b"\xff\xd8"
        det_ann = http.get(f"{API}/annotations/detections/", params={"sequence_id": 1}).json()
        assert det_ann["total"] == 3
        assert det_ann["items"][0]["annotation"]["annotation"][0]["smoke_type"] == "wildfire"


def test_the_2025_api_has_no_accounts() -> None:
    with (
        start_fake_annotator(demo_data_2025()) as fake,
        httpx.Client(timeout=HTTP_TIMEOUT, base_url=fake.url) as http,
    ):
        assert (
            http.post(f"{API}/auth/login", json={"username": "a", "password": "b"}).status_code
            == 404
        )
        items = http.get(f"{API}/sequences/").json()["items"]
        assert {type(s["is_wildfire_alertapi"]) for s in items} <= {bool, type(None)}
        ann = http.get(f"{API}/annotations/sequences/").json()["items"][0]
        assert "contributors" not in ann
        assert "smoke_type" not in ann["annotation"]["sequences_bbox"][0]
