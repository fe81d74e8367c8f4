"""Client-side HTTP retries: one policy for the importer, the pipeline SDK, the worker and frames.

A call is tried again, after an exponential backoff with jitter, only when trying again can
help: a 429 or 5xx answer, a refused or dropped connection, a timeout. Never another 4xx. A
``Retry-After`` the answer carries (in seconds or as an HTTP date) replaces the backoff, and
one cap (``RetryPolicy.max_wait_s``) bounds every pause. Each retry is logged at INFO.

Only httpx and tenacity: clients (the importer, the SDK) import this module without the server.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import tenacity

log = logging.getLogger(__name__)

# Rate limiting and server or gateway trouble: worth another try.
RETRY_STATUSES = frozenset({429, *range(500, 600)})
# Answers that prove a request was not carried out (a proxy or a busy server turned it away),
# so that even a call that must not run twice (a create) may be sent again.
NOT_RUN_STATUSES = frozenset({429, 502, 503, 504})
# Failures before or while talking to the server: connection refused or dropped, timeouts.
RETRY_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
# Failures that prove the request never reached the server.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one call is tried."""

    attempts: int = 5  # tries in all, the first included
    timeout_s: float = 30.0  # of one try (connecting: at most 10 s of it)
    backoff_base_s: float = 0.5  # the first pause; it doubles each time, plus up to this jitter
    max_wait_s: float = 30.0  # the cap on any pause, a server's Retry-After included
    statuses: frozenset[int] = RETRY_STATUSES
    errors: tuple[type[Exception], ...] = field(default=RETRY_ERRORS)

    def not_run_only(self) -> RetryPolicy:
        """This policy restricted to failures that prove the request did not run."""
        return replace(self, statuses=self.statuses & NOT_RUN_STATUSES, errors=NOT_SENT_ERRORS)


@dataclass(frozen=True)
class RetryEvent:
    """One retry about to happen: the try that failed, why, and the pause before the next."""

    what: str
    attempt: int
    reason: str
    wait_s: float


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
    """The timeout of one try under this policy."""
    return httpx.Timeout(policy.timeout_s, connect=min(policy.timeout_s, 10.0))


def pooled_client(policy: RetryPolicy, pool_size: int) -> httpx.Client:
    """One client whose connections are reused across calls and threads, following redirects."""
    return httpx.Client(
        timeout=call_timeout(policy),
        limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
        follow_redirects=True,
    )


def safe_url(url: str | httpx.URL) -> str:
    """A URL without its query string (presigned URLs carry signatures that must not be logged)."""
    return str(httpx.URL(str(url)).copy_with(query=None, fragment=None))


def _answer(outcome: Any) -> httpx.Response | None:
    """The answer a try ended with: its result, or the response of an HTTPStatusError."""
    if outcome is None:
        return None
    if not outcome.failed:
        result = outcome.result()
        return result if isinstance(result, httpx.Response) else None
    exc = outcome.exception()
    return exc.response if isinstance(exc, httpx.HTTPStatusError) else None


def _reason(outcome: Any) -> str:
    """A short reason for a log line: the status, or the error."""
    answer = _answer(outcome)
    if answer is not None:
        return f"HTTP {answer.status_code}"
    exc = outcome.exception() if outcome is not None else None
    return f"{type(exc).__name__}: {exc}" if exc else "unknown error"


def _should_retry(
    policy: RetryPolicy, final: Callable[[httpx.Response], bool] | None
) -> Callable[[tenacity.RetryCallState], bool]:
    """Retry a retryable status (unless ``final`` says it is definitive) or a transport error."""

    def check(state: tenacity.RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None:
            return False
        if outcome.failed and isinstance(outcome.exception(), policy.errors):
            return True
        answer = _answer(outcome)
        if answer is None or answer.status_code not in policy.statuses:
            return False
        return final is None or not final(answer)

    return check


def _pause(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], float]:
    """The server's Retry-After, else exponential backoff with jitter; at most the cap."""
    backoff = tenacity.wait_exponential_jitter(
        multiplier=policy.backoff_base_s, max=policy.max_wait_s, jitter=policy.backoff_base_s
    )

    def wait(state: tenacity.RetryCallState) -> float:
        answer = _answer(state.outcome)
        asked = parse_retry_after(answer.headers.get("Retry-After")) if answer else None
        chosen = asked if asked is not None else backoff(state)
        return max(0.0, min(chosen, policy.max_wait_s))

    return wait


def _announce(
    what: str,
    policy: RetryPolicy,
    logger: logging.Logger,
    on_retry: Callable[[RetryEvent], None] | None,
) -> Callable[[tenacity.RetryCallState], None]:
    """Log each retry with its reason and pause (and tell ``on_retry``)."""

    def before_sleep(state: tenacity.RetryCallState) -> None:
        pause = state.upcoming_sleep
        reason = _reason(state.outcome)
        logger.info(
            "%s failed (%s); retry %d/%d in %.1fs",
            what,
            reason,
            state.attempt_number,
            policy.attempts - 1,
            pause,
        )
        if on_retry is not None:
            on_retry(RetryEvent(what, state.attempt_number, reason, pause))

    return before_sleep


def _give_up(what: str, logger: logging.Logger) -> Callable[[tenacity.RetryCallState], Any]:
    """After the last try: its answer, or its error raised again."""

    def last(state: tenacity.RetryCallState) -> Any:
        logger.debug(
            "%s: giving up after %d attempts (%s)",
            what,
            state.attempt_number,
            _reason(state.outcome),
        )
        assert state.outcome is not None
        return state.outcome.result()

    return last


def retrying(
    policy: RetryPolicy,
    what: str,
    *,
    final: Callable[[httpx.Response], bool] | None = None,
    logger: logging.Logger | None = None,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> tenacity.Retrying:
    """A tenacity ``Retrying`` that calls a function making one try under ``policy``.

    The function returns an ``httpx.Response`` or raises (``raise_for_status`` included). After
    the last try the caller gets its answer, or its exception. ``what`` names the call in log
    lines (never put a presigned URL's query in it); ``final`` marks answers that have a
    retryable status yet are definitive.
    """
    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max(1, policy.attempts)),
        wait=_pause(policy),
        retry=_should_retry(policy, final),
        before_sleep=_announce(what, policy, logger or log, on_retry),
        retry_error_callback=_give_up(what, logger or log),
    )


def send(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    policy: RetryPolicy,
    final: Callable[[httpx.Response], bool] | None = None,
    logger: logging.Logger | None = None,
    on_retry: Callable[[RetryEvent], None] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request with retries: the last answer (perhaps an error), or TransportFailure.

    ``kwargs`` go to ``httpx.Client.request``; the policy's timeout applies unless given.
    """
    shown = safe_url(url)
    kwargs.setdefault("timeout", call_timeout(policy))
    logger = logger or log

    def attempt() -> httpx.Response:
        started = time.monotonic()
        response = http.request(method, url, **kwargs)
        elapsed = time.monotonic() - started
        logger.debug("%s %s -> %d (%.2fs)", method, shown, response.status_code, elapsed)
        return response

    calls = retrying(policy, f"{method} {shown}", final=final, logger=logger, on_retry=on_retry)
    try:
        return calls(attempt)
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
