"""HMAC-SHA256 signatures of pipeline callbacks.

Three families of schemes are accepted (see docs/ml-api.md for what each protects against):

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
- **vista** (VISTA's own server and scripts, `sandialabs/VISTA`): ``X-ML-Signature:
  sha256=<hex>`` over ``"{X-ML-Timestamp as sent}." + raw body`` (VISTA's server also accepts the
  canonical JSON of the body after the dot, and so does Lookout). The timestamp and the body are
  bound; the method, the path and the query are not, so replays are refused, as for legacy, by
  remembering each (signature, endpoint) pair while it is inside the window, and by the window
  after that (its timestamp is signed).

How a request is told apart: `X-ML-Nonce` or ``v1=`` selects v1; otherwise the signature is
compared with every legacy and VISTA text, and the text it matches names the scheme. A VISTA
signature must carry the ``sha256=`` prefix (VISTA always sends it), and each family can be
turned off (``ML_HMAC_LEGACY_ENABLED``, ``LOOKOUT_HMAC_ACCEPT_VISTA``): a request of a family
that is off is refused with a message naming it.

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
VISTA = "vista"
VISTA_CANONICAL = "vista-canonical-json"

SHA256_PREFIX = "sha256="
LEGACY_SETTING = "ML_HMAC_LEGACY_ENABLED"
VISTA_SETTING = "LOOKOUT_HMAC_ACCEPT_VISTA"

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


def vista_message(timestamp: str | int, body: bytes) -> bytes:
    """The text a VISTA signature covers: the timestamp exactly as sent, a dot, the body."""
    return str(timestamp).encode() + b"." + body


def sign_vista(secret: bytes, timestamp: str | int, body: bytes) -> str:
    """Hex HMAC-SHA256 of the VISTA message (sent as ``sha256=<hex>``)."""
    return hmac.new(secret, vista_message(timestamp, body), "sha256").hexdigest()


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
    vista_enabled: bool = True,
) -> VerifiedSignature:
    """Check a callback's signature; raise Unauthenticated (401) naming what is wrong.

    `path` is the raw path with its query string (what v1 signs); `target` names the endpoint
    and its resource independently of how the path was spelled (what legacy and VISTA replays
    are keyed on).
    """
    presented = _header(headers, SIGNATURE_HEADER)
    if not presented:
        raise _fail(f"missing {SIGNATURE_HEADER} header")
    nonce = _header(headers, NONCE_HEADER)
    if nonce is not None or presented.lower().startswith("v1="):
        return _verify_v1(headers, presented, nonce, method, path, body, secrets, window, now)
    prefixed = presented[: len(SHA256_PREFIX)].lower() == SHA256_PREFIX
    if not prefixed and not legacy_enabled:
        # Bare hex is only ever a legacy signature (VISTA always sends the prefix).
        raise _legacy_disabled()
    if prefixed and not legacy_enabled and not vista_enabled:
        raise _fail(
            f"legacy and VISTA signatures are disabled on this server ({LEGACY_SETTING}=false, "
            f"{VISTA_SETTING}=false); {_USE_V1}"
        )
    verified = _verify_shared_secret(
        headers, presented, prefixed, method, target, body, secrets, window, now
    )
    if verified.scheme in (VISTA, VISTA_CANONICAL):
        if not prefixed:
            raise _fail(
                "this is a VISTA signature (over '{timestamp}.' + body): send it as "
                f"'{SIGNATURE_HEADER}: {SHA256_PREFIX}<hex>'"
            )
        if not vista_enabled:
            raise _fail(
                f"VISTA signatures ('{SIGNATURE_HEADER}: {SHA256_PREFIX}...' over "
                f"'{{timestamp}}.' + body) are disabled on this server ({VISTA_SETTING}=false); "
                f"{_USE_V1}"
            )
    elif not legacy_enabled:
        raise _legacy_disabled()
    return verified


_USE_V1 = f"sign with the v1 scheme ({NONCE_HEADER} and '{SIGNATURE_HEADER}: v1=...')"


def _legacy_disabled() -> Unauthenticated:
    return _fail(
        f"legacy signatures are disabled on this server ({LEGACY_SETTING}=false); {_USE_V1}"
    )


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


def _verify_shared_secret(
    headers: Mapping[str, str],
    presented: str,
    prefixed: bool,
    method: str,
    target: str,
    body: bytes,
    secrets: Mapping[str, bytes],
    window: int,
    now: float,
) -> VerifiedSignature:
    """Legacy and VISTA: an HMAC of the payload (VISTA: behind the timestamp), no nonce."""
    candidate = presented.lower()
    if prefixed:
        candidate = candidate[len(SHA256_PREFIX) :].strip()
    if not _HEX64.fullmatch(candidate):
        where = f" after '{SHA256_PREFIX}'" if prefixed else ""
        raise _fail(f"the signature{where} must be 64 hexadecimal characters")
    raw_timestamp = _header(headers, TIMESTAMP_HEADER)
    timestamp = _check_timestamp(raw_timestamp, now, window)
    signed_timestamp = raw_timestamp or ""  # the digits exactly as sent (VISTA signs those)
    canonical = canonical_json(body)
    messages = [(LEGACY_RAW, body), (VISTA, vista_message(signed_timestamp, body))]
    if canonical is not None and canonical != body:
        messages.insert(0, (LEGACY_CANONICAL, canonical))
        messages.append((VISTA_CANONICAL, vista_message(signed_timestamp, canonical)))
    matched: tuple[str, str] | None = None
    # Compare against every candidate, so timing does not tell which one matched.
    for key_id, secret in _secrets_for(headers, secrets).items():
        for scheme, message in messages:
            expected = hmac.new(secret, message, "sha256").hexdigest()
            if hmac.compare_digest(expected, candidate) and matched is None:
                matched = (scheme, key_id)
    if matched is None:
        if prefixed:
            raise _fail(
                "signature does not match (check the secret and the signed text: VISTA's scheme "
                f"signs the {TIMESTAMP_HEADER} value, a dot and the raw body)"
            )
        raise _fail("signature does not match (check the secret and the signed JSON text)")
    scheme, key_id = matched
    if scheme in (VISTA, VISTA_CANONICAL):
        # The timestamp is signed but the method and path are not: the same body sent at the same
        # second to another analysis has the same signature and is legitimate, so (as for legacy)
        # a replay is the same signature on the same endpoint and resource.
        return VerifiedSignature(
            scheme, key_id, timestamp, _digest(VISTA, candidate, method.upper(), target)
        )
    # Legacy signatures cover only the payload: the same payload sent to another analysis has
    # the same signature and is legitimate, so a replay is the same signature on the same target.
    digest = _digest("legacy", candidate, method.upper(), target)
    return VerifiedSignature(scheme, key_id, timestamp, digest)


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

    A v1 or VISTA request that old fails the timestamp check anyway; a legacy one does not (its
    timestamp is not signed), which is the documented limit of the legacy schemes.
    """
    cutoff = datetime.fromtimestamp(now, UTC) - timedelta(seconds=2 * window)
    result = session.execute(sa.delete(SeenSignature).where(SeenSignature.seen_at < cutoff))
    return affected_rows(result)
