"""A populated Lookout for the hostile-input suite: two groups, every kind of object, every key.

The owning group's member ("alice") holds a project with a camera, a reviewed sequence of two
frames, a model's completed analyses of those frames, an uploaded image with an analysis that
went through the ML document's six steps (annotations and an HTML artifact), and a stored
evaluation. A member of another group holds a project of their own. An admin belongs to a
group of admins only. The member also has a revoked and an expired key, and the proxy is
configured so a browser-style caller (proxy headers) can be tried too.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from lookout.accounts import service as accounts
from lookout.auth.guards import FailureBrake
from lookout.pipeline.signing import sign_request
from lookout.storage import LocalStorage, make_storage
from tests.conftest import HMAC_SECRET
from tests.exports.builders import Seq, World, distinct_jpeg, make_world, smoke
from tests.support import Lookout

PROXY_SECRET = "proxy-secret-3c1f9b2e"
WRONG_SECRET = "not-the-hmac-secret"
OWNER_GROUP = "owners"
OTHER_GROUP = "outsiders"
OWNER_PROJECT = "owners-private-project"
ARTIFACT = "report.html"
ARTIFACT_BODY = b"<html><script>alert(document.domain)</script></html>"

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def app_of(lookout: Lookout) -> Any:
    """The FastAPI app a LiveServer runs."""
    return lookout.server.server.config.app


def lift_auth_brake(lookout: Lookout) -> None:
    """Suites that send hundreds of refused credentials on purpose would trip the failed-
    authentication brake (20 a minute per client address) and see 429 everywhere; the brake
    itself is tested on a server of its own."""
    app_of(lookout).state.runtime.auth_brake = FailureBrake(limit=1_000_000)


@dataclass
class SecurityWorld:
    """The running server, its parties and the ids of what the owning group holds."""

    lookout: Lookout
    owner: World
    member_key: str
    other_key: str
    admin_key: str
    revoked_key: str
    expired_key: str
    proxy_email: str
    other_project_id: str
    camera_id: str
    sequence: Seq
    image_id: str
    analysis_id: str
    evaluation_id: str
    spent_signature: dict[str, str]
    raw: httpx.Client
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _analyses: Iterator[int] = field(default_factory=lambda: itertools.count(0))
    _analysed_image: str = ""

    @property
    def url(self) -> str:
        return self.lookout.url

    @property
    def project_id(self) -> str:
        return self.owner.project_id

    @property
    def member(self) -> httpx.Client:
        return self.owner.client

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self._names)}-{uuid.uuid4().hex[:6]}"

    def owner_ids(self) -> set[str]:
        """Ids and names of the owning group's objects: none may reach another group."""
        return {
            self.project_id,
            OWNER_PROJECT,
            self.camera_id,
            self.sequence.id,
            *self.sequence.frames,
            self.image_id,
            self.analysis_id,
            self.evaluation_id,
        }

    # --- pipeline callbacks -------------------------------------------------------------

    def signed(
        self, method: str, path: str, payload: Any = None, *, secret: str = HMAC_SECRET
    ) -> httpx.Response:
        """A request signed with Lookout's v1 scheme (what the SDK sends)."""
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", **sign_request(secret, method, path, body)}
        return self.raw.request(method, path, content=body, headers=headers)

    def _ok(self, response: httpx.Response) -> dict[str, Any]:
        assert response.is_success, f"{response.request.url}: {response.text}"
        return response.json() if response.content else {}

    # --- fresh objects, so a cell that changes or deletes something has its own ----------

    def fresh_project(self) -> str:
        return self._ok(self.member.post("/api/projects", json={"name": self.unique("p")}))["id"]

    def fresh_image(self) -> str:
        files = {"file": ("frame.jpg", distinct_jpeg(), "image/jpeg")}
        response = self.member.post(f"/api/projects/{self.project_id}/images", files=files)
        return self._ok(response)["id"]

    def fresh_sequence(self) -> str:
        body = {
            "project_id": self.project_id,
            "source": "sec",
            "source_id": self.unique("s"),
            "started_at": "2024-06-01T10:00:00Z",
        }
        return self._ok(self.member.post("/api/sequences", json=body))["id"]

    def fresh_analysis(self, status: str = "queued", model: str = "yolo_sec") -> str:
        # An image holds at most ML_MAX_ANALYSES_PER_IMAGE (200) analyses: move on in time.
        if next(self._analyses) % 100 == 0:
            self._analysed_image = self.fresh_image()
        created = self.member.post(
            f"/api/images/{self._analysed_image}/analyses", json={"model_name": model}
        )
        analysis_id = self._ok(created)["id"]
        if status != "queued":
            path = f"/api/analyses/{analysis_id}/status"
            self._ok(self.signed("PATCH", path, {"status": status}))
        return analysis_id

    def fresh_claimed(self) -> tuple[str, str]:
        """An analysis claimed by a worker: (analysis id, worker id)."""
        model, worker = self.unique("queue-model"), self.unique("worker")
        analysis_id = self.fresh_analysis(model=model)
        claim = {"worker_id": worker, "model_name": model}
        claimed = self._ok(self.signed("POST", "/api/analyses:claim", claim))["analyses"]
        assert [c["id"] for c in claimed] == [analysis_id]
        return analysis_id, worker

    def fresh_evaluation(self) -> str:
        body = {"project_id": self.project_id, "model_name": "yolo"}
        return self._ok(self.member.post("/api/evaluations", json=body))["id"]

    def fresh_upload_url(self, name: str = "upload.bin", content_type: str = "text/plain") -> str:
        """A presigned PUT URL (path and query) for an artifact of a new analysis."""
        analysis_id = self.fresh_analysis(status="processing")
        payload = {"artifacts": [{"artifact_name": name, "content_type": content_type}]}
        path = f"/api/analyses/{analysis_id}/artifacts/presign"
        presigned = self._ok(self.signed("POST", path, payload))["presigned_urls"][0]
        return relative(presigned["upload_url"])

    def download_url(self, analysis_id: str | None = None, name: str = ARTIFACT) -> str:
        """A presigned GET URL (path and query) of an uploaded artifact."""
        path = f"/api/analyses/{analysis_id or self.analysis_id}/artifacts/{name}/url"
        return relative(self._ok(self.member.get(path))["url"])

    def storage(self) -> LocalStorage:
        storage = make_storage(self.lookout.settings)
        assert isinstance(storage, LocalStorage)
        return storage


def relative(url: str) -> str:
    """Path and query of a URL this server handed out."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _key(lookout: Lookout, email: str, group: str | None, **kwargs: Any) -> str:
    return lookout.user_with_key(email, group, **kwargs)


def _revoked_key(lookout: Lookout, email: str) -> str:
    key = lookout.user_with_key(email, OWNER_GROUP)
    with lookout.sessions() as session:
        accounts.revoke_api_key(session, prefix_or_id=key.split("_")[1])
        session.commit()
    return key


def _proxy_member(lookout: Lookout, email: str) -> None:
    with lookout.sessions() as session:
        user = accounts.get_or_create_user(session, email=email)
        group = accounts.get_or_create_group(session, name=OWNER_GROUP)
        accounts.add_member(session, user=user, group=group)
        session.commit()


def build_world(lookout: Lookout) -> SecurityWorld:
    """Fill a running Lookout with the parties and objects the suite needs."""
    lift_auth_brake(lookout)
    owner = make_world(lookout, email="alice@example.org", group=OWNER_GROUP, name=OWNER_PROJECT)
    member_key = owner.client.headers["X-API-Key"]
    other = lookout.keyed_client("mallory@example.org", OTHER_GROUP)
    other_project = lookout.create_project(other, "outsiders-project")
    seq = owner.add_sequence("sec-seq", frames=2)
    owner.review(seq, [smoke(seq, {0: [0.1, 0.2, 0.3, 0.5], 1: [0.12, 0.2, 0.35, 0.55]})])
    for frame in seq.frames:
        owner.predict(frame, [("smoke", [0.1, 0.2, 0.3, 0.5], 0.9)])
    raw = lookout.client()
    world = SecurityWorld(
        lookout=lookout,
        owner=owner,
        member_key=member_key,
        other_key=other.headers["X-API-Key"],
        admin_key=_key(lookout, "root@example.org", "admins", admin=True),
        revoked_key=_revoked_key(lookout, "alice@example.org"),
        expired_key=_key(
            lookout,
            "alice@example.org",
            OWNER_GROUP,
            expires_at=datetime.now(UTC) - timedelta(minutes=1),
        ),
        proxy_email="bob.browser@example.org",
        other_project_id=other_project["id"],
        camera_id=owner.camera["id"] if owner.camera else "",
        sequence=seq,
        image_id="",
        analysis_id="",
        evaluation_id="",
        spent_signature={},
        raw=raw,
    )
    _proxy_member(lookout, world.proxy_email)
    world.analysis_id = _six_steps(world)
    world.image_id = world._analysed_image  # the image of that analysis
    world.evaluation_id = world.fresh_evaluation()
    return world


def _six_steps(world: SecurityWorld) -> str:
    """An analysis taken through the ML document's steps, keeping one spent signature."""
    analysis_id = world.fresh_analysis()
    base = f"/api/analyses/{analysis_id}"
    body = json.dumps({"status": "processing"}).encode()
    headers = {
        "Content-Type": "application/json",
        **sign_request(HMAC_SECRET, "PATCH", f"{base}/status", body),
    }
    assert world.raw.patch(f"{base}/status", content=body, headers=headers).is_success
    world.spent_signature = headers
    artifact = {"artifact_name": ARTIFACT, "content_type": "text/html"}
    presigned = world.signed("POST", f"{base}/artifacts/presign", {"artifacts": [artifact]})
    upload = relative(presigned.json()["presigned_urls"][0]["upload_url"])
    put = world.raw.put(upload, content=ARTIFACT_BODY, headers={"Content-Type": "text/html"})
    assert put.is_success, put.text
    box = {
        "annotation_type": "bounding_box",
        "class_name": "smoke",
        "confidence": 0.8,
        "data": {"bbox": [4, 4, 20, 20], "format": "xyxy"},
    }
    bulk = world.signed("POST", f"{base}/annotations:bulk", {"annotations": [box]})
    assert bulk.status_code == 201, bulk.text
    assert world.signed("POST", f"{base}/finalize", {"status": "completed"}).is_success
    return analysis_id


@pytest.fixture
def security_world_factory(
    lookout_factory: Callable[..., Lookout],
) -> Callable[..., SecurityWorld]:
    """Populated worlds on this test's database, with settings overrides."""
    return lambda **overrides: build_world(
        lookout_factory(**{"PROXY_SECRET": PROXY_SECRET, **overrides})
    )


@pytest.fixture
def security_world(security_world_factory: Callable[..., SecurityWorld]) -> SecurityWorld:
    """The populated world on this test's database (SQLite and PostgreSQL)."""
    return security_world_factory()
