"""A user's own account over the API (as in VISTA): who am I, my groups, my API keys.

Live servers on SQLite and PostgreSQL. Keys are minted by a person (local mode here, the
proxy in production), shown once, listed without their secret, and revoked by their owner only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support import Lookout


def test_me_and_my_groups(lookout: Lookout) -> None:
    client = lookout.keyed_client("carol@example.org", "wildfire")
    lookout.user_with_key("carol@example.org", "night-shift")
    me = client.get("/api/users/me")
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["email"] == "carol@example.org" and body["is_admin"] is False
    assert [g["name"] for g in body["groups"]] == ["night-shift", "wildfire"]
    groups = client.get("/api/users/me/groups").json()
    assert groups == body["groups"] and {g["role"] for g in groups} == {"member"}
    # Another user's groups never show.
    other = lookout.keyed_client("dave@example.org", "elsewhere")
    assert [g["name"] for g in other.get("/api/users/me/groups").json()] == ["elsewhere"]


def test_keys_are_shown_once_and_revoked_by_their_owner(lookout_factory: Any) -> None:
    lookout = lookout_factory(LOOKOUT_LOCAL_MODE=True)
    person = lookout.client()  # the local admin, as a browser session would be
    created = person.post("/api/api-keys", json={"name": "laptop"})
    assert created.status_code == 201, created.text
    token = created.json()["key"]
    record = created.json()["api_key"]
    assert token.startswith(f"lk_{record['prefix']}_") and record["is_active"] is True

    keyed = lookout.client({"Authorization": f"Bearer {token}"})
    assert keyed.get("/api/users/me").json()["id"] == record["user_id"]
    listed = person.get("/api/api-keys")
    assert [k["id"] for k in listed.json()] == [record["id"]]
    assert token.split("_", 2)[2] not in listed.text  # the secret is never shown again

    # A key cannot mint keys (a leaked key must not outlive its revocation).
    minted = keyed.post("/api/api-keys", json={"name": "more"})
    assert minted.status_code == 403 and "not with a key" in minted.json()["detail"]

    # Someone else's key is not found, and keeps working.
    stranger = lookout.user_with_key("erin@example.org", "other")
    stranger_id = lookout.client({"X-API-Key": stranger}).get("/api/api-keys").json()[0]["id"]
    assert person.delete(f"/api/api-keys/{stranger_id}").status_code == 404
    assert lookout.client({"X-API-Key": stranger}).get("/api/users/me").status_code == 200

    assert person.delete(f"/api/api-keys/{record['id']}").status_code == 204
    assert keyed.get("/api/users/me").status_code == 401
    assert person.get("/api/api-keys").json()[0]["is_active"] is False
    assert person.delete(f"/api/api-keys/{record['id']}").status_code == 204  # again: no change


def test_bad_key_requests_name_the_field(lookout_factory: Any) -> None:
    lookout = lookout_factory(LOOKOUT_LOCAL_MODE=True)
    person = lookout.client()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    cases = {
        "name": {"name": "   "},
        "expires_at": {"name": "old", "expires_at": past},
    }
    for field, body in cases.items():
        response = person.post("/api/api-keys", json=body)
        assert response.status_code in (400, 422), response.text
        assert response.json().get("field") == field, response.text
    naive = person.post("/api/api-keys", json={"name": "n", "expires_at": "2030-01-01T00:00:00"})
    assert naive.status_code == 400 and naive.json()["field"] == "expires_at"
    assert person.get("/api/api-keys").json() == []  # nothing half-made
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    dated = person.post("/api/api-keys", json={"name": "ci", "expires_at": later})
    assert dated.status_code == 201 and dated.json()["api_key"]["expires_at"] is not None
