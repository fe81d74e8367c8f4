"""Admins manage people, groups and memberships over the API (as the CLI does).

Live servers on SQLite and PostgreSQL: everyone else gets 403, bad input a 4xx naming the
field, and an admin cannot lock themselves out.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import Lookout

PROXY_SECRET = "admin-test-proxy-secret"


def _admin(lookout: Lookout) -> Any:
    return lookout.keyed_client("root@example.org", None, admin=True)


def test_an_admin_adds_a_person_to_a_group_and_they_see_its_projects(lookout: Lookout) -> None:
    root = _admin(lookout)
    owner = lookout.keyed_client("olga@example.org", "wildfire")
    project = lookout.create_project(owner, "ridge", group="wildfire")

    created = root.post(
        "/api/admin/users", json={"email": "Nina@Example.org ", "display_name": "Nina"}
    )
    assert created.status_code == 201, created.text
    nina = created.json()
    assert nina["email"] == "nina@example.org" and nina["groups"] == []
    again = root.post("/api/admin/users", json={"email": "nina@example.org"})
    assert again.status_code == 409 and again.json()["field"] == "email"

    groups = {g["name"]: g for g in root.get("/api/admin/groups").json()}
    wildfire = groups["wildfire"]
    assert [m["email"] for m in wildfire["members"]] == ["olga@example.org"]
    put = root.put(
        f"/api/admin/groups/{wildfire['id']}/members/{nina['id']}", json={"role": "admin"}
    )
    assert put.status_code == 200, put.text
    assert {m["email"]: m["role"] for m in put.json()["members"]} == {
        "nina@example.org": "admin",
        "olga@example.org": "member",
    }
    listed = {u["email"]: u for u in root.get("/api/admin/users").json()}
    assert [(g["name"], g["role"]) for g in listed["nina@example.org"]["groups"]] == [
        ("wildfire", "admin")
    ]
    # Nina (signing in with a key of hers) now sees the group's project; taken out, she does not.
    nina_client = lookout.client({"X-API-Key": lookout.user_with_key("nina@example.org", None)})
    assert nina_client.get(f"/api/projects/{project['id']}").status_code == 200
    out = root.delete(f"/api/admin/groups/{wildfire['id']}/members/{nina['id']}")
    assert out.status_code == 204
    assert nina_client.get(f"/api/projects/{project['id']}").status_code == 404
    gone = root.delete(f"/api/admin/groups/{wildfire['id']}/members/{nina['id']}")
    assert gone.status_code == 404

    made = root.post("/api/admin/groups", json={"name": " night-shift ", "description": "nights"})
    assert made.status_code == 201 and made.json()["name"] == "night-shift"
    twice = root.post("/api/admin/groups", json={"name": "night-shift"})
    assert twice.status_code == 409 and twice.json()["field"] == "name"


def test_deactivated_users_cannot_sign_in_and_admins_cannot_lock_themselves_out(
    lookout_factory: Any,
) -> None:
    lookout = lookout_factory(PROXY_SECRET=PROXY_SECRET)
    root = _admin(lookout)
    token = lookout.user_with_key("paul@example.org", "wildfire")
    paul = lookout.client({"X-API-Key": token})
    proxied = lookout.client({"X-User-Email": "paul@example.org", "X-Proxy-Secret": PROXY_SECRET})
    assert paul.get("/api/users/me").status_code == 200
    assert proxied.get("/api/users/me").status_code == 200
    paul_id = paul.get("/api/users/me").json()["id"]

    off = root.patch(f"/api/admin/users/{paul_id}", json={"is_active": False})
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert paul.get("/api/users/me").status_code == 401
    refused = proxied.get("/api/users/me")
    assert refused.status_code == 401 and "deactivated" in refused.json()["detail"]
    on = root.patch(f"/api/admin/users/{paul_id}", json={"is_active": True, "is_admin": True})
    assert on.json()["is_admin"] is True and paul.get("/api/users/me").status_code == 200

    me = root.get("/api/users/me").json()["id"]
    for field in ("is_admin", "is_active"):
        locked = root.patch(f"/api/admin/users/{me}", json={field: False})
        assert locked.status_code == 400 and locked.json()["field"] == field
    assert root.get("/api/users/me").json()["is_admin"] is True


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/admin/users", None),
        ("POST", "/api/admin/users", {"email": "x@example.org"}),
        ("GET", "/api/admin/groups", None),
        ("POST", "/api/admin/groups", {"name": "mine"}),
    ],
)
def test_only_admins(lookout: Lookout, method: str, path: str, body: Any) -> None:
    member = lookout.keyed_client("mia@example.org", "wildfire")
    answer = member.request(method, path, json=body)
    assert answer.status_code == 403 and "admin" in answer.json()["detail"]
    assert lookout.count("groups") == 1 and lookout.count("users") == 1


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/admin/users", {"email": "not an email"}, "email"),
        ("/api/admin/users", {"email": "a@b.org", "role": "x"}, "role"),
        ("/api/admin/users", {"email": "\ud800@b.org"}, "email"),
        ("/api/admin/groups", {"name": "   "}, "name"),
        ("/api/admin/groups", {"name": "x" * 201}, "name"),
    ],
)
def test_bad_input_names_the_field(lookout: Lookout, path: str, body: Any, field: str) -> None:
    # Sent as JSON text with escapes, as a client that lets a lone surrogate through would.
    headers = {"Content-Type": "application/json"}
    answer = _admin(lookout).post(path, content=json.dumps(body), headers=headers)
    assert 400 <= answer.status_code < 500, answer.text
    assert field in answer.text


def test_a_role_other_than_member_or_admin_is_refused(lookout: Lookout) -> None:
    root = _admin(lookout)
    lookout.user_with_key("rae@example.org", "wildfire")
    group = root.get("/api/admin/groups").json()[0]
    user = next(u for u in root.get("/api/admin/users").json() if u["email"] == "rae@example.org")
    answer = root.put(
        f"/api/admin/groups/{group['id']}/members/{user['id']}", json={"role": "boss"}
    )
    assert answer.status_code == 400 and answer.json()["field"] == "role"
    missing = root.put(f"/api/admin/groups/{group['id']}/members/{group['id']}", json={})
    assert missing.status_code == 404 and missing.json()["field"] == "user_id"
