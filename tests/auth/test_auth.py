"""Who may call: API keys, proxy headers, local mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from lookout.accounts import service as accounts
from lookout.accounts.models import ApiKey


def test_api_key_in_header_and_bearer(lookout):
    key = lookout.user_with_key("alice@example.org")
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        response = lookout.client(headers).get("/api/projects")
        assert response.status_code == 200, response.text
        assert response.json() == []


def test_no_credentials_is_401_outside_local_mode(lookout):
    response = lookout.client().get("/api/projects")
    assert response.status_code == 401
    assert "authentication required" in response.json()["detail"]


def test_wrong_key_and_malformed_key_are_401(lookout):
    key = lookout.user_with_key("alice@example.org")
    prefix = key.rsplit("_", 1)[0]
    for bad in (prefix + "_wrongsecret", "not-a-key", key + "x"):
        response = lookout.client({"X-API-Key": bad}).get("/api/projects")
        assert response.status_code == 401, bad


def test_revoked_key_is_401(lookout):
    key = lookout.user_with_key("alice@example.org")
    client = lookout.client({"X-API-Key": key})
    assert client.get("/api/projects").status_code == 200
    with lookout.sessions() as session:
        accounts.revoke_api_key(session, prefix_or_id=key.split("_")[1])
        session.commit()
    response = client.get("/api/projects")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_expired_key_is_401(lookout):
    key = lookout.user_with_key(
        "bob@example.org", expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    response = lookout.client({"X-API-Key": key}).get("/api/projects")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_key_is_stored_hashed_and_last_use_recorded(lookout):
    key = lookout.user_with_key("alice@example.org")
    lookout.client({"X-API-Key": key}).get("/api/projects")
    with lookout.sessions() as session:
        row = session.scalars(sa.select(ApiKey)).one()
        assert key.split("_", 2)[2] not in row.secret_hash
        assert row.prefix == key.split("_")[1]
        assert row.last_used_at is not None


def test_proxy_headers_refused_without_configured_secret(lookout):
    response = lookout.client({"X-User-Email": "mallory@example.org"}).get("/api/projects")
    assert response.status_code == 401
    assert "no proxy secret" in response.json()["detail"]


def test_proxy_headers_with_secret(lookout_factory):
    instance = lookout_factory(PROXY_SECRET="proxy-s3cret")
    good = instance.client({"X-User-Email": "Carol@Example.org", "X-Proxy-Secret": "proxy-s3cret"})
    assert good.get("/api/projects").status_code == 200
    for secret in ("wrong", ""):
        bad = instance.client({"X-User-Email": "carol@example.org", "X-Proxy-Secret": secret})
        assert bad.get("/api/projects").status_code == 401
    missing = instance.client({"X-User-Email": "carol@example.org"})
    assert missing.get("/api/projects").status_code == 401
    with instance.sessions() as session:
        assert accounts.get_user(session, email="carol@example.org").email == "carol@example.org"


def test_local_mode_acts_as_admin_but_still_checks_presented_keys(lookout_factory):
    instance = lookout_factory(LOOKOUT_LOCAL_MODE=True)
    client = instance.client()
    project = instance.create_project(client, "local")
    assert client.get(f"/api/projects/{project['id']}").status_code == 200
    assert instance.client({"X-API-Key": "lk_nope_nope"}).get("/api/projects").status_code == 401


def test_cross_site_writes_refused_for_browser_credentials(lookout_factory):
    instance = lookout_factory(LOOKOUT_LOCAL_MODE=True)
    client = instance.client()
    for headers in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ):
        response = client.post("/api/projects", json={"name": "csrf"}, headers=headers)
        assert response.status_code == 403, headers
    same_origin = {"Origin": instance.url, "Sec-Fetch-Site": "same-origin"}
    assert client.post("/api/projects", json={"name": "ok"}, headers=same_origin).status_code == 201
    # Reads are not writes; API keys are never sent by a browser on its own.
    assert client.get("/api/projects", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200
    assert instance.count("projects") == 1


def test_repeated_failed_authentication_is_braked(lookout):
    client = lookout.client({"X-API-Key": "lk_nope_nope"})
    codes = [client.get("/api/projects").status_code for _ in range(25)]
    assert codes[:20] == [401] * 20
    assert codes[-1] == 429
    good = lookout.client({"X-API-Key": lookout.user_with_key("alice@example.org")})
    assert good.get("/api/projects").status_code == 429  # same client address
