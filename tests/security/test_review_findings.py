"""Holes an outside security review found: each case tried again the way it was found.

Local mode answering any Host (DNS rebinding) or any client, other groups' rows found and
blocked by source id, lone surrogates and bodies not declared as JSON, and credential
headers sent twice.
"""

from __future__ import annotations

import json

import httpx
import pytest

from lookout.app import create_app
from tests.analyses.ml_support import box, make_setup
from tests.conftest import make_settings
from tests.reliability.record import record
from tests.support import run_async

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


# --- 2. local mode serves this machine only ----------------------------------------------


@BOTH
def test_local_mode_refuses_other_host_names_before_any_route(lookout_factory):
    lookout = lookout_factory(LOOKOUT_LOCAL_MODE=True, LOOKOUT_LOCAL_HOSTS="lookout.lan")
    client = lookout.client()
    port = lookout.server.port
    refused = [
        f"rebind.test:{port}",
        "rebind.test",
        f"127.0.0.1.nip.io:{port}",
        "evil.localhost.test",
    ]
    for host in refused:
        answer = client.post("/api/projects", json={"name": host}, headers={"Host": host})
        assert answer.status_code == 421, (host, answer.text)
        assert answer.json()["field"] == "host"
    assert lookout.count("projects") == 0
    assert lookout.count("users") == 0  # not even the local admin was made
    allowed = [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "lookout.lan"]
    for index, host in enumerate(allowed):
        answer = client.post("/api/projects", json={"name": f"p{index}"}, headers={"Host": host})
        assert answer.status_code == 201, (host, answer.text)
    assert lookout.count("projects") == len(allowed)
    record(
        f"local mode: host names ({lookout.backend})",
        refused=len(refused),
        allowed=len(allowed),
        stored_by_refused=0,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_local_mode_app_refuses_clients_of_other_addresses(tmp_path, database_url):
    """`uvicorn lookout.app:serve_app --factory --host 0.0.0.0` with local mode asked for:
    the app itself refuses what does not come from this machine."""
    app = create_app(make_settings(tmp_path, database_url, LOOKOUT_LOCAL_MODE=True))

    async def ask(client_address: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client_address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await c.post("/api/projects", json={"name": client_address})

    async def run() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            return [await ask(a) for a in ("203.0.113.7", "10.0.0.8", "::ffff:10.1.1.1")]

    answers = run_async(run())
    for answer in answers:
        assert answer.status_code == 403, answer.text
        assert "local mode" in answer.json()["detail"]


def test_local_mode_off_lets_other_hosts_reach_authentication(lookout):
    answer = lookout.client().get("/api/projects", headers={"Host": "lookout.example.org"})
    assert answer.status_code == 401  # the host is the proxy's business outside local mode


# --- 3. source ids are unique per project: another group's ids neither leak nor block -----


def _sequence_body(project_id: str, camera_id: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "project_id": project_id,
        "source": "pyronear",
        "source_id": "4242",
        "started_at": "2024-06-01T10:00:00Z",
    }
    if camera_id:
        body["camera_id"] = camera_id
    return body


def _camera_body(project_id: str) -> dict[str, object]:
    return {"project_id": project_id, "source": "pyronear", "source_id": "cam-7", "name": "Brison"}


def _claim_ids(client: httpx.Client, project_id: str) -> dict[str, httpx.Response]:
    camera = client.post("/api/cameras", json=_camera_body(project_id))
    camera_id = camera.json().get("id") if camera.status_code < 300 else None
    sequence = client.post("/api/sequences", json=_sequence_body(project_id, camera_id))
    sequence_id = sequence.json().get("id")
    files = {"file": ("f.jpg", _jpeg(), "image/jpeg")}
    metadata = {"source": "pyronear", "source_id": "det-1", "captured_at": "2024-06-01T10:00:30Z"}
    frame = client.post(
        f"/api/sequences/{sequence_id}/frames",
        files=files,
        data={"metadata": json.dumps(metadata)},
    )
    image = client.post(
        f"/api/projects/{project_id}/images",
        files={"file": ("i.jpg", _jpeg(), "image/jpeg")},
        data={"source": "pyronear", "source_id": "img-1"},
    )
    return {"camera": camera, "sequence": sequence, "frame": frame, "image": image}


def _jpeg() -> bytes:
    from tests.support import jpeg_bytes

    return jpeg_bytes()


@BOTH
def test_another_groups_source_ids_answer_as_fresh_ones(lookout):
    first = lookout.keyed_client("alice@example.org", "wildfire-a")
    second = lookout.keyed_client("bob@example.org", "wildfire-b")
    project_a = lookout.create_project(first, "cams")["id"]
    project_b = lookout.create_project(second, "cams")["id"]
    claimed = _claim_ids(first, project_a)  # alice creates pyronear:4242 first
    assert {k: r.status_code for k, r in claimed.items()} == dict.fromkeys(claimed, 201)
    fresh = _claim_ids(second, project_b)  # bob imports the same platform ids
    assert {k: r.status_code for k, r in fresh.items()} == dict.fromkeys(fresh, 201)
    for kind, answer in fresh.items():
        assert answer.json()["id"] != claimed[kind].json()["id"], kind
        assert set(answer.json()) == set(claimed[kind].json()), kind
    again = _claim_ids(second, project_b)  # idempotent within a project
    assert {k: r.status_code for k, r in again.items()} == dict.fromkeys(again, 200)
    assert {k: r.json()["id"] for k, r in again.items()} == {
        k: r.json()["id"] for k, r in fresh.items()
    }
    assert lookout.count("sequences") == 2 and lookout.count("cameras") == 2
    assert lookout.count("images") == 4
    listed = second.get("/api/sequences", params={"project_id": project_b}).json()
    assert [s["id"] for s in listed["items"]] == [fresh["sequence"].json()["id"]]


# --- 4. lone surrogates and NUL characters: 400 naming the field, nothing stored ----------

SURROGATE = b'"x\\ud800"'


@BOTH
def test_lone_surrogates_are_refused_naming_the_field(lookout):
    setup = make_setup(lookout)
    client = setup.client
    json_headers = {"Content-Type": "application/json"}
    project = client.post(
        "/api/projects", content=b'{"name": ' + SURROGATE + b"}", headers=json_headers
    )
    assert project.status_code == 400, project.text
    assert project.json()["field"] == "name"
    analysis = client.post(
        f"/api/images/{setup.image_id}/analyses",
        content=b'{"model_name": "m", "model_version": "1", "parameters": {"k": [1, '
        + SURROGATE
        + b"]}}",
        headers=json_headers,
    )
    assert analysis.status_code == 400, analysis.text
    assert analysis.json()["field"] == "parameters.k[1]"
    key_surrogate = client.post(
        "/api/projects", content=b'{"name": "ok", "\\udc00": 1}', headers=json_headers
    )
    assert key_surrogate.status_code == 400, key_surrogate.text
    created = setup.create_analysis()
    good = json.dumps({"annotations": [box(), box(class_name="__X__")]}).encode()
    body = good.replace(b"__X__", b"\\udfff")
    bulk = setup.raw_signed("POST", f"/api/analyses/{created['id']}/annotations:bulk", body)
    assert bulk.status_code == 400, bulk.text
    assert bulk.json()["field"] == "annotations[1].class_name"
    sequence = client.post(
        "/api/sequences",
        content=json.dumps(_sequence_body(setup.project_id)).encode().replace(b"4242", b"\\ud83d"),
        headers=json_headers,
    )
    assert sequence.status_code == 400 and sequence.json()["field"] == "source_id"
    nul = client.post("/api/projects", json={"name": "a\x00b"})
    assert nul.status_code == 400 and nul.json()["field"] == "name", nul.text
    paired = client.post("/api/projects", json={"name": "fire \U0001f525"})  # a valid pair
    assert paired.status_code == 201, paired.text
    assert lookout.count("projects") == 2  # make_setup's and the valid one
    assert lookout.count("predictions") == 0 and lookout.count("sequences") == 0


# --- 5. every JSON route: its own limit whatever the declared type; others types 415 ------


@BOTH
def test_bodies_not_declared_as_json_get_the_json_limit_or_415(lookout_factory):
    limit = 256 * 1024
    lookout = lookout_factory(LOOKOUT_MAX_REQUEST_BYTES=limit)
    setup = make_setup(lookout)
    created = setup.create_analysis()
    large = b'{"model_name": "m", "model_version": "1", "description": "' + b"x" * 2 * limit
    large += b'"}'
    attempts = {
        "create, text/plain": setup.client.post(
            f"/api/images/{setup.image_id}/analyses",
            content=large,
            headers={"Content-Type": "text/plain"},
        ),
        "create, no type": setup.client.post(
            f"/api/images/{setup.image_id}/analyses", content=large, headers={"Content-Type": ""}
        ),
        "bulk, text/plain": setup.raw_signed(
            "POST",
            f"/api/analyses/{created['id']}/annotations:bulk",
            large,
            headers={"Content-Type": "text/plain"},
        ),
    }
    for name, answer in attempts.items():
        assert answer.status_code in {413, 415}, (name, answer.status_code, answer.text)
    small = json.dumps({"model_name": "m", "model_version": "1"}).encode()
    plain = setup.client.post(
        f"/api/images/{setup.image_id}/analyses",
        content=small,
        headers={"Content-Type": "text/plain"},
    )
    assert plain.status_code == 415 and "send JSON" in plain.json()["detail"]
    assert lookout.count("analyses") == 1  # only the one created properly
    # Uploads keep their own, larger limit and their types.
    upload = lookout.upload(setup.client, setup.project_id)
    assert upload.status_code == 201, upload.text
    untyped = setup.client.post(
        f"/api/images/{setup.image_id}/analyses", content=small, headers={"Content-Type": ""}
    )
    assert untyped.status_code == 201, untyped.text  # JSON without a declared type still reads
    record(
        f"bodies not declared as JSON ({lookout.backend})",
        attempts=len(attempts) + 1,
        refused=len(attempts) + 1,
        stored=0,
    )


# --- 8. a credential or identity header sent twice is refused -----------------------------


@BOTH
def test_repeated_identity_headers_are_refused(lookout_factory):
    lookout = lookout_factory(PROXY_SECRET="proxy-s3cret")
    key = lookout.user_with_key("alice@example.org")
    client = lookout.client()
    cases = {
        "user twice": [
            ("X-User-Email", "mallory@example.org"),
            ("X-User-Email", "alice@example.org"),
            ("X-Proxy-Secret", "proxy-s3cret"),
        ],
        "secret twice": [
            ("X-User-Email", "alice@example.org"),
            ("X-Proxy-Secret", "wrong"),
            ("X-Proxy-Secret", "proxy-s3cret"),
        ],
        "key twice": [("X-API-Key", "lk_nothing_here"), ("X-API-Key", key)],
        "authorization twice": [("Authorization", f"Bearer {key}"), ("Authorization", "Bearer x")],
        "key and secret twice": [
            ("X-Proxy-Secret", "a"),
            ("X-API-Key", key),
            ("X-Proxy-Secret", "b"),
            ("X-API-Key", key),
        ],
    }
    # The answer names the repeated header (the alphabetically first when several are).
    named = {
        "user twice": "x-user-email",
        "secret twice": "x-proxy-secret",
        "key twice": "x-api-key",
        "authorization twice": "authorization",
        "key and secret twice": "x-api-key",
    }
    users_before = lookout.count("users")
    for name, headers in cases.items():
        answer = client.post("/api/projects", json={"name": name}, headers=headers)
        assert answer.status_code == 400, (name, answer.text)
        assert "more than once" in answer.json()["detail"]
        assert answer.json()["field"] == named[name], (name, answer.text)
    assert lookout.count("users") == users_before and lookout.count("projects") == 0
    once = client.get(
        "/api/projects",
        headers={"X-User-Email": "alice@example.org", "X-Proxy-Secret": "proxy-s3cret"},
    )
    assert once.status_code == 200, once.text
