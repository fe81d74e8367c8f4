"""HMAC-SHA256 signatures of pipeline callbacks.

Two families of schemes are accepted (see docs/ml-api.md for what each protects against):

- **v1** (Lookout's own, used by `lookout.pipeline`): headers `X-ML-Timestamp`, `X-ML-Nonce`,
  optional `X-ML-Key-Id` and `X-ML-Signature: v1=<hex>` where the signed text is
  ``"v1\\n{timestamp}\\n{nonce}\\n{METHOD}\\n{path with query}\\n{sha256 hex of the body}"``.
  Timestamp, method, path (so the analysis and the endpoint) and body are all bound; the nonce
  makes every request single-use.
- **legacy** (the seed document's clients, printed before v1 existed): a bare hex signature
  (uppercase and a ``sha256=`` prefix are tolerated) either over the canonical JSON of the
  payload (``json.dumps(payload, separators=(',', ':'), sort_keys=True)``, the document's Python
  client) or over the raw body (its Node client and curl example). Neither binds the timestamp,
  the method or the path, so replays are refused by remembering each (signature, endpoint) pair.

Nothing here knows about HTTP frameworks: callers pass headers, method, path and body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from lookout.auth.models import SeenSignature
from lookout.db import affected_rows
from lookout.errors import Unauthenticated

SIGNATURE_HEADER = "X-ML-Signature"
TIMESTAMP_HEADER = "X-ML-Timestamp"
NONCE_HEADER = "X-ML-Nonce"
KEY_ID_HEADER = "X-ML-Key-Id"

V1 = "v1"
LEGACY_CANONICAL = "legacy-canonical-json"
LEGACY_RAW = "legacy-raw-body"

INVALID = "Invalid HMAC signature"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_NONCE = re.compile(r"^[A-Za-z0-9_.~+/=-]{16,128}$")


@dataclass(frozen=True)
class VerifiedSignature:
    """A request whose signature checked out, and the digest that marks it as used."""

    scheme: str
    key_id: str
    timestamp: int
    replay_digest: str


def _fail(reason: str) -> Unauthenticated:
    return Unauthenticated(f"{INVALID}: {reason}", field=SIGNATURE_HEADER)


def body_digest(body: bytes) -> str:
    """Hex sha256 of the raw request body (what v1 signs)."""
    return hashlib.sha256(body).hexdigest()


def v1_message(timestamp: str | int, nonce: str, method: str, path: str, body: bytes) -> bytes:
    """The text a v1 signature covers."""
    lines = [V1, str(timestamp), nonce, method.upper(), path, body_digest(body)]
    return "\n".join(lines).encode()


def sign_v1(
    secret: bytes, timestamp: str | int, nonce: str, method: str, path: str, body: bytes
) -> str:
    """Hex HMAC-SHA256 of the v1 message."""
    return hmac.new(secret, v1_message(timestamp, nonce, method, path, body), "sha256").hexdigest()


def canonical_json(body: bytes) -> bytes | None:
    """The seed Python client's signed text for this body, or None when it is not JSON."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name) or headers.get(name.lower())
    return value.strip() if value is not None else None


def _check_timestamp(raw: str | None, now: float, window: int) -> int:
    if raw is None or raw == "":
        raise _fail(f"missing {TIMESTAMP_HEADER} header")
    if not _TIMESTAMP.fullmatch(raw):
        raise _fail(f"{TIMESTAMP_HEADER} must be unix time in whole seconds")
    timestamp = int(raw)
    if timestamp < now - window:
        raise _fail(
            f"{TIMESTAMP_HEADER} is too old: it must be within {window} seconds of the server clock"
        )
    if timestamp > now + window:
        raise _fail(
            f"{TIMESTAMP_HEADER} is in the future: it must be within {window} seconds of the "
            f"server clock"
        )
    return timestamp


def _secrets_for(headers: Mapping[str, str], secrets: Mapping[str, bytes]) -> dict[str, bytes]:
    if not secrets:
        raise _fail("the server has no ML_CALLBACK_HMAC_SECRET configured")
    key_id = _header(headers, KEY_ID_HEADER)
    if key_id:
        if key_id not in secrets:
            raise _fail(f"unknown {KEY_ID_HEADER}")
        return {key_id: secrets[key_id]}
    return dict(secrets)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def verify(
    *,
    headers: Mapping[str, str],
    method: str,
    path: str,
    target: str,
    body: bytes,
    secrets: Mapping[str, bytes],
    window: int,
    legacy_enabled: bool,
    now: float,
) -> VerifiedSignature:
    """Check a callback's signature; raise Unauthenticated (401) naming what is wrong.

    `path` is the raw path with its query string (what v1 signs); `target` names the endpoint
    and its resource independently of how the path was spelled (what legacy replays are keyed on).
    """
    presented = _header(headers, SIGNATURE_HEADER)
    if not presented:
        raise _fail(f"missing {SIGNATURE_HEADER} header")
    nonce = _header(headers, NONCE_HEADER)
    if nonce is not None or presented.lower().startswith("v1="):
        return _verify_v1(headers, presented, nonce, method, path, body, secrets, window, now)
    if not legacy_enabled:
        raise _fail(
            "legacy signatures are disabled on this server (ML_HMAC_LEGACY_ENABLED=false); "
            f"sign with the v1 scheme ({NONCE_HEADER} and '{SIGNATURE_HEADER}: v1=...')"
        )
    return _verify_legacy(headers, presented, method, target, body, secrets, window, now)


def _verify_v1(
    headers: Mapping[str, str],
    presented: str,
    nonce: str | None,
    method: str,
    path: str,
    body: bytes,
    secrets: Mapping[str, bytes],
    window: int,
    now: float,
) -> VerifiedSignature:
    if not presented.lower().startswith("v1="):
        raise _fail(f"with {NONCE_HEADER}, {SIGNATURE_HEADER} must be 'v1=<hex>'")
    if not nonce:
        raise _fail(f"missing {NONCE_HEADER} header (required by the v1 scheme)")
    if not _NONCE.fullmatch(nonce):
        raise _fail(f"{NONCE_HEADER} must be 16 to 128 characters of [A-Za-z0-9_.~+/=-]")
    candidate = presented[3:].strip().lower()
    if not _HEX64.fullmatch(candidate):
        raise _fail("the signature must be 64 hexadecimal characters")
    timestamp = _check_timestamp(_header(headers, TIMESTAMP_HEADER), now, window)
    matched: str | None = None
    for key_id, secret in _secrets_for(headers, secrets).items():
        expected = sign_v1(secret, timestamp, nonce, method, path, body)
        if hmac.compare_digest(expected, candidate) and matched is None:
            matched = key_id
    if matched is None:
        raise _fail("signature does not match (check the secret, timestamp, path and body)")
    return VerifiedSignature(V1, matched, timestamp, _digest(V1, nonce))


def _verify_legacy(
    headers: Mapping[str, str],
    presented: str,
    method: str,
    target: str,
    body: bytes,
    secrets: Mapping[str, bytes],
    window: int,
    now: float,
) -> VerifiedSignature:
    candidate = presented.lower()
    if candidate.startswith("sha256="):
        candidate = candidate[len("sha256=") :].strip()
    if not _HEX64.fullmatch(candidate):
        raise _fail("the signature must be 64 hexadecimal characters")
    timestamp = _check_timestamp(_header(headers, TIMESTAMP_HEADER), now, window)
    messages = [(LEGACY_RAW, body)]
    canonical = canonical_json(body)
    if canonical is not None and canonical != body:
        messages.insert(0, (LEGACY_CANONICAL, canonical))
    matched: tuple[str, str] | None = None
    # Compare against every candidate, so timing does not tell which one matched.
    for key_id, secret in _secrets_for(headers, secrets).items():
        for scheme, message in messages:
            expected = hmac.new(secret, message, "sha256").hexdigest()
            if hmac.compare_digest(expected, candidate) and matched is None:
                matched = (scheme, key_id)
    if matched is None:
        raise _fail("signature does not match (check the secret and the signed JSON text)")
    # Legacy signatures cover only the payload: the same payload sent to another analysis has
    # the same signature and is legitimate, so a replay is the same signature on the same target.
    digest = _digest("legacy", candidate, method.upper(), target)
    return VerifiedSignature(matched[0], matched[1], timestamp, digest)


def remember(session: Session, verified: VerifiedSignature, *, now: float) -> None:
    """Record the signature as used in the caller's transaction; a second use is a replay (401).

    The record commits with the request's own work, so a request that failed (and was rolled
    back) can be sent again, while one that took effect cannot.
    """
    values = {"digest": verified.replay_digest, "seen_at": datetime.fromtimestamp(now, UTC)}
    what = "nonce" if verified.scheme == V1 else "signature"
    statement = _insert_if_new(session.get_bind().dialect.name, values)
    if statement is not None:
        # One statement, no savepoint: a digest already there inserts nothing and returns nothing.
        if session.execute(statement).first() is None:
            raise _fail(f"this {what} was already used (replayed request)")
        return
    try:
        with session.begin_nested():
            session.add(SeenSignature(**values))
    except IntegrityError:
        session.rollback()
        raise _fail(f"this {what} was already used (replayed request)") from None


def _insert_if_new(dialect: str, values: dict[str, Any]) -> ReturningInsert[Any] | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING digest, where the database has it."""
    if dialect == "postgresql":
        pg = postgresql.insert(SeenSignature).values(**values)
        return pg.on_conflict_do_nothing(index_elements=["digest"]).returning(SeenSignature.digest)
    if dialect == "sqlite":
        lite = sqlite.insert(SeenSignature).values(**values)
        return lite.on_conflict_do_nothing(index_elements=["digest"]).returning(
            SeenSignature.digest
        )
    return None


def purge(session: Session, *, now: float, window: int) -> int:
    """Forget signatures older than twice the window.

    A v1 request that old fails the timestamp check anyway; a legacy one does not (its timestamp
    is not signed), which is the documented limit of the legacy schemes.
    """
    cutoff = datetime.fromtimestamp(now, UTC) - timedelta(seconds=2 * window)
    result = session.execute(sa.delete(SeenSignature).where(SeenSignature.seen_at < cutoff))
    return affected_rows(result)
