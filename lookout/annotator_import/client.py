"""HTTP client of a pyro-annotator server: login, token reuse, every page, validated answers.

pyro-annotator's API (`/api/v1`): `POST /auth/login` with JSON `{username, password}` gives a
bearer token; lists are pages (`page` from 1, `size` at most 100) answered as
`{items, total, page, size, pages}`. Every call has a timeout and retries
(`lookout.httpretry`); a 401 logs in again once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from lookout.annotator_import.shapes import (
    AnnotatorDetection,
    AnnotatorDetectionAnnotation,
    AnnotatorSequence,
    AnnotatorSequenceAnnotation,
    Validated,
    validate_items,
)
from lookout.httpretry import RetryPolicy, TransportFailure, error_detail, safe_url, send

log = logging.getLogger(__name__)

API = "/api/v1"
MAX_PAGE_SIZE = 100
# Pages of one listing at most (a guard against a server that never says it is done).
MAX_PAGES = 100_000

T = TypeVar("T", bound=BaseModel)


class AnnotatorError(Exception):
    """pyro-annotator answered with an error, or not at all."""

    def __init__(self, message: str, status: int | None = None) -> None:
        """Keep the status (None when there was no answer)."""
        super().__init__(message)
        self.status = status


class AnnotatorAuthError(AnnotatorError):
    """The credentials were refused."""


class AnnotatorClient:
    """One pyro-annotator login on a shared connection pool."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        *,
        username: str | None,
        password: str | None,
        token: str | None = None,
        policy: RetryPolicy,
        page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        """Prepare; nothing is sent until the first call."""
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self._token = token
        self.policy = policy
        self.page_size = min(max(1, page_size), MAX_PAGE_SIZE)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        """Never show the password or the token."""
        return f"AnnotatorClient({self.base_url!r}, {self.username!r})"

    # -- auth

    def login(self) -> None:
        """Get a token (or check the one given, or that no credentials are needed); raises
        AnnotatorAuthError or AnnotatorError."""
        if self.username is None:
            self._get("/sequences/", {"page": 1, "size": 1})
            return
        with self._lock:
            self._token = self._fetch_token()

    def _fetch_token(self) -> str | None:
        """A fresh token; None from a server without accounts (pyro-annotator's 2025 API)."""
        url = f"{self.base_url}{API}/auth/login"
        body = {"username": self.username, "password": self._password}
        response = self._send("POST", url, json=body)
        if response.status_code in (404, 405):
            log.warning(
                "pyro-annotator at %s has no login (a version without accounts); "
                "reading it without credentials",
                self.base_url,
            )
            return None
        if response.status_code in (400, 401, 403, 422):
            raise AnnotatorAuthError(
                f"Failed to log in to pyro-annotator as {self.username!r}: HTTP "
                f"{response.status_code}: {error_detail(response)}",
                response.status_code,
            )
        self._check(response, "POST /auth/login")
        token = _json(response, "POST /auth/login").get("access_token")
        if not isinstance(token, str) or not token:
            raise AnnotatorError("pyro-annotator's login answer has no access_token")
        return token

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return send(self.http, method, url, policy=self.policy, logger=log, **kwargs)
        except TransportFailure as exc:
            raise AnnotatorError(f"Cannot reach pyro-annotator at {self.base_url}: {exc}") from exc

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.is_success:
            return
        detail = f"{what} answered HTTP {response.status_code}: {error_detail(response)}"
        if response.status_code in (401, 403):
            if self.username is None and self._token is None:
                detail += (
                    " (this pyro-annotator wants credentials: set PYRO_ANNOTATOR_USERNAME and "
                    "PYRO_ANNOTATOR_PASSWORD, or give --token)"
                )
            raise AnnotatorAuthError(detail, response.status_code)
        raise AnnotatorError(detail, response.status_code)

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        """GET a JSON answer; on a 401 log in once more and try again."""
        url = f"{self.base_url}{API}{path}"
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
            response = self._send("GET", url, params=params, headers=headers)
            if response.status_code == 401 and attempt == 0 and self.username is not None:
                log.info("pyro-annotator refused the token; logging in again")
                with self._lock:
                    self._token = self._fetch_token()
                continue
            self._check(response, f"GET {path}")
            return _json(response, f"GET {path}")
        raise AssertionError("unreachable")

    # -- listings

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[Any]:
        """Every item of a paged listing, page after page."""
        page = 1
        while page <= MAX_PAGES:
            body = self._get(path, {**params, "page": page, "size": self.page_size})
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise AnnotatorError(f"GET {path}: the answer is not a page of items")
            items = body["items"]
            yield from items
            pages = body.get("pages")
            last = page >= pages if isinstance(pages, int) else len(items) < self.page_size
            if last or not items:
                return
            page += 1

    def _listing(self, model: type[T], resource: str, path: str, **params: Any) -> Validated[T]:
        query = {k: v for k, v in params.items() if v is not None}
        return validate_items(model, resource, list(self._pages(path, query)))

    def sequences(
        self, *, recorded_from: datetime | None = None, recorded_to: datetime | None = None
    ) -> Validated[AnnotatorSequence]:
        """Every sequence, oldest first (optionally recorded in a time range)."""
        return self._listing(
            AnnotatorSequence,
            "sequence",
            "/sequences/",
            order_by="recorded_at",
            order_direction="asc",
            recorded_at_gte=recorded_from.isoformat() if recorded_from else None,
            recorded_at_lte=recorded_to.isoformat() if recorded_to else None,
        )

    def sequence_annotations(self) -> Validated[AnnotatorSequenceAnnotation]:
        """Every sequence annotation, with its contributors."""
        return self._listing(
            AnnotatorSequenceAnnotation,
            "sequence annotation",
            "/annotations/sequences/",
            order_by="created_at",
            order_direction="asc",
        )

    def detections(self, sequence_id: int) -> Validated[AnnotatorDetection]:
        """A sequence's detections in time order."""
        return self._listing(
            AnnotatorDetection,
            "detection",
            "/detections/",
            sequence_id=sequence_id,
            order_by="recorded_at",
            order_direction="asc",
        )

    def detection_annotations(self, sequence_id: int) -> Validated[AnnotatorDetectionAnnotation]:
        """The detection annotations of a sequence's detections."""
        return self._listing(
            AnnotatorDetectionAnnotation,
            "detection annotation",
            "/annotations/detections/",
            sequence_id=sequence_id,
            order_by="created_at",
            order_direction="asc",
        )

    # -- images

    def image(self, detection_id: int, *, limit: int) -> bytes:
        """A detection's image: its temporary URL from the API, then the bytes (no token sent:
        the URL is presigned, and may point to another host)."""
        body = self._get(f"/detections/{detection_id}/url", {})
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise AnnotatorError(f"detection {detection_id}: the url answer holds no URL")
        response = self._send("GET", url)
        if not response.is_success:
            raise AnnotatorError(
                f"detection {detection_id}: GET {safe_url(url)} answered HTTP "
                f"{response.status_code}",
                response.status_code,
            )
        if len(response.content) > limit:
            raise AnnotatorError(f"detection {detection_id}: the image is larger than {limit} B")
        return response.content


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise AnnotatorError(f"{what}: the answer is not JSON") from exc
