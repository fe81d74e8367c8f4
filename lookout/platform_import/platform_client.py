"""HTTP client of the Pyronear alert platform: login, token reuse, paging, validated answers."""

from __future__ import annotations

import base64
import json
import logging
import threading
from datetime import date
from typing import Any

import httpx

from lookout.httpretry import RetryPolicy, TransportFailure, error_detail, send
from lookout.platform_import.platform_models import (
    PlatformCamera,
    PlatformDetection,
    PlatformOrganization,
    PlatformSequence,
    ShapeProblem,
    Validated,
    validate_list,
)

log = logging.getLogger(__name__)

API = "/api/v1"
# The platform refuses detection pages larger than this.
MAX_DETECTIONS_PAGE = 100
DEFAULT_SEQUENCE_PAGE = 50


class PlatformError(Exception):
    """The platform answered with an error, or not at all."""

    def __init__(self, message: str, status: int | None = None) -> None:
        """Keep the status (None when there was no answer)."""
        super().__init__(message)
        self.status = status


class PlatformAuthError(PlatformError):
    """Login failed."""


class PlatformShapeError(PlatformError):
    """An answer that is not shaped as documented (e.g. an object where a list belongs)."""


class PlatformClient:
    """One platform login: a reused token, re-login once on 401, retries on every call."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        username: str,
        password: str,
        *,
        policy: RetryPolicy,
        page_size: int = DEFAULT_SEQUENCE_PAGE,
    ) -> None:
        """Prepare; nothing is sent until the first call."""
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self.policy = policy
        self.page_size = page_size
        self._token: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        """Never show the password."""
        return f"PlatformClient({self.base_url!r}, {self.username!r})"

    # -- auth

    def login(self) -> None:
        """Exchange the credentials for a token (raises PlatformAuthError)."""
        with self._lock:
            self._token = self._fetch_token()

    def _fetch_token(self) -> str:
        """POST the credentials form and return the access token."""
        url = f"{self.base_url}{API}/login/creds"
        form = {"username": self.username, "password": self._password}
        try:
            response = send(self.http, "POST", url, policy=self.policy, logger=log, data=form)
        except TransportFailure as exc:
            message = f"Failed to fetch access token for {self.username!r}: {exc}"
            raise PlatformAuthError(message) from exc
        if response.status_code != 200:
            raise PlatformAuthError(
                f"Failed to fetch access token for {self.username!r}: "
                f"HTTP {response.status_code} {error_detail(response)}",
                response.status_code,
            )
        token = _json(response).get("access_token") if _is_dict(response) else None
        if not isinstance(token, str) or not token:
            raise PlatformAuthError(
                f"Failed to fetch access token for {self.username!r}: no access_token in the answer"
            )
        log.debug("logged in to the platform as %s", self.username)
        return token

    @property
    def organization_id(self) -> int | None:
        """The organization the login's token names (pyro-api's JWT claim), if it says."""
        try:
            payload = (self._token or "").split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (IndexError, ValueError):
            return None
        org = claims.get("organization_id") if isinstance(claims, dict) else None
        return org if isinstance(org, int) and not isinstance(org, bool) else None

    def _current_token(self) -> str:
        """The token, logging in first if there is none yet."""
        with self._lock:
            if self._token is None:
                self._token = self._fetch_token()
            return self._token

    def _renew_token(self, stale: str) -> None:
        """Log in again, unless another thread already replaced the stale token."""
        with self._lock:
            if self._token == stale:
                log.info("platform token for %s was refused; logging in again", self.username)
                self._token = self._fetch_token()

    # -- calls

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON answer; a 401 triggers one new login and one more try."""
        url = f"{self.base_url}{API}{path}"
        for attempt in (1, 2):
            token = self._current_token()
            headers = {"Authorization": f"Bearer {token}"}
            try:
                response = send(
                    self.http,
                    "GET",
                    url,
                    policy=self.policy,
                    logger=log,
                    params=params,
                    headers=headers,
                )
            except TransportFailure as exc:
                raise PlatformError(f"platform unreachable: {exc}") from exc
            if response.status_code == 401 and attempt == 1:
                self._renew_token(token)
                continue
            if response.status_code != 200:
                raise PlatformError(
                    f"GET {path} answered HTTP {response.status_code}: {error_detail(response)}",
                    response.status_code,
                )
            return _json(response)
        raise AssertionError("unreachable")

    def organizations(self) -> Validated[PlatformOrganization]:
        """Every organization (admin login only)."""
        return _validated(PlatformOrganization, "organization", self.get("/organizations/"))

    def cameras(self) -> Validated[PlatformCamera]:
        """Cameras visible to this login (every camera for an admin)."""
        # Since 2026 the platform lists untrusted cameras only when asked; their sequences
        # are imported all the same (2025 ignores the parameter).
        cameras = self.get("/cameras/", include_non_trustable="true")
        return _validated(PlatformCamera, "camera", cameras)

    def sequences_on(self, day: date) -> Validated[PlatformSequence]:
        """Every sequence of the login's organization started on ``day``, all pages."""
        found: dict[int, PlatformSequence] = {}
        problems: list[ShapeProblem] = []
        offset = 0
        while True:
            page = self.get(
                "/sequences/all/fromdate",
                from_date=day.isoformat(),
                limit=self.page_size,
                offset=offset,
            )
            result = _validated(PlatformSequence, "sequence", page)
            problems.extend(result.problems)
            new = [s for s in result.items if s.id not in found]
            found.update((s.id, s) for s in new)
            if len(page) < self.page_size:
                break
            if not new and not result.problems:
                log.warning(
                    "sequences of %s: page at offset %d repeats earlier items; stopping",
                    day,
                    offset,
                )
                break
            offset += len(page)
        log.debug("%s: %d sequences on %s", self.username, len(found), day)
        return Validated(list(found.values()), problems)

    def detections(
        self, sequence_id: int, *, limit: int, desc: bool
    ) -> Validated[PlatformDetection]:
        """Up to ``limit`` detections of a sequence, paging by 100 where the platform can.

        One more is asked for than kept: if it comes, the sequence was cut at ``limit``
        (``truncated``), which the import reports instead of dropping frames silently.
        """
        found: dict[int, PlatformDetection] = {}
        problems: list[ShapeProblem] = []
        offset = 0
        wanted = limit + 1
        while len(found) + len(problems) < wanted:
            size = min(MAX_DETECTIONS_PAGE, wanted - len(found) - len(problems))
            page = self.get(
                f"/sequences/{sequence_id}/detections",
                limit=size,
                desc=str(desc).lower(),
                offset=offset,
            )
            result = _validated(PlatformDetection, "detection", page)
            problems.extend(result.problems)
            new = [d for d in result.items if d.id not in found]
            found.update((d.id, d) for d in new)
            if len(page) < size:
                break
            if not new and not result.problems:
                # The 2025 platform has no offset: it answers the first page again, so a full
                # first page may hide more (counted as cut, to be safe).
                log.warning(
                    "sequence %d: the platform does not page detections; kept the first %d",
                    sequence_id,
                    len(found),
                )
                return Validated(list(found.values())[:limit], problems, truncated=True)
            offset += len(page)
        items = list(found.values())
        return Validated(items[:limit], problems, truncated=len(items) + len(problems) > limit)

    def detection_url(self, detection_id: int) -> str:
        """A fresh presigned URL to a detection's frame."""
        body = self.get(f"/detections/{detection_id}/url")
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url:
            raise PlatformShapeError(f"detection {detection_id}: no url in {str(body)[:200]}")
        return url


def _is_dict(response: httpx.Response) -> bool:
    """Whether the answer is a JSON object."""
    try:
        return isinstance(response.json(), dict)
    except ValueError:
        return False


def _json(response: httpx.Response) -> Any:
    """The JSON body, or a PlatformShapeError saying what came instead."""
    try:
        return response.json()
    except ValueError as exc:
        text = " ".join(response.text.split())[:200]
        raise PlatformShapeError(f"expected JSON from {response.url.path}, got {text!r}") from exc


def _validated(model: type[Any], resource: str, payload: Any) -> Validated[Any]:
    """Per-item validation; a non-list answer is a PlatformShapeError."""
    try:
        result = validate_list(model, resource, payload)
    except ValueError as exc:
        raise PlatformShapeError(f"{exc}: {str(payload)[:200]}") from exc
    for problem in result.problems:
        log.error("unexpected shape from the platform: %s", problem)
    return result
