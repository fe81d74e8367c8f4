"""Frames given by URL cannot make the server reach loopback, private or metadata addresses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response

from lookout.config import Settings
from lookout.fetching import BlockedAddress, make_fetch_client, public_address
from tests.conftest import unavailable
from tests.reliability.record import record
from tests.support import LiveServer, free_port, jpeg_bytes

HOSTS_FILE = Path("/etc/hosts")
IDNA_HOST = "xn--1-ymc.test"  # the ASCII spelling of "ا1.test"

PRIVATE_URLS = [
    "http://127.0.0.1:9/frame.jpg",
    "http://localhost:9/frame.jpg",
    "http://[::1]:9/frame.jpg",
    "http://10.0.0.8/frame.jpg",
    "http://192.168.1.10/frame.jpg",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0:9/frame.jpg",
]


@pytest.fixture
def frame_source():
    """A loopback server holding a valid JPEG, counting its requests."""
    app = FastAPI()
    hits = {"n": 0}

    @app.get("/frame.jpg")
    def frame() -> Response:
        hits["n"] += 1
        return Response(jpeg_bytes(), media_type="image/jpeg")

    server = LiveServer(app).start()
    yield server, hits
    server.stop()


def _sequence(lookout, client) -> str:
    project = lookout.create_project(client, "ssrf")
    body = {
        "project_id": project["id"],
        "source": "pyronear",
        "source_id": "seq-ssrf",
        "started_at": "2024-01-01T10:00:00Z",
    }
    created = client.post("/api/sequences", json=body)
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_frame_urls_to_private_addresses_are_refused(lookout_factory, frame_source):
    server, hits = frame_source
    lookout = lookout_factory(LOOKOUT_FETCH_ALLOW_PRIVATE=False)
    client = lookout.keyed_client()
    sequence_id = _sequence(lookout, client)
    urls = [f"{server.url}/frame.jpg", *PRIVATE_URLS]
    for index, url in enumerate(urls):
        answer = client.post(
            f"/api/sequences/{sequence_id}/frames",
            json={"url": url, "source": "pyronear", "source_id": f"det-{index}"},
        )
        assert answer.status_code == 400, (url, answer.text)
        detail = answer.json()["detail"]
        assert detail.startswith("url:") and "not a public address" in detail, detail
    assert hits["n"] == 0  # nothing was even asked of the loopback server
    assert lookout.count("images") == 0
    record("ssrf: frame URLs to private addresses", tried=len(urls), refused=len(urls), stored=0)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_allowing_private_addresses_fetches_them(lookout_factory, frame_source):
    server, hits = frame_source
    lookout = lookout_factory(LOOKOUT_FETCH_ALLOW_PRIVATE=True)
    client = lookout.keyed_client()
    answer = client.post(
        f"/api/sequences/{_sequence(lookout, client)}/frames",
        json={"url": f"{server.url}/frame.jpg", "source": "pyronear", "source_id": "det"},
    )
    assert answer.status_code == 201, answer.text
    assert hits["n"] == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_cookie_a_frame_host_sets_is_never_sent_back(lookout_factory):
    """The server's fetch client serves every caller: what one caller's URL sets must not
    reach the host again with another caller's request (nor with the same caller's)."""
    app = FastAPI()
    cookies_sent: list[str | None] = []

    @app.get("/frame.jpg")
    def frame(request: Request) -> Response:
        cookies_sent.append(request.headers.get("cookie"))
        answer = Response(jpeg_bytes(), media_type="image/jpeg")
        answer.set_cookie("session", "from-the-frame-host")
        return answer

    server = LiveServer(app).start()
    try:
        lookout = lookout_factory(LOOKOUT_FETCH_ALLOW_PRIVATE=True)
        client = lookout.keyed_client()
        sequence_id = _sequence(lookout, client)
        for index in range(2):
            answer = client.post(
                f"/api/sequences/{sequence_id}/frames",
                json={
                    "url": f"{server.url}/frame.jpg?n={index}",
                    "source": "pyronear",
                    "source_id": f"det-{index}",
                },
            )
            assert answer.status_code == 201, answer.text
    finally:
        server.stop()
    assert cookies_sent == [None, None]


def test_every_redirect_hop_is_checked():
    """The check sits in the transport, which sees each hop of a redirect chain."""
    with make_fetch_client(allow_private=False) as client, pytest.raises(BlockedAddress):
        client.get("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(BlockedAddress, match="not a public address"):
        public_address("127.0.0.1", 80)
    assert public_address("8.8.8.8", 80) == "8.8.8.8"
    with pytest.raises(BlockedAddress, match="cannot be resolved"):
        public_address("no-such-host.invalid", 80)  # cannot be checked, so refused


def test_private_addresses_are_allowed_by_default_only_in_local_mode():
    def settings(**values: object) -> Settings:
        return Settings(_env_file=None, **values)

    assert settings(LOOKOUT_LOCAL_MODE=True).fetch_private_allowed is True
    assert settings().fetch_private_allowed is False
    assert settings(LOOKOUT_FETCH_ALLOW_PRIVATE=True).fetch_private_allowed is True
    assert (
        settings(LOOKOUT_LOCAL_MODE=True, LOOKOUT_FETCH_ALLOW_PRIVATE=False).fetch_private_allowed
        is False
    )


@pytest.fixture
def idna_host_on_loopback() -> Iterator[str]:
    """An internationalised name that resolves to 127.0.0.1 (an /etc/hosts entry, as an
    attacker's DNS would answer)."""
    line = f"127.0.0.1 {IDNA_HOST}  # lookout test\n"
    try:
        original = HOSTS_FILE.read_text()
        HOSTS_FILE.write_text(original + line)
    except OSError as exc:
        unavailable(f"cannot add a name to {HOSTS_FILE}: {exc}")
    try:
        yield IDNA_HOST
    finally:
        HOSTS_FILE.write_text(HOSTS_FILE.read_text().replace(line, ""))


def _post_frame(client, sequence_id: str, url: str, source_id: str):
    body = {"url": url, "source": "pyronear", "source_id": source_id}
    return client.post(f"/api/sequences/{sequence_id}/frames", json=body)


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_internationalised_host_names_are_checked_as_resolved(
    lookout_factory, frame_source, idna_host_on_loopback
):
    server, hits = frame_source
    lookout = lookout_factory(LOOKOUT_FETCH_ALLOW_PRIVATE=False)
    client = lookout.keyed_client()
    sequence_id = _sequence(lookout, client)
    closed = free_port()
    urls = [
        f"http://{idna_host_on_loopback}:{server.port}/frame.jpg",
        f"http://ا1.test:{server.port}/frame.jpg",
        f"http://{idna_host_on_loopback}:{closed}/frame.jpg",
        f"http://ا1.test:{closed}/frame.jpg",
    ]
    answers = [_post_frame(client, sequence_id, url, f"det-{i}") for i, url in enumerate(urls)]
    batch = client.post(
        f"/api/sequences/{sequence_id}/frames:batch",
        json={
            "frames": [
                {"url": url, "source": "pyronear", "source_id": f"b-{i}"}
                for i, url in enumerate(urls)
            ]
        },
    )
    assert [a.status_code for a in answers] == [400] * 4, [a.text for a in answers]
    for answer in answers:
        assert answer.json()["field"] == "url"
        assert "127.0.0.1, not a public address" in answer.json()["detail"]
    # An open and a closed internal port get the same answer: nothing tells them apart.
    details = {
        a.json()["detail"].replace(str(server.port), "N").replace(str(closed), "N") for a in answers
    }
    assert len(details) == 1, details
    assert batch.status_code == 200, batch.text
    assert [f["status"] for f in batch.json()["frames"]] == [400] * 4
    assert [f["field"] for f in batch.json()["frames"]] == [f"frames.{i}.url" for i in range(4)]
    assert hits["n"] == 0  # the loopback server never saw a request
    assert lookout.count("images") == 0


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_unresolvable_hosts_are_refused(lookout_factory):
    lookout = lookout_factory(LOOKOUT_FETCH_ALLOW_PRIVATE=False)
    client = lookout.keyed_client()
    answer = _post_frame(
        client, _sequence(lookout, client), "http://no-such-host.invalid/x.jpg", "d"
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == "url" and "cannot be resolved" in answer.json()["detail"]
    assert lookout.count("images") == 0


INVALID_URLS = ["http://0177.0.0.1:9999/x", "http://[::1/x", "http:///x", "ftp://example.org/x"]


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_invalid_frame_urls_are_400_and_a_batch_keeps_each_status(lookout_factory, frame_source):
    server, hits = frame_source
    lookout = lookout_factory(LOOKOUT_FETCH_ALLOW_PRIVATE=True)
    client = lookout.keyed_client()
    sequence_id = _sequence(lookout, client)
    for index, url in enumerate(INVALID_URLS):
        answer = _post_frame(client, sequence_id, url, f"bad-{index}")
        assert answer.status_code == 400, (url, answer.text)
        assert answer.json()["field"] == "url", answer.text
    frames = [{"url": f"{server.url}/frame.jpg", "source": "pyronear", "source_id": "good"}]
    frames += [
        {"url": url, "source": "pyronear", "source_id": f"b-{i}"}
        for i, url in enumerate(INVALID_URLS)
    ]
    batch = client.post(f"/api/sequences/{sequence_id}/frames:batch", json={"frames": frames})
    assert batch.status_code == 200, batch.text
    statuses = [f["status"] for f in batch.json()["frames"]]
    assert statuses == [201] + [400] * len(INVALID_URLS)
    assert batch.json()["frames"][1]["field"] == "frames.1.url"
    assert hits["n"] == 1 and lookout.count("images") == 1
    record(
        f"ssrf: invalid frame URLs ({lookout.backend})",
        invalid_urls=len(INVALID_URLS),
        batch_frames=len(frames),
        server_errors=0,
    )
