"""The `lookout` command line, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.reliability.server_support import ServeProcess, serving
from tests.support import HTTP_TIMEOUT, http_get, jpeg_bytes


def run(args, env, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "lookout.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


@pytest.fixture
def env(tmp_path):
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LOOKOUT_", "DATABASE_URL", "PROXY_"))
    }
    clean["LOOKOUT_DATA_DIR"] = str(tmp_path / "data")
    return clean


def test_help_explains_every_command(env):
    for args in (
        [],
        ["serve"],
        ["db", "upgrade"],
        ["users", "create"],
        ["groups", "add-member"],
        ["apikeys", "create"],
        ["apikeys", "revoke"],
    ):
        result = run([*args, "--help"], env)
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout


def test_local_mode_refused_off_loopback(env):
    result = run(
        ["serve", "--host", "0.0.0.0", "--no-migrate"], {**env, "LOOKOUT_LOCAL_MODE": "true"}
    )
    assert result.returncode == 2
    assert "loopback" in result.stderr


def test_serve_with_an_api_key_end_to_end(env, tmp_path):
    assert run(["db", "upgrade"], env).returncode == 0
    created = run(["apikeys", "create", "ops@example.org", "--group", "ops", "--name", "ci"], env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("lk_")
    # Bound to loopback, but the API key is still checked: a wrong one is refused.
    server = ServeProcess(None, tmp_path / "data", local_mode=True)  # the default database
    with (
        serving(server),
        httpx.Client(
            timeout=HTTP_TIMEOUT, base_url=server.url, headers={"X-API-Key": key}
        ) as client,
    ):
        project = client.post("/api/projects", json={"name": "cams"}).json()
        image = client.post(
            f"/api/projects/{project['id']}/images",
            files={"file": ("f.jpg", jpeg_bytes(), "image/jpeg")},
        ).json()
        listed = client.get(f"/api/projects/{project['id']}/images").json()
        assert [item["id"] for item in listed["items"]] == [image["id"]]
        assert client.get(image["thumbnail_url"]).headers["content-type"] == "image/jpeg"
        bad = http_get(f"{server.url}/api/projects", headers={"X-API-Key": key + "x"})
        assert bad.status_code == 401
        revoked = run(["apikeys", "revoke", key.split("_")[1]], env)
        assert revoked.returncode == 0
        assert client.get("/api/projects").status_code == 401
    listing = run(["apikeys", "list"], env)
    assert "revoked" in listing.stdout


def test_domain_errors_exit_1_with_a_message(env):
    run(["db", "upgrade"], env)
    result = run(["groups", "remove-member", "nope", "x@example.org"], env)
    assert result.returncode == 1
    assert "no group nope" in result.stderr
