"""VISTA's spellings of API paths (lookout/aliases.py): the /api-key and /api-ml prefixes are
the /api routes, checked the same way, and a trailing slash is served, never redirected.

Live servers on SQLite and PostgreSQL; the access matrix (tests/security) checks every route
under both prefixes and with a trailing slash for each kind of caller.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import time
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import Message, Scope

from lookout.aliases import PathAliases, unaliased
from lookout.app import create_app
from lookout.pipeline.signing import sign_request
from tests.analyses.ml_support import Setup, box, make_setup, raw_body_headers
from tests.conftest import HMAC_SECRET, make_settings
from tests.security.conftest import lift_auth_brake
from tests.support import Lookout, jpeg_bytes

PREFIXES = ("/api", "/api-key", "/api-ml")
PROXY_SECRET = "proxy-secret-for-prefixes"


@pytest.fixture
def ml(lookout: Lookout) -> Setup:
    """A user, a project and an image to analyze (as tests/analyses' fixture)."""
    return make_setup(lookout)


def _names(listing: Any) -> list[str]:
    items = listing["items"] if isinstance(listing, dict) and "items" in listing else listing
    return sorted(item["name"] for item in items)


def test_every_prefix_answers_like_api(lookout: Lookout) -> None:
    """Listing, creating and reading projects and uploading and reading images: the same
    answers under /api, /api-key and /api-ml, one set of objects behind them."""
    client = lookout.keyed_client("alice@example.org", "team")
    projects = {}
    for prefix in PREFIXES:
        created = client.post(f"{prefix}/projects", json={"name": "cams" + prefix[4:]})
        assert created.status_code == 201, (prefix, created.text)
        projects[prefix] = created.json()
    listings = [client.get(f"{prefix}/projects") for prefix in PREFIXES]
    assert [r.status_code for r in listings] == [200, 200, 200]
    assert listings[0].json() == listings[1].json() == listings[2].json()
    assert _names(listings[0].json()) == ["cams", "cams-key", "cams-ml"]

    project_id = projects["/api-key"]["id"]
    for i, prefix in enumerate(PREFIXES):
        # A multipart upload: the body limits see the canonical path too (else 415).
        files = {"file": ("frame.jpg", jpeg_bytes(64 + i, 48), "image/jpeg")}
        uploaded = client.post(f"{prefix}/projects/{project_id}/images", files=files)
        assert uploaded.status_code == 201, (prefix, uploaded.text)
        image = uploaded.json()
        answers = [client.get(f"{p}/images/{image['id']}") for p in PREFIXES]
        assert all(a.status_code == 200 for a in answers)
        assert answers[0].json() == answers[1].json() == answers[2].json()
        content = client.get(f"{prefix}/images/{image['id']}/content")
        assert content.status_code == 200 and content.content[:2] == b"\xff\xd8"
    # VISTA's scripts list a project's images under /api-key with a page size.
    page = client.get(f"/api-key/projects/{project_id}/images", params={"limit": 2})
    same = client.get(f"/api/projects/{project_id}/images", params={"limit": 2})
    assert page.status_code == 200 and page.json() == same.json()
    assert lookout.count("projects") == 3 and lookout.count("images") == 3


def test_unauthenticated_and_foreign_callers_refused_under_every_prefix(
    lookout: Lookout,
) -> None:
    """No credentials, a wrong key, or another group's key: refused under an alias exactly as
    under /api, and nothing is created."""
    lift_auth_brake(lookout)  # 24 refusals on purpose; the brake has a test of its own below
    owner = lookout.keyed_client("alice@example.org", "owners")
    project = lookout.create_project(owner, "private")
    anonymous = lookout.client()
    wrong = lookout.client({"X-API-Key": "lk_nope_nope"})
    outsider = lookout.keyed_client("mallory@example.org", "outsiders")
    answers: dict[str, list[tuple[int, Any]]] = {}
    for prefix in PREFIXES:
        for spelled in (f"{prefix}/projects", f"{prefix}/projects/"):
            got = [
                anonymous.get(spelled),
                anonymous.post(spelled, json={"name": "sneaky"}),
                wrong.get(spelled),
                wrong.post(spelled, json={"name": "sneaky"}),
                outsider.get(f"{prefix}/projects/{project['id']}"),
                outsider.delete(f"{prefix}/projects/{project['id']}"),
            ]
            answers[spelled] = [(r.status_code, r.json()) for r in got]
    expected = answers["/api/projects"]
    assert [code for code, _ in expected] == [401, 401, 401, 401, 404, 404]
    for spelled, got in answers.items():
        assert got == expected, spelled
    assert outsider.get("/api-ml/projects").json() == outsider.get("/api/projects").json()
    assert project["id"] not in outsider.get("/api-key/projects").text
    assert lookout.count("projects") == 1


def test_failed_authentication_brake_counts_every_prefix(lookout: Lookout) -> None:
    """Switching prefixes does not get a client past the brake on failed authentication."""
    wrong = lookout.client({"X-API-Key": "lk_nope_nope"})
    codes = [wrong.get(f"{PREFIXES[i % 3]}/projects").status_code for i in range(20)]
    assert codes == [401] * 20
    good = lookout.keyed_client("alice@example.org", "team")
    assert [good.get(f"{prefix}/projects").status_code for prefix in PREFIXES] == [429] * 3


def _vista_headers(body: bytes) -> dict[str, str]:
    """VISTA's pipelines' headers: `sha256=` HMAC of "{timestamp}." + body."""
    timestamp = str(int(time.time()))
    mac = hmac.new(HMAC_SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-ML-Timestamp": timestamp,
        "X-ML-Signature": f"sha256={mac.hexdigest()}",
    }


def test_signed_ml_callbacks_under_api_ml(ml: Setup) -> None:
    """A pipeline's steps under /api-ml: v1 and the document's legacy signatures accepted as
    under /api; a signature stays bound to what it signed, and is spent for every prefix."""
    s = ml
    analysis = s.client.post(
        f"/api-ml/images/{s.image_id}/analyses", json={"model_name": "yolo_v8"}
    )
    assert analysis.status_code == 201, analysis.text
    base = f"/api-ml/analyses/{analysis.json()['id']}"

    # v1 covers the path as sent: a signature of the /api spelling does not open /api-ml.
    body = json.dumps({"status": "processing"}).encode()
    of_api = sign_request(HMAC_SECRET, "PATCH", base.replace("/api-ml/", "/api/") + "/status", body)
    refused = s.raw.patch(
        f"{base}/status", content=body, headers={"Content-Type": "application/json", **of_api}
    )
    assert refused.status_code == 401, refused.text
    assert s.v1("PATCH", f"{base}/status", {"status": "processing"}).status_code == 200

    bulk = s.legacy("POST", f"{base}/annotations:bulk", {"annotations": [box()]})
    assert bulk.status_code == 201, bulk.text

    # A legacy signature spent under one prefix is a replay under another.
    headers = raw_body_headers(b'{"annotations":[]}')
    first = s.raw.post(f"{base}/annotations:bulk", content=b'{"annotations":[]}', headers=headers)
    assert first.status_code == 201, first.text
    for prefix in ("/api", "/api-key"):
        replay = s.raw.post(
            base.replace("/api-ml", prefix) + "/annotations:bulk",
            content=b'{"annotations":[]}',
            headers=headers,
        )
        assert replay.status_code == 401 and "replayed" in replay.text, replay.text

    # VISTA's own scheme (signature over timestamp and body, no path) under /api-ml, as its
    # pipelines send it; the same request again under another prefix is a replay.
    body = json.dumps({"annotations": [box(x=10)]}).encode()
    vista = _vista_headers(body)
    taken = s.raw.post(f"{base}/annotations:bulk", content=body, headers=vista)
    assert taken.is_success, taken.text
    for prefix in ("/api", "/api-key"):
        replay = s.raw.post(
            base.replace("/api-ml", prefix) + "/annotations:bulk", content=body, headers=vista
        )
        assert replay.status_code == 401 and "replayed" in replay.text, replay.text

    # An API key is no signature, under /api-ml as under /api.
    keyed = s.client.post(f"{base}/finalize", json={"status": "completed"})
    assert keyed.status_code == 401, keyed.text
    unsigned = s.raw.post(f"{base}/finalize", json={"status": "completed"})
    assert unsigned.status_code == 401, unsigned.text

    final = json.dumps({"status": "completed"}).encode()
    finalized = s.raw_signed("POST", f"{base}/finalize", final)
    assert finalized.status_code == 200, finalized.text
    read = s.client.get(base.replace("/api-ml/", "/api/")).json()
    assert (read["status"], read["annotations_total"]) == ("completed", 2)


def test_trailing_slash_post_creates_without_a_redirect(lookout: Lookout) -> None:
    """`POST /api/projects/` (and under the aliases) creates: 201, no Location to follow. curl,
    which does not follow a 307 for a POST, creates too."""
    key = lookout.user_with_key("alice@example.org", "team")
    client = lookout.client({"X-API-Key": key})
    for prefix in PREFIXES:
        created = client.post(f"{prefix}/projects/", json={"name": "slash" + prefix[4:]})
        assert created.status_code == 201, (prefix, created.text)
        assert "location" not in created.headers
        project_id = created.json()["id"]
        read = client.get(f"{prefix}/projects/{project_id}/")
        assert read.status_code == 200 and read.json()["id"] == project_id
        images = client.get(f"{prefix}/projects/{project_id}/images/", params={"limit": 2})
        assert images.status_code == 200, images.text

    curl = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "-H",
            f"X-API-Key: {key}",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps({"name": "by-curl"}),
            f"{lookout.url}/api-key/projects/",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert curl.stdout == "201", curl.stderr
    assert lookout.count("projects") == 4


def test_web_pages_and_static_files_with_and_without_a_slash(lookout: Lookout) -> None:
    """Web pages answer with a trailing slash too; `/` and static files are as before."""
    client = lookout.keyed_client("alice@example.org", "team")
    for page in ("/projects", "/sequences", "/sequences/queue", "/reviewers"):
        bare, slashed = client.get(page), client.get(page + "/")
        assert bare.status_code == slashed.status_code == 200, (page, slashed.status_code)
        assert slashed.headers["content-type"].startswith("text/html")
    home = client.get("/")
    assert (home.status_code, home.headers["location"]) == (303, "/projects")
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/apidocs/static/swagger-ui.css").status_code == 200
    for missing in ("/static", "/static/", "/api-keys/projects", "/api-ml-x/projects"):
        assert client.get(missing).status_code == 404, missing


def test_local_mode_and_cross_site_rules_hold_under_the_aliases(
    lookout_factory: Any,
) -> None:
    """Local mode answers loopback host names only, and browser credentials (local mode,
    proxy headers) may not write cross-site: under /api-key and /api-ml as under /api."""
    local = lookout_factory(LOOKOUT_LOCAL_MODE=True, PROXY_SECRET=PROXY_SECRET)
    client = local.client()
    proxy = {"X-User-Email": "bob@example.org", "X-Proxy-Secret": PROXY_SECRET}
    for prefix in PREFIXES:
        for path in (f"{prefix}/projects", f"{prefix}/projects/"):
            rebound = client.get(path, headers={"Host": "evil.example"})
            assert rebound.status_code == 421, (path, rebound.text)
            for headers in ({}, proxy):
                for label in (
                    {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": "https://evil.example"},
                    {"Origin": "null"},
                ):
                    sent = client.post(path, json={"name": "csrf"}, headers={**headers, **label})
                    assert sent.status_code == 403 and "cross-site" in sent.text, (path, label)
            twice = client.get(path, headers=[("X-API-Key", "a"), ("X-API-Key", "b")])
            assert twice.status_code == 400, twice.text
        same_origin = {"Origin": local.url, "Sec-Fetch-Site": "same-origin"}
        made = client.post(
            f"{prefix}/projects/", json={"name": "p" + prefix[4:]}, headers=same_origin
        )
        assert made.status_code == 201, made.text
    assert local.count("projects") == 3


def test_body_limits_apply_under_the_aliases(lookout_factory: Any) -> None:
    """The request size limit and the JSON-only rule are the same under every prefix."""
    small = lookout_factory(LOOKOUT_MAX_REQUEST_BYTES=1024)
    client = small.keyed_client("alice@example.org", "team")
    for prefix in PREFIXES:
        big = client.post(f"{prefix}/projects/", json={"name": "x" * 2048})
        assert big.status_code == 413, (prefix, big.text)
        form = client.post(f"{prefix}/projects", data={"name": "form"})
        assert form.status_code == 415, (prefix, form.text)
    assert small.count("projects") == 0


def test_one_route_table_and_one_api_document(tmp_path: Any) -> None:
    """The aliases are no routes of their own: the route table and /openapi.json list /api
    only, and the document's description names the aliases."""
    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'routes.db'}"))
    spec = app.openapi()
    paths = list(spec["paths"])
    assert paths and not [p for p in paths if p.startswith(("/api-key", "/api-ml"))]
    assert not [p for p in paths if p != "/" and p.endswith("/")]
    assert "`/api-key/`" in spec["info"]["description"]
    assert "`/api-ml/`" in spec["info"]["description"]


# --- the rewrite itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("/api-key/projects", "/api/projects"),
        ("/api-ml/analyses/x/status", "/api/analyses/x/status"),
        ("/api-key", "/api"),
        ("/api/projects", "/api/projects"),
        ("/api-keys/projects", "/api-keys/projects"),
        ("/api-mlx", "/api-mlx"),
        ("/projects/api-key/x", "/projects/api-key/x"),
        ("/storage/objects/api-ml/x", "/storage/objects/api-ml/x"),
    ],
)
def test_unaliased(path: str, canonical: str) -> None:
    assert unaliased(path) == canonical


async def _ok(_request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _seen(path: str, root_path: str = "") -> Scope:
    """The scope the app behind PathAliases gets for a request to `path`."""
    seen: list[Scope] = []

    async def inner(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(scope)

    routes = [Route("/api/projects", _ok, methods=["POST"]), Mount("/files", Starlette())]
    app = PathAliases(inner, routes=routes)
    raw = (root_path + path).encode()
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": root_path + path,
        "raw_path": raw,
        "root_path": root_path,
        "query_string": b"",
        "headers": [],
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(_message: Message) -> None:
        return None

    # Nothing here suspends: drive the coroutine to its end without an event loop (a test
    # session may already run one in this thread).
    with pytest.raises(StopIteration):
        app(scope, receive, send).send(None)
    assert seen[0]["raw_path"] == raw  # the client's spelling, for signatures and logs
    return seen[0]


def test_rewrite_keeps_the_root_path_and_the_raw_path() -> None:
    assert _seen("/api-key/projects/")["path"] == "/api/projects"
    assert _seen("/api-ml/projects/", "/lookout")["path"] == "/lookout/api/projects"
    assert _seen("/api/projects//")["path"] == "/api/projects"
    assert _seen("/files/")["path"] == "/files/"  # a mount answers it as spelled
    assert _seen("/nothing/")["path"] == "/nothing/"  # nothing answers either spelling
    assert _seen("/")["path"] == "/"


def test_client_spelling_reaches_the_signature_check(ml: Setup) -> None:
    """v1 signs the path as sent, slash and prefix included; the server checks that spelling."""
    s = ml
    analysis_id = s.create_analysis()["id"]
    path = f"/api-ml/analyses/{analysis_id}/status/"
    assert s.v1("PATCH", path, {"status": "processing"}).status_code == 200
    other = f"/api-ml/analyses/{analysis_id}/status"
    body = json.dumps({"status": "queued"}).encode()
    signed_slashed = sign_request(HMAC_SECRET, "PATCH", path, body)
    sent_bare = s.raw.patch(
        other, content=body, headers={"Content-Type": "application/json", **signed_slashed}
    )
    assert sent_bare.status_code == 401, sent_bare.text
