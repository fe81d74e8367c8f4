"""Downloading a frame the server was given by URL (its address checked, tried again)."""

from __future__ import annotations

import logging
import tempfile
from typing import BinaryIO, cast
from urllib.parse import urlsplit

import httpx

from lookout.errors import InvalidInput, LookoutError, PayloadTooLarge
from lookout.fetching import BlockedAddress
from lookout.httpretry import RetryPolicy, retrying

log = logging.getLogger(__name__)


class FetchFailed(LookoutError):
    """The server could not download a frame from the URL it was given."""

    status = 502


# A frame is fetched while its request waits: four tries, pauses of at most 3 s (a longer
# Retry-After included). Each try has the fetch client's timeout (lookout.fetching: 30 s).
FETCH_POLICY = RetryPolicy(attempts=4, backoff_base_s=0.2, max_wait_s=3.0)


def _download(client: httpx.Client, url: str, limit: int) -> BinaryIO:
    """The frame at `url` in a spooled file, tried again on 429, 5xx, and connection trouble."""
    fetch = retrying(FETCH_POLICY, f"GET {_host(url)}", logger=log)
    return fetch(_download_once, client, url, limit)


def _download_once(client: httpx.Client, url: str, limit: int) -> BinaryIO:
    """One try: stream the answer into a spooled file, refusing more than `limit` bytes."""
    # Handed to the caller, who closes it after storing the frame.
    buffer = tempfile.SpooledTemporaryFile(max_size=2 * 1024 * 1024)  # noqa: SIM115
    try:
        with client.stream("GET", url) as response:
            response.raise_for_status()
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the frame at {_host(url)} is larger than {limit} bytes")
                buffer.write(chunk)
    except BaseException:
        buffer.close()
        raise
    buffer.seek(0)
    # A binary-mode SpooledTemporaryFile is a binary file; typeshed only says IO[bytes].
    return cast(BinaryIO, buffer)


def _host(url: str) -> str:
    """Where a URL points, without its query (presigned URLs carry credentials there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def check_frame_url(url: str) -> None:
    """Refuse, naming `url`, what is not an http(s) URL httpx can send."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise InvalidInput(f"url is not a valid URL: {exc}", field="url") from None
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise InvalidInput("url must be an http or https URL", field="url")


def fetch_frame(client: httpx.Client, url: str, *, limit: int) -> BinaryIO:
    """Download a frame with retries; a failure answers 502 naming the URL without its query."""
    check_frame_url(url)
    try:
        return _download(client, url, limit)
    except BlockedAddress as exc:
        raise InvalidInput(
            f"url: {exc}; a frame URL must point to a public address "
            "(set LOOKOUT_FETCH_ALLOW_PRIVATE=true on the server to allow private ones)",
            field="url",
        ) from exc
    except httpx.InvalidURL as exc:  # a redirect to a URL that cannot be sent
        raise FetchFailed(f"could not fetch the frame at {_host(url)}: {exc}", field="url") from exc
    except httpx.HTTPStatusError as exc:
        raise FetchFailed(
            f"could not fetch the frame at {_host(url)}: HTTP {exc.response.status_code}",
            field="url",
        ) from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(
            f"could not fetch the frame at {_host(url)}: {exc.__class__.__name__}", field="url"
        ) from exc
