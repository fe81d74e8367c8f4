"""HTTP client of the Lookout API calls the importer needs, with the shared retry policy."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import httpx

from lookout.httpretry import (
    RetryPolicy,
    TransportFailure,
    call_timeout,
    error_detail,
    send,
)

log = logging.getLogger(__name__)

LIST_PAGE = 200


class LookoutError(Exception):
    """Lookout answered with an error, or not at all."""

    def __init__(self, message: str, status: int | None = None) -> None:
        """Keep the status (None when there was no answer)."""
        super().__init__(message)
        self.status = status


class LookoutAuthError(LookoutError):
    """Lookout refused the caller (no key, a bad key, or not allowed)."""


@dataclass(frozen=True)
class Upserted:
    """The id of an object and whether it was already there."""

    id: str
    existing: bool
    body: dict[str, Any]


class LookoutClient:
    """Calls to one Lookout server, authenticated with an API key or through local mode."""

    def __init__(
        self, http: httpx.Client, base_url: str, *, api_key: str | None, policy: RetryPolicy
    ) -> None:
        """Prepare; nothing is sent until the first call."""
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self._headers = {"X-API-Key": api_key} if api_key else {}

    def __repr__(self) -> str:
        """Never show the key."""
        return f"LookoutClient({self.base_url!r})"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send with retries; raise LookoutError for anything but a 2xx answer."""
        try:
            response = send(
                self.http,
                method,
                f"{self.base_url}{path}",
                policy=self.policy,
                logger=log,
                headers=self._headers,
                **kwargs,
            )
        except TransportFailure as exc:
            raise LookoutError(f"Lookout unreachable at {self.base_url}: {exc}") from exc
        if response.is_success:
            return response
        detail = f"{method} {path} answered HTTP {response.status_code}: {error_detail(response)}"
        if response.status_code in (401, 403):
            raise LookoutAuthError(detail, response.status_code)
        raise LookoutError(detail, response.status_code)

    def check(self) -> None:
        """Fail early when the server cannot be reached or its database does not answer."""
        self.request("GET", "/api/ready")

    def ensure_project(self, name: str) -> Upserted:
        """The project named after an organization, in a group of the same name."""
        body = {"name": name, "group": name, "create_group": True, "exist_ok": True}
        return _upserted(self.request("POST", "/api/projects", json=body))

    def upsert_camera(self, payload: dict[str, Any]) -> Upserted:
        """Create a camera, or find it by (source, source_id)."""
        return _upserted(self.request("POST", "/api/cameras", json=payload))

    def upsert_sequence(self, payload: dict[str, Any]) -> Upserted:
        """Create a sequence, or find it by (source, source_id)."""
        return _upserted(self.request("POST", "/api/sequences", json=payload))

    def add_frame_from_url(self, sequence_id: str, payload: dict[str, Any]) -> Upserted:
        """Let the server fetch the frame from its URL and store it with its predictions."""
        path = f"/api/sequences/{sequence_id}/frames"
        return _upserted(self.request("POST", path, json=payload, final=_fetch_verdict))

    def add_frames_from_urls(
        self, sequence_id: str, payloads: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Let the server fetch several frames (one after the other); an answer per frame.

        Each answer has `status` (201 stored, 200 already there, else this frame's error) and
        `detail`. The call may last the single-frame timeout once per frame.
        """
        path = f"/api/sequences/{sequence_id}/frames:batch"
        each = self.policy.timeout_s
        timeout = call_timeout(replace(self.policy, timeout_s=each * len(payloads)))
        response = self.request("POST", path, json={"frames": payloads}, timeout=timeout)
        try:
            answers = response.json()["frames"]
        except (ValueError, KeyError, TypeError) as exc:
            raise LookoutError(f"{path}: the answer has no frames") from exc
        if not isinstance(answers, list) or len(answers) != len(payloads):
            raise LookoutError(f"{path}: {len(payloads)} frames sent, the answer does not match")
        return answers

    def add_frame_file(
        self,
        sequence_id: str,
        content: bytes,
        filename: str,
        content_type: str,
        metadata: dict[str, Any],
    ) -> Upserted:
        """Upload a frame the importer downloaded itself, with its metadata."""
        files = {"file": (filename, content, content_type)}
        data = {"metadata": json.dumps(metadata)}
        path = f"/api/sequences/{sequence_id}/frames"
        return _upserted(self.request("POST", path, files=files, data=data))

    def list_sequences(self, *, source: str, date_from: date, date_to: date) -> Iterator[dict]:
        """Stored sequences of a source started in [date_from, date_to], all pages."""
        offset = 0
        while True:
            params = {
                "source": source,
                "date_from": date_from.isoformat(),
                "date_to": date_to.isoformat(),
                "limit": LIST_PAGE,
                "offset": offset,
            }
            body = self.request("GET", "/api/sequences", params=params).json()
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise LookoutError(f"GET /api/sequences: unexpected answer {str(body)[:200]}")
            yield from items
            offset += len(items)
            total = body.get("total")
            if not items or len(items) < LIST_PAGE or (isinstance(total, int) and offset >= total):
                return

    def draft(self, sequence_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """Ask the server to draft the sequence's review from its predictions."""
        return self.request("POST", f"/api/sequences/{sequence_id}/draft", json=params).json()

    def get_sequence(self, sequence_id: str) -> dict[str, Any]:
        """One sequence with its frames and review."""
        return self.request("GET", f"/api/sequences/{sequence_id}").json()


def _fetch_verdict(response: httpx.Response) -> bool:
    """A JSON 502 is Lookout saying it could not fetch the URL (after its own retries).

    A proxy in front of Lookout answers its 502s in HTML: those are retried.
    """
    content_type = response.headers.get("content-type", "")
    return response.status_code == 502 and content_type.startswith("application/json")


def _upserted(response: httpx.Response) -> Upserted:
    """Read ``id`` and ``existing`` (200 means it was already there)."""
    try:
        body = response.json()
    except ValueError as exc:
        raise LookoutError(f"{response.url.path}: answer is not JSON") from exc
    if not isinstance(body, dict) or "id" not in body:
        raise LookoutError(f"{response.url.path}: no id in the answer {str(body)[:200]}")
    existing = bool(body.get("existing", response.status_code == 200))
    return Upserted(str(body["id"]), existing, body)
