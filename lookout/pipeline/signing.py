"""Lookout's v1 request signature for pipeline callbacks (stdlib only).

The signed text binds the timestamp, a single-use nonce, the method, the path with its query
string and the sha256 of the exact body bytes::

    v1\\n{timestamp}\\n{nonce}\\n{METHOD}\\n{path?query}\\n{sha256 hex of body}

and travels as ``X-ML-Signature: v1=<hex HMAC-SHA256>`` with ``X-ML-Timestamp``,
``X-ML-Nonce`` and, when the server has several secrets, ``X-ML-Key-Id``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "X-ML-Signature"
TIMESTAMP_HEADER = "X-ML-Timestamp"
NONCE_HEADER = "X-ML-Nonce"
KEY_ID_HEADER = "X-ML-Key-Id"


def _as_bytes(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def string_to_sign(timestamp: str | int, nonce: str, method: str, path: str, body: bytes) -> str:
    """The exact text a v1 signature covers."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join(["v1", str(timestamp), nonce, method.upper(), path, digest])


def new_nonce() -> str:
    """A fresh single-use nonce (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def sign_request(
    secret: str | bytes,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    key_id: str | None = None,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Headers that authenticate one request under the v1 scheme.

    `path` is the path with its query string exactly as sent (``/api/analyses/<id>/status``);
    `body` the exact bytes sent. Every call makes a new nonce: sign each attempt afresh.
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or new_nonce()
    text = string_to_sign(ts, nonce, method, path, body)
    signature = hmac.new(_as_bytes(secret), text.encode("utf-8"), hashlib.sha256).hexdigest()
    headers = {TIMESTAMP_HEADER: ts, NONCE_HEADER: nonce, SIGNATURE_HEADER: f"v1={signature}"}
    if key_id:
        headers[KEY_ID_HEADER] = key_id
    return headers
