"""One policy for every HTTP call: a timeout, retries with exponential backoff and jitter."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

log = logging.getLogger(__name__)

# Statuses worth another try: rate limiting and server or gateway trouble.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Timeout and retry settings shared by the platform and Lookout clients."""

    attempts: int = 5
    timeout_s: float = 30.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    # A server asking for a longer pause than this is waited for this long only.
    retry_after_max_s: float = 120.0


class RetryableStatus(Exception):
    """An answer whose status says "try again later"."""

    def __init__(self, response: httpx.Response) -> None:
        """Keep the answer and the pause it asks for."""
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after = parse_retry_after(response.headers.get("Retry-After"))


class TransportFailure(Exception):
    """A call that never got an answer (connection refused, reset or timed out), retries spent."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def call_timeout(policy: RetryPolicy) -> httpx.Timeout:
    """The timeout of one call under this policy."""
    return httpx.Timeout(policy.timeout_s, connect=min(policy.timeout_s, 10.0))


def make_http_client(policy: RetryPolicy, pool_size: int) -> httpx.Client:
    """One pooled client for the whole run (connections are reused across calls and threads)."""
    return httpx.Client(
        timeout=call_timeout(policy),
        limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
        follow_redirects=True,
    )


def safe_url(url: str | httpx.URL) -> str:
    """A URL without its query string (presigned URLs carry signatures that must not be logged)."""
    parsed = httpx.URL(str(url))
    return str(parsed.copy_with(query=None, fragment=None))


class _Wait:
    """Exponential backoff with jitter, or the server's ``Retry-After`` when it sends one."""

    def __init__(self, policy: RetryPolicy) -> None:
        """Build the backoff curve from the policy."""
        self.policy = policy
        self.backoff = wait_exponential_jitter(
            multiplier=policy.backoff_base_s, max=policy.backoff_max_s, jitter=policy.backoff_base_s
        )

    def __call__(self, state: RetryCallState) -> float:
        """Seconds to sleep before the next attempt."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableStatus) and exc.retry_after is not None:
            return min(exc.retry_after, self.policy.retry_after_max_s)
        return float(self.backoff(state))


def _describe(exc: BaseException | None) -> str:
    """A short reason for a retry log line."""
    if isinstance(exc, RetryableStatus):
        return f"HTTP {exc.response.status_code}"
    return f"{type(exc).__name__}: {exc}" if exc else "unknown error"


def _before_sleep(method: str, url: str, attempts: int) -> Callable[[RetryCallState], None]:
    """Log each retry with its reason and pause."""

    def log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        pause = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s %s failed (%s); retry %d/%d in %.1fs",
            method,
            url,
            _describe(exc),
            state.attempt_number,
            attempts - 1,
            pause,
        )

    return log_retry


def send(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    policy: RetryPolicy,
    final: Callable[[httpx.Response], bool] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send with retries; return the last answer (perhaps an error) or raise TransportFailure.

    ``final`` marks answers with a retryable status that are nonetheless definitive.
    """
    shown = safe_url(url)
    # The pool is shared by clients with different policies (Lookout calls wait longer than
    # platform calls), so each call carries its own policy's timeout.
    kwargs.setdefault("timeout", call_timeout(policy))

    def attempt() -> httpx.Response:
        started = time.monotonic()
        response = http.request(method, url, **kwargs)
        log.debug(
            "%s %s -> %d (%.2fs)", method, shown, response.status_code, time.monotonic() - started
        )
        if final is not None and final(response):
            return response
        if response.status_code in RETRY_STATUSES:
            response.read()
            raise RetryableStatus(response)
        return response

    retrying = Retrying(
        stop=stop_after_attempt(max(1, policy.attempts)),
        wait=_Wait(policy),
        retry=retry_if_exception_type((RetryableStatus, httpx.TransportError)),
        before_sleep=_before_sleep(method, shown, policy.attempts),
        reraise=True,
    )
    try:
        return retrying(attempt)
    except RetryableStatus as exc:
        return exc.response
    except httpx.TransportError as exc:
        raise TransportFailure(f"{method} {shown}: {type(exc).__name__}: {exc}") from exc


def error_detail(response: httpx.Response, limit: int = 300) -> str:
    """The ``detail`` of a JSON error answer, or the start of its body."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())
        return text[:limit] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:limit]
    return str(body)[:limit]
