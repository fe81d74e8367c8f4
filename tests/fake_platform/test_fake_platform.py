"""The fake Pyronear alert platform, exercised over real HTTP on loopback."""

from __future__ import annotations

import ast
import copy
import dataclasses
import io
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from PIL import Image

from lookout.fake_platform import (
    FakePlatformConfig,
    RunningFakePlatform,
    expected,
    generate,
    start_fake_platform,
)
from lookout.fake_platform.__main__ import parse_args
from lookout.fake_platform.data import render_jpeg
from lookout.fake_platform.server import describe
from tests.support import http_get, http_post

SEED = 11
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]
API = "/api/v1"
# A platform large enough for more than one page of sequences and of detections.
BIG = FakePlatformConfig(
    seed=5,
    organizations=2,
    cameras_per_org=3,
    days=["2024-07-14", "2024-07-15"],
    sequences_per_camera_per_day=7,
    detections_per_sequence=12,
    image_size=(320, 240),
)


@pytest.fixture(scope="module")
def _default_server() -> Iterator[RunningFakePlatform]:
    with start_fake_platform(FakePlatformConfig(seed=SEED)) as running:
        yield running


@pytest.fixture(scope="module")
def big() -> Iterator[RunningFakePlatform]:
    with start_fake_platform(copy.deepcopy(BIG)) as running:
        yield running


@pytest.fixture
def fp(_default_server: RunningFakePlatform) -> Iterator[RunningFakePlatform]:
    """The default server, with config and counters restored after each test."""
    saved = copy.deepcopy(_default_server.config)
    _default_server.stats.reset()
    _default_server.state.reseed_faults()
    yield _default_server
    for f in dataclasses.fields(saved):
        setattr(_default_server.config, f.name, getattr(saved, f.name))


def client(fp: RunningFakePlatform, **kw: object) -> httpx.Client:
    """A client on the fake platform."""
    return httpx.Client(base_url=fp.url, timeout=kw.pop("timeout", 5.0), **kw)  # type: ignore[arg-type]


def login(fp: RunningFakePlatform, user: str = "org1-user") -> dict[str, str]:
    """Bearer headers for a demo user."""
    password = fp.config.users[user][0]
    r = http_post(f"{fp.url}{API}/login/creds", data={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def all_sequences(c: httpx.Client, headers: dict[str, str], day: str, limit: int) -> list[dict]:
    """Page through fromdate until a short page."""
    out: list[dict] = []
    while True:
        r = c.get(
            f"{API}/sequences/all/fromdate",
            params={"from_date": day, "limit": limit, "offset": len(out)},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        out.extend(r.json())
        if len(r.json()) < limit:
            return out


def camera_orgs(c: httpx.Client, admin: dict[str, str]) -> dict[int, int]:
    """camera id -> organization id."""
    return {
        cam["id"]: cam["organization_id"] for cam in c.get(f"{API}/cameras/", headers=admin).json()
    }


def parse_boxes(text: str) -> list[tuple[float, ...]]:
    """Parse a bbox string safely and check its shape."""
    boxes = ast.literal_eval(text)
    assert isinstance(boxes, list)
    for box in boxes:
        assert isinstance(box, tuple) and len(box) == 5
        assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in box)
        assert all(round(v, 3) == v for v in box)
        assert box[0] <= box[2] and box[1] <= box[3]
    return boxes


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# ---------------------------------------------------------------- auth


def test_login_ok_and_bad(fp: RunningFakePlatform) -> None:
    with client(fp) as c:
        ok = c.post(f"{API}/login/creds", data={"username": "admin", "password": "admin-pass"})
        bad = c.post(f"{API}/login/creds", data={"username": "admin", "password": "nope"})
        unknown = c.post(f"{API}/login/creds", data={"username": "ghost", "password": "x"})
        missing = c.post(f"{API}/login/creds", data={"username": "admin"})
    assert ok.status_code == 200
    assert ok.json()["token_type"] == "bearer"
    assert ok.json()["access_token"].count(".") == 2  # JWT-shaped
    assert bad.status_code == unknown.status_code == 401
    assert bad.json() == {"detail": "Invalid credentials."}
    assert missing.status_code == 422


def test_missing_or_invalid_bearer_is_401(fp: RunningFakePlatform) -> None:
    with client(fp) as c:
        none = c.get(f"{API}/cameras/")
        junk = c.get(f"{API}/cameras/", headers={"Authorization": "Bearer a.b.c"})
    assert none.status_code == junk.status_code == 401
    assert junk.json() == {"detail": "Could not validate credentials."}


def test_token_expiry_and_relogin(fp: RunningFakePlatform) -> None:
    headers = login(fp)
    with client(fp) as c:
        assert c.get(f"{API}/cameras/", headers=headers).status_code == 200
        fp.config.token_ttl_s = 0.2
        time.sleep(0.3)
        expired = c.get(f"{API}/cameras/", headers=headers)
        again = c.get(f"{API}/cameras/", headers=login(fp))
    assert expired.status_code == 401
    assert expired.json() == {"detail": "Could not validate credentials."}
    assert again.status_code == 200
    assert fp.stats.snapshot()["faults"]["expired_token"] == 1


def test_revoked_tokens_get_401(fp: RunningFakePlatform) -> None:
    headers = login(fp)
    fp.revoke_tokens()
    with client(fp) as c:
        assert c.get(f"{API}/cameras/", headers=headers).status_code == 401
        assert c.get(f"{API}/cameras/", headers=login(fp)).status_code == 200


# ---------------------------------------------------------------- cameras, organizations


def test_cameras_scoped_by_role(fp: RunningFakePlatform) -> None:
    with client(fp) as c:
        every = c.get(f"{API}/cameras/", headers=login(fp, "admin")).json()
        org2 = c.get(f"{API}/cameras/", headers=login(fp, "org2-user")).json()
    assert len(every) == 4
    assert [cam["organization_id"] for cam in org2] == [2, 2]
    fields = {
        "id",
        "organization_id",
        "name",
        "angle_of_view",
        "elevation",
        "lat",
        "lon",
        "is_trustable",
        "last_active_at",
        "last_image",
        "created_at",
        "last_image_url",
    }
    assert all(set(cam) == fields for cam in every)
    assert all(cam["last_image_url"].startswith(fp.url + "/storage/") for cam in every)


def test_organizations_admin_only(fp: RunningFakePlatform) -> None:
    with client(fp) as c:
        orgs = c.get(f"{API}/organizations/", headers=login(fp, "admin"))
        agent = c.get(f"{API}/organizations/", headers=login(fp, "org1-user"))
    assert orgs.status_code == 200
    assert [o["id"] for o in orgs.json()] == [1, 2]
    assert all(set(o) == {"id", "name", "telegram_id", "slack_hook"} for o in orgs.json())
    assert agent.status_code == 403


# ---------------------------------------------------------------- sequences


def test_fromdate_scoped_to_token_org_even_for_admin(fp: RunningFakePlatform) -> None:
    exp = expected(fp.config)
    admin, org2 = login(fp, "admin"), login(fp, "org2-user")
    with client(fp) as c:
        owner = camera_orgs(c, admin)
        for day in DAYS:
            mine = all_sequences(c, admin, day, 15)
            theirs = all_sequences(c, org2, day, 15)
            assert {owner[s["camera_id"]] for s in mine} == {1}
            assert {owner[s["camera_id"]] for s in theirs} == {2}
            assert len(mine) == exp.sequences_per_org_per_day[1][day]
            assert len(theirs) == exp.sequences_per_org_per_day[2][day]
            assert all(s["started_at"].startswith(day) for s in mine + theirs)


def test_sequence_fields(fp: RunningFakePlatform) -> None:
    with client(fp) as c:
        seqs = all_sequences(c, login(fp), DAYS[0], 15)
    assert seqs
    for s in seqs:
        assert 0 <= s["azimuth"] < 360
        assert s["is_wildfire"] in (None, True, False)
        assert s["last_seen_at"] > s["started_at"]
        assert {"id", "camera_id", "cone_azimuth", "cone_angle"} <= set(s)


def test_fromdate_paging_and_default_limit(big: RunningFakePlatform) -> None:
    exp = expected(big.config)
    headers = login(big)
    day = "2024-07-14"
    with client(big) as c:
        first = c.get(f"{API}/sequences/all/fromdate", params={"from_date": day}, headers=headers)
        paged = all_sequences(c, headers, day, 4)
        empty = c.get(
            f"{API}/sequences/all/fromdate", params={"from_date": "2030-01-01"}, headers=headers
        )
    assert exp.sequences_per_org_per_day[1][day] == 21
    assert len(first.json()) == 15
    assert len(paged) == 21
    assert len({s["id"] for s in paged}) == 21
    starts = [s["started_at"] for s in paged]
    assert starts == sorted(starts, reverse=True)  # newest first
    assert [s["id"] for s in paged[:15]] == [s["id"] for s in first.json()]
    assert empty.json() == []


def test_default_page_limit_is_configurable(big: RunningFakePlatform) -> None:
    headers = login(big)
    big.config.default_page_limit = 6
    try:
        with client(big) as c:
            r = c.get(
                f"{API}/sequences/all/fromdate", params={"from_date": "2024-07-15"}, headers=headers
            )
    finally:
        big.config.default_page_limit = 15
    assert len(r.json()) == 6


@pytest.mark.parametrize(
    "params",
    [
        {"from_date": "2024-13-01"},
        {"from_date": "yesterday"},
        {},
        {"from_date": "2024-01-01", "limit": 0},
        {"from_date": "2024-01-01", "offset": -1},
        {"from_date": "2024-01-01", "limit": "ten"},
    ],
)
def test_fromdate_bad_params_422(fp: RunningFakePlatform, params: dict) -> None:
    with client(fp) as c:
        r = c.get(f"{API}/sequences/all/fromdate", params=params, headers=login(fp))
    assert r.status_code == 422


def test_sequence_by_id_access(fp: RunningFakePlatform) -> None:
    org1, org2, admin = login(fp, "org1-user"), login(fp, "org2-user"), login(fp, "admin")
    with client(fp) as c:
        sid = all_sequences(c, org1, DAYS[0], 15)[0]["id"]
        own = c.get(f"{API}/sequences/{sid}", headers=org1)
        other = c.get(f"{API}/sequences/{sid}", headers=org2)
        other_dets = c.get(f"{API}/sequences/{sid}/detections", headers=org2)
        as_admin = c.get(f"{API}/sequences/{sid}", headers=admin)
        unknown = c.get(f"{API}/sequences/99999", headers=org1)
        zero = c.get(f"{API}/sequences/0", headers=org1)
    assert own.status_code == 200 and own.json()["id"] == sid
    assert other.status_code == other_dets.status_code == 403
    assert as_admin.status_code == 200  # admins read any object by id, as pyro-api does
    assert unknown.status_code == 404
    assert zero.status_code == 422


# ---------------------------------------------------------------- detections


def test_detections_limit_and_order(big: RunningFakePlatform) -> None:
    headers = login(big)
    with client(big) as c:
        sid = all_sequences(c, headers, "2024-07-14", 15)[0]["id"]
        url = f"{API}/sequences/{sid}/detections"
        default = c.get(url, headers=headers).json()
        asc = c.get(url, params={"desc": "false", "limit": 100}, headers=headers).json()
        three = c.get(url, params={"limit": 3}, headers=headers).json()
        too_many = c.get(url, params={"limit": 101}, headers=headers)
        too_few = c.get(url, params={"limit": 0}, headers=headers)
    assert len(default) == 10
    assert len(asc) == 12
    created = [d["created_at"] for d in asc]
    assert created == sorted(created)
    assert [d["id"] for d in default] == [d["id"] for d in reversed(asc)][:10]
    assert [d["id"] for d in three] == [d["id"] for d in default[:3]]
    assert too_many.status_code == too_few.status_code == 422
    assert all(d["sequence_id"] == sid for d in asc)


def test_bboxes_strings_parse_safely(fp: RunningFakePlatform) -> None:
    exp = expected(fp.config)
    headers = login(fp)
    boxes_seen, counts = 0, []
    with client(fp) as c:
        for day in DAYS:
            for s in all_sequences(c, headers, day, 15):
                dets = c.get(
                    f"{API}/sequences/{s['id']}/detections", params={"limit": 100}, headers=headers
                ).json()
                counts.append(len(dets))
                for d in dets:
                    assert isinstance(d["bboxes"], str) and " " not in d["bboxes"]
                    boxes = parse_boxes(d["bboxes"])
                    assert len(boxes) <= 5
                    boxes_seen += len(boxes)
                    assert {"azimuth", "bucket_key", "url", "camera_id"} <= set(d)
    assert boxes_seen == exp.boxes_per_org[1]
    assert sum(counts) == exp.detections_per_org[1]


def test_edge_cases_exist_in_generated_data() -> None:
    exp = expected(FakePlatformConfig(seed=SEED))
    assert exp.empty_detections >= 1
    assert exp.zero_area_boxes >= 1
    data = generate(FakePlatformConfig(seed=SEED))
    assert max(len(d.boxes) for d in data.detections.values()) == 5


def test_boxes_drift_along_a_track(big: RunningFakePlatform) -> None:
    headers = login(big)
    pairs = overlapping = 0
    with client(big) as c:
        for s in all_sequences(c, headers, "2024-07-14", 15)[:6]:
            dets = c.get(
                f"{API}/sequences/{s['id']}/detections",
                params={"limit": 100, "desc": "false"},
                headers=headers,
            ).json()
            frames = [parse_boxes(d["bboxes"]) for d in dets]
            frames = [f for f in frames if f]
            for prev, nxt in zip(frames, frames[1:], strict=False):
                pairs += 1
                overlapping += max(iou(a, b) for a in prev for b in nxt) > 0.3
    assert pairs > 20
    assert overlapping / pairs > 0.8


def test_detection_url_and_jpeg(big: RunningFakePlatform) -> None:
    headers = login(big)
    with client(big) as c:
        sid = all_sequences(c, headers, "2024-07-15", 15)[0]["id"]
        det = c.get(f"{API}/sequences/{sid}/detections", headers=headers).json()[0]
        url = c.get(f"{API}/detections/{det['id']}/url", headers=headers).json()["url"]
        other = c.get(f"{API}/detections/{det['id']}/url", headers=login(big, "org2-user"))
        unknown = c.get(f"{API}/detections/999999/url", headers=headers)
        image = http_get(url)
        again = http_get(det["url"])
    assert url.startswith(big.url + "/storage/") and "X-Amz-Signature=" in url
    assert "X-Amz-Expires=86400" in url
    assert other.status_code == 403 and unknown.status_code == 404
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content == again.content  # deterministic frame
    img = Image.open(io.BytesIO(image.content))
    assert img.format == "JPEG" and img.size == (320, 240)


def test_plume_is_drawn_where_the_box_is() -> None:
    cfg = FakePlatformConfig(seed=SEED)
    data = generate(cfg)
    det = next(d for d in data.detections.values() if d.track_index is not None)
    jpeg = render_jpeg(data.cameras[det.camera_id], det, cfg.image_size, cfg.seed)
    img = Image.open(io.BytesIO(jpeg)).convert("RGB")
    w, h = img.size
    cx, cy = (det.plume[0] + det.plume[2]) / 2, (det.plume[1] + det.plume[3]) / 2
    far_x = 0.95 if cx < 0.5 else 0.05

    def greyness(x: float) -> float:
        r, g, b = img.getpixel((int(x * w), int(cy * h)))
        return abs(r - 188) + abs(g - 188) + abs(b - 192)

    assert greyness(cx) < greyness(far_x)


def test_presigned_url_is_checked(fp: RunningFakePlatform) -> None:
    headers = login(fp)
    with client(fp) as c:
        url = c.get(f"{API}/detections/1/url", headers=headers).json()["url"]
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query)) | {"X-Amz-Signature": "0" * 64}
        tampered = http_get(f"{fp.url}{parts.path}?{urlencode(query)}")
        fp.config.url_ttl_s = 0
        stale = c.get(f"{API}/detections/1/url", headers=headers).json()["url"]
    assert http_get(url).status_code == 200
    assert tampered.status_code == 403
    assert http_get(stale).status_code == 403


def test_broken_image_is_404(fp: RunningFakePlatform) -> None:
    headers = login(fp)
    with client(fp) as c:
        sid = all_sequences(c, headers, DAYS[1], 15)[0]["id"]
        dets = c.get(f"{API}/sequences/{sid}/detections", headers=headers).json()
        fp.config.broken_image_detection_ids = {dets[0]["id"]}
        broken = http_get(dets[0]["url"])
        fine = http_get(dets[1]["url"])
        listing = c.get(f"{API}/sequences/{sid}/detections", headers=headers)
        fp.config.broken_image_breaks_list = True
        broken_listing = c.get(f"{API}/sequences/{sid}/detections", headers=headers)
    assert broken.status_code == 404 and b"NoSuchKey" in broken.content
    assert fine.status_code == 200
    assert listing.status_code == 200
    assert broken_listing.status_code == 404
    assert fp.stats.snapshot()["faults"]["broken_image"] == 1


# ---------------------------------------------------------------- faults


def test_error_rate_gives_5xx_and_spares_login(fp: RunningFakePlatform) -> None:
    fp.config.error_rate = 1.0
    headers = login(fp)  # login is exempt by default
    with client(fp) as c:
        statuses = [c.get(f"{API}/cameras/", headers=headers).status_code for _ in range(12)]
    faults = fp.stats.snapshot()["faults"]
    assert set(statuses) <= {500, 502, 503} and len(set(statuses)) >= 2
    assert faults["error"] == 12
    assert sum(faults.get(f"error_{s}", 0) for s in (500, 502, 503)) == 12


def test_faults_on_login_flag(fp: RunningFakePlatform) -> None:
    fp.config.error_rate = 1.0
    fp.config.faults_on_login = True
    r = http_post(
        f"{fp.url}{API}/login/creds", data={"username": "admin", "password": "admin-pass"}
    )
    assert r.status_code in (500, 502, 503)


def test_error_rate_is_deterministic(fp: RunningFakePlatform) -> None:
    headers = login(fp)
    fp.config.error_rate = 0.5

    def run() -> list[int]:
        fp.state.reseed_faults()
        with client(fp) as c:
            return [c.get(f"{API}/cameras/", headers=headers).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert 200 in first and any(s >= 500 for s in first)


def test_rate_limit_has_retry_after(fp: RunningFakePlatform) -> None:
    fp.config.rate_limit_rate = 1.0
    fp.config.retry_after_s = 3
    with client(fp) as c:
        r = c.get(f"{API}/cameras/", headers=login(fp))
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "3"
    assert fp.stats.snapshot()["faults"]["rate_limit"] == 1


def test_timeout_hangs_then_answers(fp: RunningFakePlatform) -> None:
    headers = login(fp)
    fp.config.timeout_rate = 1.0
    fp.config.timeout_hang_s = 5.0
    with client(fp, timeout=0.3) as c, pytest.raises(httpx.ReadTimeout):
        c.get(f"{API}/cameras/", headers=headers)
    fp.config.timeout_hang_s = 0.3
    started = time.monotonic()
    with client(fp) as c:
        late = c.get(f"{API}/cameras/", headers=headers)
    assert late.status_code == 200
    assert time.monotonic() - started >= 0.3
    assert fp.stats.snapshot()["faults"]["timeout"] == 2


def test_drop_closes_without_answer(fp: RunningFakePlatform) -> None:
    headers = login(fp)
    fp.config.drop_rate = 1.0
    with client(fp) as c, pytest.raises(httpx.RemoteProtocolError):
        c.get(f"{API}/cameras/", headers=headers)
    assert fp.stats.snapshot()["faults"]["drop"] == 1


def test_latency_is_added(fp: RunningFakePlatform) -> None:
    headers = login(fp)
    fp.config.latency_s = 0.25
    started = time.monotonic()
    with client(fp) as c:
        r = c.get(f"{API}/cameras/", headers=headers)
    assert r.status_code == 200
    assert time.monotonic() - started >= 0.25
    assert fp.stats.snapshot()["faults"]["latency"] == 1


def test_fault_paths_filter(fp: RunningFakePlatform) -> None:
    headers = login(fp)
    fp.config.error_rate = 1.0
    fp.config.fault_paths = ("/storage",)
    with client(fp) as c:
        api = c.get(f"{API}/detections/1/url", headers=headers)
        image = http_get(api.json()["url"])
    assert api.status_code == 200
    assert image.status_code >= 500


def test_request_counters_by_template(fp: RunningFakePlatform) -> None:
    headers = login(fp)
    with client(fp) as c:
        for sid in (1, 2, 3):
            c.get(f"{API}/sequences/{sid}", headers=headers)
        c.get("/nowhere")
    requests = fp.stats.snapshot()["requests"]
    assert requests[f"{API}/sequences/{{sequence_id}}"] == 3
    assert requests[f"{API}/login/creds"] == 1
    assert requests["<unmatched>"] == 1


def test_missing_and_renamed_fields(fp: RunningFakePlatform) -> None:
    fp.config.omit_fields = {"sequences": {"cone_angle"}}
    fp.config.rename_fields = {"sequences": {"started_at": "startedAt"}}
    with client(fp) as c:
        seq = c.get(f"{API}/sequences/1", headers=login(fp, "admin")).json()
    assert "cone_angle" not in seq
    assert "startedAt" in seq and "started_at" not in seq


# ---------------------------------------------------------------- later schema


def test_later_schema_fields_and_paging(fp: RunningFakePlatform) -> None:
    fp.config.schema = "later"
    exp = expected(fp.config)
    headers = login(fp)
    with client(fp) as c:
        seqs = all_sequences(c, headers, DAYS[0], 15)
        s = seqs[0]
        url = f"{API}/sequences/{s['id']}/detections"
        dets = c.get(url, params={"limit": 100, "desc": "false"}, headers=headers).json()
        pages = [
            c.get(url, params={"limit": 2, "offset": o, "desc": "false"}, headers=headers).json()
            for o in range(0, 6, 2)
        ]
    later = {"camera_azimuth", "sequence_azimuth", "cone_angle", "pose_id", "max_conf"}
    assert all(later | {"temporal_model_score"} <= set(q) for q in seqs)
    assert all(q["is_wildfire"] in (None, "wildfire_smoke", "other_smoke", "other") for q in seqs)
    assert len(dets) == exp.detections_per_sequence[s["id"]]
    assert [d["id"] for page in pages for d in page] == [d["id"] for d in dets]
    for d in dets:
        assert "bboxes" not in d and "azimuth" not in d
        assert len(parse_boxes(d["bbox"])) <= 1  # none: a continuity row
        assert d["others_bboxes"] is None or len(parse_boxes(d["others_bboxes"])) >= 1
        assert d["recorded_at"] < d["created_at"]
    assert max(b[4] for d in dets for b in parse_boxes(d["bbox"])) <= s["max_conf"]


def _rows_by_sequence(fp: RunningFakePlatform, schema: str) -> dict[int, list[dict]]:
    """Every sequence of organization 1 with its detection rows, as the platform lists them."""
    fp.config.schema = schema  # type: ignore[assignment]
    headers = login(fp)
    with client(fp) as c:
        out = {}
        for day in DAYS:
            for seq in all_sequences(c, headers, day, 15):
                url = f"{API}/sequences/{seq['id']}/detections"
                params = {"limit": 100, "desc": "false"}
                out[seq["id"]] = c.get(url, params=params, headers=headers).json()
    return out


def test_later_schema_one_sequence_per_object_sharing_frames(fp: RunningFakePlatform) -> None:
    """Since 2026 a frame of N boxes is N rows, one per object's sequence, sharing the image;
    a frame without the sequence's object is a continuity row (`bbox "[]"`); no zero-area
    box exists. The 2025 schema shows the same frames as one row each, all boxes inside."""
    old, new = _rows_by_sequence(fp, "2025"), _rows_by_sequence(fp, "later")
    siblings = set(new) - set(old)
    assert siblings and set(old) <= set(new)
    frame_of = {d["bucket_key"]: d for rows in old.values() for d in rows}
    later_rows = [d for rows in new.values() for d in rows]
    rows_of_image: dict[str, list[dict]] = {}
    for d in later_rows:
        rows_of_image.setdefault(d["bucket_key"], []).append(d)
    # Every later row's boxes are exactly its frame's boxes of non-zero area, split into the
    # row's own object and the others.
    for d in later_rows:
        own, others = parse_boxes(d["bbox"]), parse_boxes(d["others_bboxes"] or "[]")
        frame = [b for b in parse_boxes(frame_of[d["bucket_key"]]["bboxes"]) if b[0] < b[2]]
        assert sorted(own + others) == sorted(b for b in frame if b[1] < b[3])
    # A sibling's rows share their images with another sequence, whose rows list the
    # sibling's object among their others.
    for sid in siblings:
        for d in new[sid]:
            mates = [m for m in rows_of_image[d["bucket_key"]] if m["sequence_id"] != sid]
            assert mates
            for box in parse_boxes(d["bbox"]):
                assert all(box in parse_boxes(m["others_bboxes"] or "[]") for m in mates)
    assert any(d["bbox"] == "[]" for d in later_rows)  # continuity rows
    # Ids of the 2025 rows are kept; the siblings' rows come after them.
    assert {d["id"] for rows in old.values() for d in rows} < {d["id"] for d in later_rows}
    fp.config.schema = "2025"
    with client(fp) as c:
        sibling = c.get(f"{API}/sequences/{min(siblings)}", headers=login(fp))
    assert sibling.status_code == 404


def test_later_schema_counts() -> None:
    cfg = FakePlatformConfig(seed=SEED)
    old, new = expected(cfg, "2025"), expected(cfg, "later")
    data = generate(cfg)
    assert new.sequences_total == old.sequences_total + len(data.siblings)
    assert new.detections_total == old.detections_total + len(data.later_rows)
    assert new.zero_area_boxes == 0 < old.zero_area_boxes  # the later platform refuses them
    assert new.empty_detections >= old.empty_detections  # continuity rows without others


# ---------------------------------------------------------------- data, CLI


def test_generation_is_deterministic() -> None:
    a, b = generate(FakePlatformConfig(seed=3)), generate(FakePlatformConfig(seed=3))
    c = generate(FakePlatformConfig(seed=4))
    assert a == b
    assert a.sequences != c.sequences


def test_expected_counts_follow_config() -> None:
    cfg = FakePlatformConfig(
        organizations=3, cameras_per_org=2, days=["2024-02-01"], sequences_per_camera_per_day=3
    )
    exp = expected(cfg)
    assert exp.sequences_per_org_per_day == {o: {"2024-02-01": 6} for o in (1, 2, 3)}
    assert exp.sequences_total == 18
    assert exp.detections_total == 18 * cfg.detections_per_sequence


def test_cli_arguments() -> None:
    host, port, config = parse_args(
        ["--port", "9000", "--error-rate", "0.2", "--schema", "later", "--image-size", "320x240"]
    )
    cfg = FakePlatformConfig(**config)
    assert (host, port) == ("127.0.0.1", 9000)
    assert cfg.error_rate == 0.2 and cfg.schema == "later" and cfg.image_size == (320, 240)
    text = describe("http://127.0.0.1:9000", cfg)
    assert "org1-user / org1-pass" in text and "admin / admin-pass" in text
