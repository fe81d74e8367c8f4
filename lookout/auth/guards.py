"""Request guards: cross-site request refusal and a brake on failed authentication."""

from __future__ import annotations

import threading
import time
from collections import deque
from urllib.parse import urlsplit

from starlette.requests import Request

from lookout.errors import Forbidden, RateLimited

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def refuse_cross_site_write(request: Request) -> None:
    """Browsers label cross-site requests; scripts and curl send no such headers.

    Proxy and local-mode credentials ride along with any request a browser makes, so a page on
    another site could otherwise make a reviewer's browser write. API keys and signatures are
    never sent automatically and need no such check.
    """
    if request.method in SAFE_METHODS:
        return
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site in {"cross-site", "same-site"}:
        raise Forbidden("cross-site requests may not change data")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise Forbidden("cross-site requests may not change data")
    elif origin == "null":
        raise Forbidden("cross-site requests may not change data")


class FailureBrake:
    """After too many failed authentications from one client, answer 429 for a while."""

    def __init__(self, limit: int = 20, window_seconds: float = 60.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(client, deque())
        while failures and now - failures[0] > self.window:
            failures.popleft()
        return failures

    def check(self, client: str) -> None:
        with self._lock:
            if len(self._recent(client, time.monotonic())) >= self.limit:
                raise RateLimited("too many failed authentication attempts; try again later")

    def record_failure(self, client: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._recent(client, now).append(now)
            if len(self._failures) > 10_000:  # bound memory under a spray of addresses
                self._failures = {k: v for k, v in self._failures.items() if v}
