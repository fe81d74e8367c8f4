"""Helpers for the ML analysis API tests: images to analyze and the three signing styles."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from lookout.pipeline.signing import sign_request
from tests.conftest import HMAC_SECRET
from tests.support import Lookout, jpeg_bytes


@dataclass
class Setup:
    """A running Lookout with a user, a project and one image to analyze."""

    lookout: Lookout
    api_key: str
    client: httpx.Client  # user-authenticated (X-API-Key)
    raw: httpx.Client  # no credentials: pipelines sign their callbacks
    project_id: str
    image_id: str
    width: int
    height: int

    @property
    def url(self) -> str:
        return self.lookout.url

    def create_analysis(self, model_name: str = "yolo_v8", **extra: Any) -> dict[str, Any]:
        body = {"model_name": model_name, "model_version": "v8.0.0", **extra}
        response = self.client.post(f"/api/images/{self.image_id}/analyses", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def v1(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        secret: str = HMAC_SECRET,
        **sign: Any,
    ) -> httpx.Response:
        """Send a request signed with Lookout's v1 scheme."""
        if body is None:
            body = b"" if payload is None else json.dumps(payload).encode()
        signed = sign_request(secret, method, path, body, **sign)
        all_headers = {"Content-Type": "application/json", **signed, **(headers or {})}
        return self.raw.request(method, path, content=body, headers=all_headers)

    def legacy(
        self,
        method: str,
        path: str,
        payload: Any,
        *,
        secret: str = HMAC_SECRET,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send as the document's Python client does: canonical JSON signed, default JSON sent."""
        all_headers = {**python_client_headers(payload, secret), **(headers or {})}
        return self.raw.request(
            method, path, content=json.dumps(payload).encode(), headers=all_headers
        )

    def raw_signed(
        self,
        method: str,
        path: str,
        body: bytes,
        *,
        secret: str = HMAC_SECRET,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send as the document's Node client and curl example do: the raw body signed."""
        all_headers = {**raw_body_headers(body, secret, timestamp), **(headers or {})}
        return self.raw.request(method, path, content=body, headers=all_headers)


def python_client_headers(payload: Any, secret: str = HMAC_SECRET) -> dict[str, str]:
    """The document's `create_hmac_headers`: canonical JSON, bare hex, unsigned timestamp."""
    message = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-ML-Signature": signature,
        "X-ML-Timestamp": str(int(time.time())),
    }


def raw_body_headers(
    body: bytes, secret: str = HMAC_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"Content-Type": "application/json", "X-ML-Signature": signature, "X-ML-Timestamp": ts}


def make_setup(
    lookout: Lookout,
    *,
    width: int = 640,
    height: int = 480,
    email: str = "pipeline@example.org",
    group: str = "team",
) -> Setup:
    api_key = lookout.user_with_key(email, group)
    client = lookout.client({"X-API-Key": api_key})
    project = lookout.create_project(client, "cams")
    uploaded = lookout.upload(client, project["id"], jpeg_bytes(width, height))
    assert uploaded.status_code == 201, uploaded.text
    return Setup(
        lookout=lookout,
        api_key=api_key,
        client=client,
        raw=lookout.client(),
        project_id=project["id"],
        image_id=uploaded.json()["id"],
        width=width,
        height=height,
    )


def box(
    x: float = 100,
    y: float = 150,
    w: float = 50,
    h: float = 100,
    *,
    class_name: str = "person",
    confidence: float = 0.95,
    fmt: str | None = "xywh",
    **extra: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {"bbox": [x, y, w, h]}
    if fmt is not None:
        data["format"] = fmt
    return {
        "annotation_type": "bounding_box",
        "class_name": class_name,
        "confidence": confidence,
        "data": data,
        **extra,
    }
