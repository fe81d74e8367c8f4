"""FastAPI dependencies for pipeline callbacks: the raw body and its HMAC signature."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from lookout.auth import signatures
from lookout.deps import SessionDep, SettingsDep, get_runtime

log = logging.getLogger(__name__)

_PURGE_EVERY_SECONDS = 60.0
_last_purge = 0.0
_purge_lock = threading.Lock()


async def raw_body(request: Request) -> bytes:
    """The request body exactly as sent (Starlette caches it for later readers)."""
    return await request.body()


RawBodyDep = Annotated[bytes, Depends(raw_body)]


@dataclass(frozen=True)
class SignedCallback:
    """A pipeline callback whose signature was verified: its body, scheme and secret name."""

    body: bytes
    scheme: str
    key_id: str


def _signed_path(request: Request) -> str:
    """Path and query exactly as the client sent them (what a v1 signature covers)."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def _target(request: Request) -> str:
    """The endpoint and resource of the request, however its path was spelled."""
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    parts = [template]
    for name, value in sorted(request.path_params.items()):
        try:
            value = str(uuid.UUID(str(value)))
        except ValueError:
            value = str(value)
        parts.append(f"{name}={value}")
    return " ".join(parts)


def _purge_now(request: Request, window: int, now: float) -> None:
    """Forget old signatures at most once a minute per process, in a short transaction."""
    global _last_purge
    with _purge_lock:
        if now - _last_purge < _PURGE_EVERY_SECONDS:
            return
        _last_purge = now
    try:
        with get_runtime(request).sessions() as session:
            signatures.purge(session, now=now, window=window)
            session.commit()
    except Exception:  # purging is housekeeping; the request must not fail for it
        log.exception("could not purge old HMAC signatures")


def verified_callback(
    request: Request, body: RawBodyDep, session: SessionDep, settings: SettingsDep
) -> SignedCallback:
    """Verify the pipeline's HMAC signature and mark it used (sync: runs in the threadpool)."""
    now = time.time()
    verified = signatures.verify(
        headers=request.headers,
        method=request.method,
        path=_signed_path(request),
        target=_target(request),
        body=body,
        secrets=settings.hmac_secrets(),
        window=settings.ml_hmac_window_seconds,
        legacy_enabled=settings.ml_hmac_legacy_enabled,
        vista_enabled=settings.hmac_accept_vista,
        now=now,
    )
    _purge_now(request, settings.ml_hmac_window_seconds, now)
    signatures.remember(session, verified, now=now)
    return SignedCallback(body=body, scheme=verified.scheme, key_id=verified.key_id)


SignedCallbackDep = Annotated[SignedCallback, Depends(verified_callback)]
