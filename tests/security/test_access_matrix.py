"""The access matrix: every route of the app x every kind of caller, from the app's route table.

Each route has a rule (tests/security/access_rules.py) and an example request here; each cell
sends the example with one caller's credentials and compares the answer with what the rule
allows. Requests that change or delete something get fresh objects of their own, and a refused
one is checked to have changed nothing. Another group's objects answer 404 and listings show
another group nothing of the owners'.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from lookout.accounts import service as accounts
from lookout.accounts.models import ApiKey
from lookout.app import create_app
from lookout.pipeline.signing import sign_request
from lookout.reviewing.models import ReviewClaim, ReviewSkip
from lookout.sequences.models import Sequence
from tests.analyses.ml_support import raw_body_headers
from tests.conftest import HMAC_SECRET, make_settings
from tests.exports.builders import distinct_jpeg
from tests.reliability.record import record
from tests.security import access_rules as rules
from tests.security.conftest import ARTIFACT, PROXY_SECRET, WRONG_SECRET, SecurityWorld


@dataclass
class Call:
    """One example request; `state` reads what it would change (a refused one must not)."""

    method: str
    path: str
    json_body: Any = None
    files: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    state: Callable[[], Any] | None = None

    @property
    def body(self) -> bytes:
        return b"" if self.json_body is None else json.dumps(self.json_body).encode()


Example = Callable[[SecurityWorld], Call]


def _get(path: str) -> Example:
    return lambda w: Call("GET", path.format(w=w))


def _analysis_state(w: SecurityWorld, analysis_id: str) -> Callable[[], Any]:
    def read() -> Any:
        path = f"/api/analyses/{analysis_id}"
        found = w.member.get(path, params={"annotations_limit": 0}).json()
        artifacts = w.member.get(f"{path}/artifacts").json()["artifacts"]
        return found["status"], found["annotations_total"], found["updated_at"], len(artifacts)

    return read


def _delete(w: SecurityWorld, path: str) -> Call:
    return Call("DELETE", path, state=lambda: w.member.get(path).status_code)


def _split_change(w: SecurityWorld) -> Call:
    """A fresh sequence put in test: a refused request leaves its split as it was."""
    sequence_id = w.fresh_sequence()
    path = f"/api/sequences/{sequence_id}/split"

    def read() -> Any:
        with w.lookout.sessions() as session:
            sequence = session.get(Sequence, uuid.UUID(sequence_id))
            return sequence.split if sequence is not None else None

    return Call("PUT", path, json_body={"split": "test"}, state=read)


def _revoke_own_key(w: SecurityWorld) -> Call:
    """A fresh key of the member's (alice's): a refused revocation leaves it working."""
    token = w.lookout.user_with_key("alice@example.org", None)
    with w.lookout.sessions() as session:
        key = session.scalar(sa.select(ApiKey).where(ApiKey.prefix == token.split("_")[1]))
        assert key is not None
        key_id = key.id
    probe = w.lookout.client({"X-API-Key": token})
    return Call(
        "DELETE",
        f"/api/api-keys/{key_id}",
        state=lambda: probe.get("/api/users/me").status_code,
    )


def _fresh_member(w: SecurityWorld) -> tuple[str, str]:
    """A fresh user in a fresh group (ids), for the admins' membership routes."""
    with w.lookout.sessions() as session:
        user = accounts.get_or_create_user(session, email=f"{w.unique('person')}@example.org")
        group = accounts.get_or_create_group(session, name=w.unique("crew"))
        accounts.add_member(session, user=user, group=group)
        session.commit()
        return str(group.id), str(user.id)


def _admin_state(w: SecurityWorld) -> Callable[[], Any]:
    """Users, groups and memberships as they stand (a refused admin request changes none)."""

    def read() -> Any:
        with w.lookout.sessions() as session:
            users = session.execute(sa.text("SELECT email, is_admin, is_active FROM users"))
            members = session.execute(sa.text("SELECT user_id, group_id, role FROM memberships"))
            groups = session.execute(sa.text("SELECT name FROM groups"))
            return sorted(map(tuple, users)), sorted(map(str, members)), sorted(map(tuple, groups))

    return read


def _admin_call(method: str, tail: str, body: Any = None) -> Example:
    def build(w: SecurityWorld) -> Call:
        group_id, user_id = _fresh_member(w)
        path = "/api/admin/" + tail.format(group_id=group_id, user_id=user_id)
        body_now = body(w) if callable(body) else body
        return Call(method, path, json_body=body_now, state=_admin_state(w))

    return build


def _signed_callback(status: str, tail: str, body: dict[str, Any]) -> Example:
    def build(w: SecurityWorld) -> Call:
        analysis_id = w.fresh_analysis(status=status)
        return Call(
            "POST",
            f"/api/analyses/{analysis_id}/{tail}",
            json_body=body,
            state=_analysis_state(w, analysis_id),
        )

    return build


def _status_change(w: SecurityWorld) -> Call:
    analysis_id = w.fresh_analysis()
    return Call(
        "PATCH",
        f"/api/analyses/{analysis_id}/status",
        json_body={"status": "processing"},
        state=_analysis_state(w, analysis_id),
    )


def _claim(w: SecurityWorld) -> Call:
    model = w.unique("claimable")
    analysis_id = w.fresh_analysis(model=model)
    body = {"worker_id": w.unique("worker"), "model_name": model}
    return Call(
        "POST", "/api/analyses:claim", json_body=body, state=_analysis_state(w, analysis_id)
    )


def _lease(action: str) -> Example:
    def build(w: SecurityWorld) -> Call:
        analysis_id, worker = w.fresh_claimed()
        return Call(
            "POST",
            f"/api/analyses/{analysis_id}/{action}",
            json_body={"worker_id": worker},
            state=_analysis_state(w, analysis_id),
        )

    return build


def _review(w: SecurityWorld) -> Call:
    sequence_id = w.fresh_sequence()
    path = f"/api/sequences/{sequence_id}/review"
    return Call(
        "PUT",
        path,
        json_body={"tracks": [], "processing_stage": "in_review"},
        state=lambda: w.member.get(path).status_code,
    )


def _saved_review(w: SecurityWorld) -> tuple[str, Callable[[], Any]]:
    """A fresh sequence with a person's review in progress, and how to read its state."""
    sequence_id = _waiting_sequence(w)
    path = f"/api/sequences/{sequence_id}/review"
    saved = w.member.put(path, json={"tracks": [], "processing_stage": "in_review", "version": 1})
    assert saved.status_code == 200, saved.text

    def read() -> Any:
        review = w.member.get(path).json()
        return review["version"], review["processing_stage"]

    return sequence_id, read


def _send_back(w: SecurityWorld) -> Call:
    sequence_id, read = _saved_review(w)
    path = f"/api/sequences/{sequence_id}/review/send-back"
    return Call("POST", path, json_body={"reason": "check again"}, state=read)


def _restore(w: SecurityWorld) -> Call:
    sequence_id, read = _saved_review(w)
    path = f"/api/sequences/{sequence_id}/review/versions/1/restore"
    return Call("POST", path, json_body={"version": 2}, state=read)


def _queue_rows(w: SecurityWorld, table: Any, sequence_id: str) -> Callable[[], Any]:
    """How many claims or skips a sequence has (a refused request must add or drop none)."""

    def read() -> Any:
        with w.lookout.sessions() as session:
            query = sa.select(sa.func.count()).select_from(table)
            return session.scalar(query.where(table.sequence_id == uuid.UUID(sequence_id)))

    return read


def _waiting_sequence(w: SecurityWorld) -> str:
    """A fresh sequence whose draft waits for a review."""
    sequence_id = w.fresh_sequence()
    drafted = w.member.post(f"/api/sequences/{sequence_id}/draft", json={})
    assert drafted.status_code == 200, drafted.text
    return sequence_id


def _queue_action(action: str, table: Any) -> Example:
    def build(w: SecurityWorld) -> Call:
        sequence_id = _waiting_sequence(w)
        return Call(
            "POST",
            f"/api/review-queue/{action}",
            json_body={"sequence_id": sequence_id},
            state=_queue_rows(w, table, sequence_id),
        )

    return build


def _unskip(w: SecurityWorld) -> Call:
    sequence_id = _waiting_sequence(w)
    skipped = w.member.post("/api/review-queue/skip", json={"sequence_id": sequence_id})
    assert skipped.status_code == 204, skipped.text
    return Call(
        "DELETE",
        f"/api/review-queue/skipped/{sequence_id}",
        state=_queue_rows(w, ReviewSkip, sequence_id),
    )


def _project_update(w: SecurityWorld) -> Call:
    """A fresh project's default queue order: a refused update leaves it oldest first."""
    project_id = w.fresh_project()
    path = f"/api/projects/{project_id}"
    return Call(
        "PATCH",
        path,
        json_body={"queue_order": "score"},
        state=lambda: w.member.get(path).json().get("queue_order"),
    )


def _grouped_track(w: SecurityWorld) -> tuple[str, str]:
    """A fresh sequence of the owners' camera whose drafted track joined a group: (group id,
    member id). Every such track sits at the same place, so they share one group."""
    seq = w.owner.add_sequence(w.unique("grouped"), frames=1)
    w.owner.predict(seq.frames[0], [("smoke", [0.6, 0.2, 0.7, 0.3], 0.8)], model="platform")
    drafted = w.member.post(f"/api/sequences/{seq.id}/draft", json={})
    assert drafted.status_code == 200, drafted.text
    group_id = drafted.json()["review"]["tracks"][0]["group_id"]
    members = w.member.get(f"/api/groups/{group_id}").json()["members"]
    member = next(m for m in members if m["sequence_id"] == seq.id)
    return group_id, member["id"]


def _group(w: SecurityWorld) -> str:
    """The owners' group of recurring objects (made once per world)."""
    found: str | None = getattr(w, "_group_id", None)
    if found is None:
        found, _ = _grouped_track(w)
        w._group_id = found  # type: ignore[attr-defined]
    return found


def _group_state(w: SecurityWorld, group_id: str) -> Callable[[], Any]:
    def read() -> Any:
        group = w.member.get(f"/api/groups/{group_id}").json()
        return group["decision"], group["member_count"], group["false_positive_types"]

    return read


def _ok_json(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.url}: {response.text}"
    return response.json() if response.content else None


def _image_metadata(w: SecurityWorld, image_id: str) -> Callable[[], Any]:
    return lambda: w.member.get(f"/api/images/{image_id}").json()["metadata"]


def _image_metadata_write(method: str) -> Example:
    def build(w: SecurityWorld) -> Call:
        image_id = w.fresh_image()
        body: Any = {"key": "site", "value": "north"} if method == "PUT" else {"site": "north"}
        return Call(
            method,
            f"/api/images/{image_id}/metadata",
            json_body=body,
            state=_image_metadata(w, image_id),
        )

    return build


def _in_trash(w: SecurityWorld, image_id: str) -> Callable[[], Any]:
    """Whether the image is in the trash (None: purged)."""

    def read() -> Any:
        found = w.member.get(f"/api/images/{image_id}", params={"include_deleted": "true"})
        return found.json()["deleted_at"] is not None if found.is_success else None

    return read


def _trash_image(w: SecurityWorld) -> Call:
    image_id = w.fresh_image()
    return Call(
        "DELETE",
        f"/api/projects/{w.project_id}/images/{image_id}",
        json_body={"reason": "out of focus"},
        state=_in_trash(w, image_id),
    )


def _restore_image(w: SecurityWorld) -> Call:
    image_id = w.fresh_image()
    path = f"/api/projects/{w.project_id}/images/{image_id}"
    _ok_json(w.member.request("DELETE", path, json={"reason": "out of focus"}))
    return Call("POST", f"{path}/restore", state=_in_trash(w, image_id))


def _sequence_in_trash(w: SecurityWorld, sequence_id: str) -> Callable[[], Any]:
    """Whether the sequence is in the trash (None: purged)."""

    def read() -> Any:
        path = f"/api/sequences/{sequence_id}"
        found = w.member.get(path, params={"include_deleted": "true"})
        return found.json()["deleted_at"] is not None if found.is_success else None

    return read


def _trash_sequence(w: SecurityWorld) -> Call:
    sequence_id = w.fresh_sequence()
    return Call(
        "DELETE",
        f"/api/sequences/{sequence_id}",
        json_body={"reason": "duplicate import"},
        state=_sequence_in_trash(w, sequence_id),
    )


def _restore_sequence(w: SecurityWorld) -> Call:
    sequence_id = w.fresh_sequence()
    path = f"/api/sequences/{sequence_id}"
    _ok_json(w.member.request("DELETE", path, json={"reason": "duplicate import"}))
    return Call("POST", f"{path}/restore", state=_sequence_in_trash(w, sequence_id))


def _image_metadata_delete(w: SecurityWorld) -> Call:
    image_id = w.fresh_image()
    path = f"/api/images/{image_id}/metadata"
    _ok_json(w.member.put(path, json={"key": "site", "value": "north"}))
    return Call("DELETE", f"{path}/site", state=_image_metadata(w, image_id))


def _project_metadata(w: SecurityWorld, project_id: str) -> Callable[[], Any]:
    return lambda: w.member.get(f"/api/projects/{project_id}/metadata-dict").json()


def _project_metadata_write(method: str, tail: str, body: Any) -> Example:
    def build(w: SecurityWorld) -> Call:
        project_id = w.fresh_project()
        return Call(
            method,
            f"/api/projects/{project_id}/{tail}",
            json_body=body,
            state=_project_metadata(w, project_id),
        )

    return build


def _with_project_metadata(w: SecurityWorld) -> str:
    """A fresh project of the owners' with one metadata key, `owner`."""
    project_id = w.fresh_project()
    entry = {"key": "owner", "value": "fire team"}
    _ok_json(w.member.post(f"/api/projects/{project_id}/metadata", json=entry))
    return project_id


def _project_metadata_delete(w: SecurityWorld) -> Call:
    project_id = _with_project_metadata(w)
    return Call(
        "DELETE",
        f"/api/projects/{project_id}/metadata/owner",
        state=_project_metadata(w, project_id),
    )


def _fresh_class(w: SecurityWorld) -> str:
    body = {"name": w.unique("class")}
    return _ok_json(w.member.post(f"/api/projects/{w.project_id}/classes", json=body))["id"]


def _class_state(w: SecurityWorld, class_id: str) -> Callable[[], Any]:
    def read() -> Any:
        found = w.member.get(f"/api/classes/{class_id}")
        return found.status_code, found.json().get("name")

    return read


def _decide_group(w: SecurityWorld) -> Call:
    group_id = _group(w)
    body = {"decision": "false_positive", "false_positive_types": ["antenna"]}
    return Call(
        "POST",
        f"/api/groups/{group_id}/decision",
        json_body=body,
        state=_group_state(w, group_id),
    )


def _remove_member(w: SecurityWorld) -> Call:
    group_id, member_id = _grouped_track(w)
    return Call(
        "DELETE",
        f"/api/groups/{group_id}/members/{member_id}",
        state=_group_state(w, group_id),
    )


def _group_settings(w: SecurityWorld) -> Call:
    project_id = w.fresh_project()
    path = f"/api/projects/{project_id}"
    return Call(
        "PUT",
        f"{path}/group-settings",
        json_body={"auto_apply_group_decisions": True},
        state=lambda: w.member.get(path).json()["auto_apply_group_decisions"],
    )


def _class_change(method: str) -> Example:
    def build(w: SecurityWorld) -> Call:
        class_id = _fresh_class(w)
        body = {"name": w.unique("renamed")} if method == "PATCH" else None
        return Call(
            method, f"/api/classes/{class_id}", json_body=body, state=_class_state(w, class_id)
        )

    return build


def _classifications(w: SecurityWorld) -> Callable[[], Any]:
    path = f"/api/images/{w.image_id}/classifications"
    return lambda: sorted(c["id"] for c in w.member.get(path).json())


def _classify(w: SecurityWorld) -> Call:
    return Call(
        "POST",
        f"/api/images/{w.image_id}/classifications",
        json_body={"class_id": _fresh_class(w)},
        state=_classifications(w),
    )


def _unclassify(w: SecurityWorld) -> Call:
    """A fresh classification the member gave: only they or an admin may take it back."""
    body = {"class_id": _fresh_class(w)}
    given = _ok_json(w.member.post(f"/api/images/{w.image_id}/classifications", json=body))
    return Call("DELETE", f"/api/classifications/{given['id']}", state=_classifications(w))


def _fresh_comment(w: SecurityWorld) -> str:
    body = {"text": w.unique("comment")}
    return _ok_json(w.member.post(f"/api/images/{w.image_id}/comments", json=body))["id"]


def _comment_change(method: str) -> Example:
    def build(w: SecurityWorld) -> Call:
        comment_id = _fresh_comment(w)
        path = f"/api/comments/{comment_id}"

        def read() -> Any:
            found = w.member.get(path)
            return found.status_code, found.json().get("text")

        body = {"text": "changed"} if method == "PATCH" else None
        return Call(method, path, json_body=body, state=read)

    return build


def _comment_on(kind: str) -> Example:
    def build(w: SecurityWorld) -> Call:
        target = w.image_id if kind == "images" else w.sequence.id
        return Call(
            "POST",
            f"/api/{kind}/{target}/comments",
            json_body={"text": "looks like smoke"},
            state=lambda: w.lookout.count("comments"),
        )

    return build


def _box() -> dict[str, Any]:
    return {
        "annotation_type": "bounding_box",
        "class_name": "smoke",
        "confidence": 0.5,
        "data": {"bbox": [1, 1, 9, 9], "format": "xyxy"},
    }


def _jpeg_file() -> dict[str, Any]:
    return {"file": ("frame.jpg", distinct_jpeg(), "image/jpeg")}


EXAMPLES: dict[str, Example] = {
    "GET /openapi.json": _get("/openapi.json"),
    "GET /docs": _get("/docs"),
    "GET /docs/oauth2-redirect": _get("/docs/oauth2-redirect"),
    "MOUNT /apidocs/static": _get("/apidocs/static/swagger-ui.css"),
    "MOUNT /static": _get("/static/app.css"),
    "GET /api/health": _get("/api/health"),
    "GET /api/ready": _get("/api/ready"),
    "PUT /api/sequences/{sequence_id}/split": _split_change,
    "GET /api/users/me": _get("/api/users/me"),
    "GET /api/reviews/changes": _get("/api/reviews/changes"),
    "GET /api/users/me/groups": _get("/api/users/me/groups"),
    "GET /api/api-keys": _get("/api/api-keys"),
    "POST /api/api-keys": lambda w: Call(
        "POST",
        "/api/api-keys",
        json_body={"name": "laptop"},
        state=lambda: w.lookout.count("api_keys"),
    ),
    "DELETE /api/api-keys/{api_key_id}": _revoke_own_key,
    "GET /api/admin/users": _get("/api/admin/users"),
    "POST /api/admin/users": _admin_call(
        "POST", "users", lambda w: {"email": f"{w.unique('new')}@example.org"}
    ),
    "PATCH /api/admin/users/{user_id}": _admin_call("PATCH", "users/{user_id}", {"is_admin": True}),
    "GET /api/admin/groups": _get("/api/admin/groups"),
    "POST /api/admin/groups": _admin_call("POST", "groups", lambda w: {"name": w.unique("g")}),
    "PUT /api/admin/groups/{group_id}/members/{user_id}": _admin_call(
        "PUT", "groups/{group_id}/members/{user_id}", {"role": "admin"}
    ),
    "DELETE /api/admin/groups/{group_id}/members/{user_id}": _admin_call(
        "DELETE", "groups/{group_id}/members/{user_id}"
    ),
    "GET /api/projects": _get("/api/projects"),
    "POST /api/projects": lambda w: Call(
        "POST", "/api/projects", json_body={"name": w.unique("new")}
    ),
    "GET /api/projects/{project_id}": _get("/api/projects/{w.project_id}"),
    "DELETE /api/projects/{project_id}": lambda w: _delete(w, f"/api/projects/{w.fresh_project()}"),
    "PATCH /api/projects/{project_id}": _project_update,
    "GET /api/projects/{project_id}/camera-stats": _get(
        "/api/projects/{w.project_id}/camera-stats"
    ),
    "POST /api/projects/{project_id}/images": lambda w: Call(
        "POST", f"/api/projects/{w.project_id}/images", files=_jpeg_file()
    ),
    "GET /api/projects/{project_id}/images": _get("/api/projects/{w.project_id}/images"),
    "GET /api/images/{image_id}": _get("/api/images/{w.image_id}"),
    "DELETE /api/images/{image_id}": lambda w: _delete(w, f"/api/images/{w.fresh_image()}"),
    "GET /api/images/{image_id}/content": _get("/api/images/{w.image_id}/content"),
    "GET /api/images/{image_id}/download": _get("/api/images/{w.image_id}/download"),
    "GET /api/images/{image_id}/thumbnail": _get("/api/images/{w.image_id}/thumbnail"),
    "DELETE /api/projects/{project_id}/images/{image_id}": _trash_image,
    "POST /api/projects/{project_id}/images/{image_id}/restore": _restore_image,
    "GET /api/projects/{project_id}/images/deletion-events": _get(
        "/api/projects/{w.project_id}/images/deletion-events"
    ),
    "GET /api/projects/{project_id}/deletion-events": _get(
        "/api/projects/{w.project_id}/deletion-events"
    ),
    "DELETE /api/sequences/{sequence_id}": _trash_sequence,
    "POST /api/sequences/{sequence_id}/restore": _restore_sequence,
    "PUT /api/images/{image_id}/metadata": _image_metadata_write("PUT"),
    "PATCH /api/images/{image_id}/metadata": _image_metadata_write("PATCH"),
    "DELETE /api/images/{image_id}/metadata/{key}": _image_metadata_delete,
    "GET /api/projects/{project_id}/metadata": lambda w: Call(
        "GET", f"/api/projects/{_with_project_metadata(w)}/metadata"
    ),
    "POST /api/projects/{project_id}/metadata": _project_metadata_write(
        "POST", "metadata", {"key": "season", "value": 2024}
    ),
    "GET /api/projects/{project_id}/metadata-dict": _get(
        "/api/projects/{w.project_id}/metadata-dict"
    ),
    "PUT /api/projects/{project_id}/metadata-dict": _project_metadata_write(
        "PUT", "metadata-dict", {"season": 2024, "region": "south"}
    ),
    "GET /api/projects/{project_id}/metadata/{key}": lambda w: Call(
        "GET", f"/api/projects/{_with_project_metadata(w)}/metadata/owner"
    ),
    "PUT /api/projects/{project_id}/metadata/{key}": _project_metadata_write(
        "PUT", "metadata/season", {"value": 2025}
    ),
    "DELETE /api/projects/{project_id}/metadata/{key}": _project_metadata_delete,
    "GET /api/projects/{project_id}/classes": _get("/api/projects/{w.project_id}/classes"),
    "POST /api/projects/{project_id}/classes": lambda w: Call(
        "POST",
        f"/api/projects/{w.project_id}/classes",
        json_body={"name": w.unique("class")},
        state=lambda: w.lookout.count("image_classes"),
    ),
    "GET /api/classes/{class_id}": lambda w: Call("GET", f"/api/classes/{_fresh_class(w)}"),
    "PATCH /api/classes/{class_id}": _class_change("PATCH"),
    "DELETE /api/classes/{class_id}": _class_change("DELETE"),
    "GET /api/images/{image_id}/classifications": _get("/api/images/{w.image_id}/classifications"),
    "POST /api/images/{image_id}/classifications": _classify,
    "DELETE /api/classifications/{classification_id}": _unclassify,
    "GET /api/images/{image_id}/comments": _get("/api/images/{w.image_id}/comments"),
    "POST /api/images/{image_id}/comments": _comment_on("images"),
    "GET /api/sequences/{sequence_id}/comments": _get("/api/sequences/{w.sequence.id}/comments"),
    "POST /api/sequences/{sequence_id}/comments": _comment_on("sequences"),
    "GET /api/comments/{comment_id}": lambda w: Call("GET", f"/api/comments/{_fresh_comment(w)}"),
    "PATCH /api/comments/{comment_id}": _comment_change("PATCH"),
    "DELETE /api/comments/{comment_id}": _comment_change("DELETE"),
    "POST /api/cameras": lambda w: Call(
        "POST",
        "/api/cameras",
        json_body={
            "project_id": w.project_id,
            "source": "sec",
            "source_id": w.unique("cam"),
            "name": "cam",
        },
    ),
    "POST /api/sequences": lambda w: Call(
        "POST",
        "/api/sequences",
        json_body={
            "project_id": w.project_id,
            "source": "sec",
            "source_id": w.unique("seq"),
            "started_at": "2024-06-01T10:00:00Z",
        },
    ),
    "GET /api/sequences": _get("/api/sequences"),
    "GET /api/sequences/{sequence_id}": _get("/api/sequences/{w.sequence.id}"),
    "POST /api/sequences/{sequence_id}/frames": lambda w: Call(
        "POST",
        f"/api/sequences/{w.sequence.id}/frames",
        files=_jpeg_file(),
        data={"metadata": json.dumps({"source": "sec", "source_id": w.unique("frame")})},
    ),
    # An ftp URL is refused per frame without any fetch: the request itself answers 200.
    "POST /api/sequences/{sequence_id}/frames:batch": lambda w: Call(
        "POST",
        f"/api/sequences/{w.sequence.id}/frames:batch",
        json_body={"frames": [{"url": "ftp://example.org/frame.jpg"}]},
    ),
    "POST /api/sequences/{sequence_id}/draft": lambda w: Call(
        "POST", f"/api/sequences/{w.sequence.id}/draft", json_body={"model_name": "platform"}
    ),
    "GET /api/sequences/{sequence_id}/review": _get("/api/sequences/{w.sequence.id}/review"),
    "PUT /api/sequences/{sequence_id}/review": _review,
    "POST /api/sequences/{sequence_id}/review/send-back": _send_back,
    "GET /api/sequences/{sequence_id}/review/versions": _get(
        "/api/sequences/{w.sequence.id}/review/versions"
    ),
    "GET /api/sequences/{sequence_id}/review/versions/{version}": _get(
        "/api/sequences/{w.sequence.id}/review/versions/1"
    ),
    "POST /api/sequences/{sequence_id}/review/versions/{version}/restore": _restore,
    "POST /api/review-queue/claim": lambda w: Call("POST", "/api/review-queue/claim", json_body={}),
    "POST /api/review-queue/renew": _queue_action("renew", ReviewClaim),
    "POST /api/review-queue/release": _queue_action("release", ReviewClaim),
    "POST /api/review-queue/skip": _queue_action("skip", ReviewSkip),
    "GET /api/review-queue/skipped": _get("/api/review-queue/skipped"),
    "DELETE /api/review-queue/skipped/{sequence_id}": _unskip,
    "GET /api/review-queue": _get("/api/review-queue"),
    "GET /api/review-stats": _get("/api/review-stats"),
    "GET /api/groups": _get("/api/groups"),
    "GET /api/groups/{group_id}": lambda w: Call("GET", f"/api/groups/{_group(w)}"),
    "POST /api/groups/{group_id}/decision": _decide_group,
    "DELETE /api/groups/{group_id}/members/{member_id}": _remove_member,
    "PUT /api/projects/{project_id}/group-settings": _group_settings,
    "POST /api/images/{image_id}/analyses": lambda w: Call(
        "POST", f"/api/images/{w.fresh_image()}/analyses", json_body={"model_name": "yolo_sec"}
    ),
    "GET /api/images/{image_id}/analyses": _get("/api/images/{w.image_id}/analyses"),
    "GET /api/images/{image_id}/analyses/compare": _get(
        "/api/images/{w.image_id}/analyses/compare?analysis_id={w.analysis_id}"
    ),
    "GET /api/analyses/{analysis_id}": _get("/api/analyses/{w.analysis_id}"),
    "DELETE /api/analyses/{analysis_id}": lambda w: _delete(
        w, f"/api/analyses/{w.fresh_analysis()}"
    ),
    "GET /api/analyses/{analysis_id}/annotations": _get(
        "/api/analyses/{w.analysis_id}/annotations"
    ),
    "GET /api/analyses/{analysis_id}/export": _get("/api/analyses/{w.analysis_id}/export"),
    "GET /api/analyses/{analysis_id}/artifacts": _get("/api/analyses/{w.analysis_id}/artifacts"),
    "GET /api/analyses/{analysis_id}/artifacts/{artifact_name}": _get(
        "/api/analyses/{w.analysis_id}/artifacts/" + ARTIFACT
    ),
    "GET /api/analyses/{analysis_id}/artifacts/{artifact_name}/url": _get(
        "/api/analyses/{w.analysis_id}/artifacts/" + ARTIFACT + "/url"
    ),
    "GET /api/ml/artifacts/download": _get(
        "/api/ml/artifacts/download?path=ml_outputs/{w.analysis_id}/" + ARTIFACT
    ),
    "GET /api/ml/artifacts/content": _get(
        "/api/ml/artifacts/content?path=ml_outputs/{w.analysis_id}/" + ARTIFACT
    ),
    "POST /api/projects/{project_id}/analyses:queue": lambda w: Call(
        "POST",
        f"/api/projects/{w.project_id}/analyses:queue",
        json_body={"model_name": w.unique("queued"), "limit": 1},
    ),
    "PATCH /api/analyses/{analysis_id}/status": _status_change,
    "POST /api/analyses/{analysis_id}/artifacts/presign": _signed_callback(
        "processing",
        "artifacts/presign",
        {"artifacts": [{"artifact_name": "notes.txt", "content_type": "text/plain"}]},
    ),
    "POST /api/analyses/{analysis_id}/annotations:bulk": _signed_callback(
        "queued", "annotations:bulk", {"annotations": [_box()]}
    ),
    "POST /api/analyses/{analysis_id}/finalize": _signed_callback(
        "processing", "finalize", {"status": "completed"}
    ),
    "POST /api/analyses:claim": _claim,
    "POST /api/analyses/{analysis_id}/heartbeat": _lease("heartbeat"),
    "POST /api/analyses/{analysis_id}/release": _lease("release"),
    "GET /api/analyses/{analysis_id}/image": _get("/api/analyses/{w.analysis_id}/image"),
    "PUT /storage/objects/{key:path}": lambda w: Call(
        "PUT", w.fresh_upload_url(), headers={"Content-Type": "text/plain"}, json_body="text"
    ),
    "GET /storage/objects/{key:path}": lambda w: Call("GET", w.download_url()),
    "GET /api/exports": _get("/api/exports?project_id={w.project_id}"),
    "POST /api/evaluations": lambda w: Call(
        "POST", "/api/evaluations", json_body={"project_id": w.project_id, "model_name": "yolo"}
    ),
    "GET /api/evaluations": _get("/api/evaluations"),
    "GET /api/evaluations/compare": _get("/api/evaluations/compare?ids={w.evaluation_id}"),
    "GET /api/evaluations/models": _get("/api/evaluations/models?project_id={w.project_id}"),
    "GET /api/evaluations/{evaluation_id}": _get("/api/evaluations/{w.evaluation_id}"),
    "DELETE /api/evaluations/{evaluation_id}": lambda w: _delete(
        w, f"/api/evaluations/{w.fresh_evaluation()}"
    ),
    "GET /api/evaluations/{evaluation_id}/outcomes": _get(
        "/api/evaluations/{w.evaluation_id}/outcomes"
    ),
    "GET /": _get("/"),
    "GET /projects": _get("/projects"),
    "GET /projects/{project_id}": _get("/projects/{w.project_id}"),
    "GET /projects/{project_id}/evaluation": _get("/projects/{w.project_id}/evaluation"),
    "GET /projects/{project_id}/trash": _get("/projects/{w.project_id}/trash"),
    "GET /images/{image_id}": _get("/images/{w.image_id}"),
    "GET /images/{image_id}/compare": _get("/images/{w.image_id}/compare"),
    "GET /sequences": _get("/sequences"),
    "GET /sequences/queue": _get("/sequences/queue"),
    "GET /sequences/next": _get("/sequences/next?after={w.sequence.id}"),
    "GET /sequences/{sequence_id}": _get("/sequences/{w.sequence.id}"),
    "GET /reviewers": _get("/reviewers"),
    "GET /account": _get("/account"),
    "GET /admin": _get("/admin"),
    "GET /groups": _get("/groups"),
    "GET /groups/{group_id}": lambda w: Call("GET", f"/groups/{_group(w)}"),
}


# --- sending one cell ---------------------------------------------------------------------


def caller_headers(w: SecurityWorld, caller: str, call: Call) -> dict[str, str]:
    """The credentials one kind of caller sends (signatures cover this exact request)."""
    keys = {
        rules.MEMBER: w.member_key,
        rules.OTHER_GROUP: w.other_key,
        rules.ADMIN: w.admin_key,
        rules.REVOKED_KEY: w.revoked_key,
        rules.EXPIRED_KEY: w.expired_key,
    }
    if caller in keys:
        return {"X-API-Key": keys[caller]}
    if caller == rules.PROXY_MEMBER:
        return {
            "X-User-Email": w.proxy_email,
            "X-Proxy-Secret": PROXY_SECRET,
            "Origin": w.url,
            "Sec-Fetch-Site": "same-origin",
        }
    if caller in (rules.SIGNED, rules.BAD_SIGNATURE):
        secret = HMAC_SECRET if caller == rules.SIGNED else WRONG_SECRET
        return sign_request(secret, call.method, call.path, call.body)
    if caller == rules.LEGACY_SIGNED:
        return {k: v for k, v in raw_body_headers(call.body).items() if k != "Content-Type"}
    if caller == rules.REPLAYED_SIGNATURE:
        return {k: v for k, v in w.spent_signature.items() if k != "Content-Type"}
    assert caller == rules.NO_CREDENTIALS, caller
    return {}


def _request(
    client: httpx.Client, call: Call, path: str, headers: dict[str, str]
) -> httpx.Response:
    all_headers = dict(call.headers)
    if call.json_body is not None:
        all_headers.setdefault("Content-Type", "application/json")
    all_headers.update(headers)
    content = call.body if call.json_body is not None else None
    return client.request(
        call.method, path, content=content, files=call.files, data=call.data, headers=all_headers
    )


def _presigned_variant(w: SecurityWorld, caller: str, call: Call) -> str:
    """The URL a caller of a storage route sends: valid, re-signed wrongly, expired or bare."""
    parts = urlsplit(call.path)
    if caller == rules.SIGNED:
        return call.path
    if caller not in (rules.BAD_SIGNATURE, rules.REPLAYED_SIGNATURE):
        return parts.path  # keys and HMAC headers do not open storage URLs
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    key = parts.path.removeprefix("/storage/objects/")
    if caller == rules.BAD_SIGNATURE:  # a genuine signature, of another object
        other = key.replace(key.split("/")[1], str(uuid.uuid4()))
        query["signature"] = w.storage().sign(
            call.method, other, query.get("content_type", ""), int(query["expires"])
        )
    else:  # a genuine URL whose time is over
        query["expires"] = str(int(time.time()) - 60)
        query["signature"] = w.storage().sign(
            call.method, key, query.get("content_type", ""), int(query["expires"])
        )
    return f"{parts.path}?{urlencode(query)}"


@dataclass
class Cell:
    """What one caller got from one route, and what the route's object looked like before."""

    response: httpx.Response
    requests: int
    before: Any


def send_cell(w: SecurityWorld, kind: str, caller: str, call: Call) -> Cell:
    """Send the example as `caller`."""
    state = call.state or (lambda: None)
    if kind == rules.PRESIGNED:
        path = _presigned_variant(w, caller, call)
        headers = {} if path != urlsplit(path).path else caller_headers(w, caller, call)
        before = state()
        return Cell(_request(w.raw, call, path, headers), 1, before)
    if caller == rules.REPLAYED_SIGNATURE and kind in rules.SIGNED_KINDS:
        headers = caller_headers(w, rules.SIGNED, call)
        first = _request(w.raw, call, call.path, headers)
        assert first.is_success, f"{call.method} {call.path} signed: {first.text}"
        before = state()  # the replay must not take effect a second time
        return Cell(_request(w.raw, call, call.path, headers), 2, before)
    before = state()
    return Cell(_request(w.raw, call, call.path, caller_headers(w, caller, call)), 1, before)


def judge(w: SecurityWorld, kind: str, caller: str, call: Call, cell: Cell) -> str:
    """An empty string when the answer is what the rule allows, else what went wrong."""
    expected = rules.EXPECTED[kind][caller]
    response = cell.response
    got = response.status_code
    if expected == rules.OK:
        if got >= 400:
            return f"expected success, got {got}: {response.text[:200]}"
        if caller == rules.OTHER_GROUP:
            leaked = sorted(i for i in w.owner_ids() if i in response.text)
            if leaked:
                return f"another group was shown the owners' {leaked}"
        return ""
    if got != expected:
        return f"expected {expected}, got {got}: {response.text[:200]}"
    if call.state is not None and call.state() != cell.before:
        return f"a refused request changed something: {cell.before} -> {call.state()}"
    return ""


def test_every_route_has_an_access_rule_and_an_example(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'routes.db'}"))
    assert rules.unruled(app) == [], "routes without an access rule in access_rules.RULES"
    assert rules.stale(app) == [], "rules for routes the app no longer has"
    assert set(EXAMPLES) == set(rules.RULES), "every rule needs an example request"
    assert len(rules.app_routes(app)) > 60  # the walk reached the included routers


def test_a_new_route_without_a_rule_fails_by_name(tmp_path: Path) -> None:
    app: FastAPI = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'routes.db'}"))

    @app.post("/api/forgotten/{thing_id}")
    def forgotten(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @app.get("/hidden-page", include_in_schema=False)
    def hidden() -> dict[str, str]:
        return {}

    assert rules.unruled(app) == ["GET /hidden-page", "POST /api/forgotten/{thing_id}"]


def documented(spec: dict[str, Any], route: str) -> set[str] | None:
    """Status codes the OpenAPI document lists for a route (None: not in the document)."""
    method, path = route.split(" ", 1)
    operation = spec["paths"].get(path, {}).get(method.lower())
    return None if operation is None else set(operation["responses"])


def test_access_matrix(security_world: SecurityWorld) -> None:
    w = security_world
    spec = w.member.get("/openapi.json").json()
    failures: list[str] = []
    cells = sent = allowed = denied = 0
    for route, kind in sorted(rules.RULES.items()):
        statuses = documented(spec, route)
        for caller in rules.CALLERS:
            call = EXAMPLES[route](w)
            cell = send_cell(w, kind, caller, call)
            problem = judge(w, kind, caller, call, cell)
            if (
                not problem
                and statuses is not None
                and str(cell.response.status_code) not in statuses
            ):
                problem = f"answered {cell.response.status_code}, not in the API document"
            if problem:
                failures.append(f"{route} [{kind}] as {caller}: {problem}")
            cells += 1
            sent += cell.requests
            allowed += cell.response.status_code < 400
            denied += cell.response.status_code >= 400
    record(
        f"access matrix ({w.lookout.backend})",
        routes=len(rules.RULES),
        callers=len(rules.CALLERS),
        cells_checked=cells,
        requests_sent=sent,
        allowed=allowed,
        denied=denied,
        not_as_the_rules_say=len(failures),
    )
    assert failures == [], "\n".join(failures)
    assert denied > allowed > 0


def _matrix_pass(
    w: SecurityWorld, routes: list[str], callers: tuple[str, ...], spell: Callable[[str], str]
) -> tuple[list[str], int]:
    """Each route's example, its path spelled by `spell`, sent as each caller and judged by
    the route's rule: (what was not as the rules say, requests sent)."""
    spec = w.member.get("/openapi.json").json()
    failures: list[str] = []
    sent = 0
    for route in routes:
        kind, statuses = rules.RULES[route], documented(spec, route)
        for caller in callers:
            example = EXAMPLES[route](w)
            call = replace(example, path=spell(example.path))
            cell = send_cell(w, kind, caller, call)
            problem = judge(w, kind, caller, call, cell)
            got = cell.response.status_code
            if not problem and statuses is not None and str(got) not in statuses:
                problem = f"answered {got}, not in the API document"
            if not problem and got in (307, 308):  # the router's redirect to another spelling
                problem = f"redirected ({got}) to {cell.response.headers.get('location')}"
            if problem:
                failures.append(f"{call.method} {call.path} [{kind}] as {caller}: {problem}")
            sent += cell.requests
    return failures, sent


def test_access_matrix_under_the_aliases(security_world: SecurityWorld) -> None:
    """VISTA's prefixes (lookout/aliases.py) serve the same routes: every /api route, under
    /api-key and under /api-ml, answers each kind of caller (rules.ALIAS_CALLERS) exactly as
    its rule says under /api. The prefix a caller picks grants nothing and skips no check."""
    w = security_world
    routes = rules.api_routes()
    failures: list[str] = []
    sent = 0
    for alias in rules.ALIASES:
        found, count = _matrix_pass(
            w, routes, rules.ALIAS_CALLERS, lambda p, a=alias: rules.aliased(p, a)
        )
        failures += found
        sent += count
    record(
        f"access matrix under the aliases ({w.lookout.backend})",
        aliases=len(rules.ALIASES),
        routes=len(routes),
        callers=len(rules.ALIAS_CALLERS),
        cells_checked=len(rules.ALIASES) * len(routes) * len(rules.ALIAS_CALLERS),
        requests_sent=sent,
        not_as_the_rules_say=len(failures),
    )
    assert failures == [], "\n".join(failures)
    assert len(routes) > 50


def with_trailing_slash(path: str) -> str:
    """The path (query kept) spelled with a trailing slash."""
    bare, question, query = path.partition("?")
    return f"{bare}/{question}{query}"


def test_every_route_answers_with_a_trailing_slash(security_world: SecurityWorld) -> None:
    """A route spelled with a trailing slash (VISTA's `POST /api/projects/`) is answered as the
    route, never redirected: under /api, under an alias, and for the web pages, with the
    same rule (an allowed caller, a caller without credentials and a pipeline's signature).
    Mounted folders and presigned storage URLs are paths as spelled and stay so."""
    w = security_world
    routes = [
        route
        for route, kind in rules.RULES.items()
        if kind != rules.PRESIGNED and not route.startswith("MOUNT ") and route != "GET /"
    ]
    callers = (rules.MEMBER, rules.PROXY_MEMBER, rules.SIGNED, rules.NO_CREDENTIALS)
    failures, sent = _matrix_pass(w, sorted(routes), callers, with_trailing_slash)
    api = rules.api_routes()
    for i, alias in enumerate(rules.ALIASES):
        spell = lambda p, a=alias: with_trailing_slash(rules.aliased(p, a))  # noqa: E731
        found, count = _matrix_pass(w, api[i :: len(rules.ALIASES)], callers, spell)
        failures += found
        sent += count
    record(
        f"trailing slashes ({w.lookout.backend})",
        routes=len(routes),
        callers=len(callers),
        requests_sent=sent,
        not_as_the_rules_say=len(failures),
    )
    assert failures == [], "\n".join(failures)


UI_WRITES = (
    "PUT /api/sequences/{sequence_id}/review",  # review.js
    "POST /api/evaluations",  # evaluation.js
    "POST /api/projects/{project_id}/analyses:queue",  # queue.js
)


def test_cross_site_writes_refused_on_every_browser_route(security_world: SecurityWorld) -> None:
    """Proxy credentials ride along with any request a browser makes: every route that changes
    something with them refuses a request labelled cross-site, and nothing changes."""
    w = security_world
    browser = caller_headers(w, rules.PROXY_MEMBER, Call("GET", "/"))
    hostile = (
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": ""},
        {"Origin": "null", "Sec-Fetch-Site": ""},
    )
    routes = [
        r
        for r, kind in rules.RULES.items()
        if kind in (rules.USER, rules.PROJECT, rules.AUTHOR, rules.AUTHOR_OR_ADMIN)
        and r.split()[0] in rules.STATE_CHANGING
    ]
    failures: list[str] = []
    refused = 0
    for route in sorted(routes):
        for labels in hostile:
            call = EXAMPLES[route](w)
            headers = {**browser, **labels}
            before = call.state() if call.state else None
            response = _request(w.raw, call, call.path, {k: v for k, v in headers.items() if v})
            if response.status_code != 403 or "cross-site" not in response.text:
                failures.append(f"{route} with {labels}: {response.status_code} {response.text}")
            elif call.state is not None and call.state() != before:
                failures.append(f"{route} with {labels}: refused but changed something")
            else:
                refused += 1
    record(
        f"cross-site writes ({w.lookout.backend})",
        state_changing_routes=len(routes),
        requests_sent=len(routes) * len(hostile),
        refused_as_expected=refused,
    )
    assert failures == [], "\n".join(failures)
    # The writes the UI's own scripts make (lookout/web/static) are among them.
    assert set(UI_WRITES) <= set(routes)


def test_references_to_another_groups_objects_are_refused(security_world: SecurityWorld) -> None:
    """A member of another group names the owners' objects inside requests about its own:
    nothing of the owners' is used, changed or shown (beyond the ids the caller sent)."""
    w = security_world
    other = w.lookout.client({"X-API-Key": w.other_key})
    mine = w.other_project_id
    files = {"file": ("own.jpg", distinct_jpeg(), "image/jpeg")}
    own_image = other.post(f"/api/projects/{mine}/images", files=files).json()["id"]
    own_sequence = other.post(
        "/api/sequences",
        json={
            "project_id": mine,
            "source": "other",
            "source_id": w.unique("own"),
            "started_at": "2024-06-01T10:00:00Z",
        },
    ).json()["id"]
    frame, box = w.sequence.frames[0], [0.1, 0.1, 0.2, 0.2]
    requests: dict[str, tuple[set[int], Callable[[], httpx.Response]]] = {
        "upload into own project, in the owners' sequence": (
            {400},
            lambda: other.post(
                f"/api/projects/{mine}/images",
                files=_jpeg_file(),
                data={"sequence_id": w.sequence.id},
            ),
        ),
        "own sequence on the owners' camera": (
            {400},
            lambda: other.post(
                "/api/sequences",
                json={
                    "project_id": mine,
                    "camera_id": w.camera_id,
                    "source": "other",
                    "source_id": w.unique("s"),
                    "started_at": "2024-06-01T10:00:00Z",
                },
            ),
        ),
        "compare own image with the owners' analysis": (
            {404},
            lambda: other.get(
                f"/api/images/{own_image}/analyses/compare", params={"analysis_id": w.analysis_id}
            ),
        ),
        "queue own project on the owners' sequence": (
            {404},
            lambda: other.post(
                f"/api/projects/{mine}/analyses:queue",
                json={"model_name": "m", "sequence_id": w.sequence.id},
            ),
        ),
        "review own sequence with the owners' frames": (
            {400},
            lambda: other.put(
                f"/api/sequences/{own_sequence}/review",
                json={"tracks": [{"boxes": [{"frame_id": frame, "xyxyn": box}]}]},
            ),
        ),
        "evaluate own project on the owners' camera": (
            {400, 404},
            lambda: other.post(
                "/api/evaluations",
                json={"project_id": mine, "model_name": "yolo", "camera_id": w.camera_id},
            ),
        ),
        "export own project on the owners' camera": (
            {400, 404},
            lambda: other.get(
                "/api/exports", params={"project_id": mine, "camera_id": w.camera_id}
            ),
        ),
        "own images filtered by the owners' sequence": (
            {200},
            lambda: other.get(
                f"/api/projects/{mine}/images", params={"sequence_id": w.sequence.id}
            ),
        ),
        "sequences of the owners' project": (
            {200},
            lambda: other.get("/api/sequences", params={"project_id": w.project_id}),
        ),
        "evaluations of the owners' project": (
            {200},
            lambda: other.get("/api/evaluations", params={"project_id": w.project_id}),
        ),
        "sequence page of the owners' project": (
            {200},
            lambda: other.get("/sequences", params={"project_id": w.project_id}),
        ),
        "outcomes of the owners' evaluation": (
            {404},
            lambda: other.get(
                f"/api/evaluations/{w.evaluation_id}/outcomes", params={"image_id": own_image}
            ),
        ),
    }
    before = w.member.get(f"/api/sequences/{w.sequence.id}").json()
    failures = []
    for what, (allowed, send) in requests.items():
        response = send()
        sent = str(response.request.url) + response.request.read().decode(errors="replace")
        leaked = sorted(i for i in w.owner_ids() if i in response.text and i not in sent)
        if response.status_code not in allowed or leaked:
            failures.append(f"{what}: {response.status_code} {response.text[:200]} {leaked}")
    record(
        f"references across groups ({w.lookout.backend})",
        requests_sent=len(requests),
        refused_or_empty=len(requests) - len(failures),
    )
    assert failures == [], "\n".join(failures)
    assert w.member.get(f"/api/sequences/{w.sequence.id}").json() == before


def test_only_admins_create_groups(security_world: SecurityWorld) -> None:
    """No route is for admins only; creating a group with a project is, and naming a group
    one is not a member of is refused."""
    w = security_world
    body = {"name": w.unique("p"), "group": w.unique("new-group"), "create_group": True}
    member = w.member.post("/api/projects", json=body)
    foreign = w.member.post("/api/projects", json={"name": w.unique("p"), "group": "outsiders"})
    admin = w.lookout.client({"X-API-Key": w.admin_key}).post("/api/projects", json=body)
    assert (member.status_code, member.json()["field"]) == (403, "create_group")
    assert (foreign.status_code, foreign.json()["field"]) == (403, "group")
    assert admin.status_code == 201, admin.text
