"""Frames given by URL cannot make the server reach loopback, private or metadata addresses."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.responses import Response

from lookout.config import Settings
from lookout.fetching import BlockedAddress, make_fetch_client, non_public_address
from tests.reliability.record import record
from tests.support import LiveServer, jpeg_bytes

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


def test_every_redirect_hop_is_checked():
    """The check sits in the transport, which sees each hop of a redirect chain."""
    with make_fetch_client(allow_private=False) as client, pytest.raises(BlockedAddress):
        client.get("http://169.254.169.254/latest/meta-data/")
    assert non_public_address("127.0.0.1") == "127.0.0.1"
    assert non_public_address("8.8.8.8") is None
    assert non_public_address("no-such-host.invalid") is None  # fails later, on its own


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
