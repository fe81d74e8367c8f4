"""FastAPI dependencies for pipeline callbacks: the raw body, its HMAC signature, its caller."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from lookout.auth import signatures
from lookout.auth.principal import Principal
from lookout.config import Settings
from lookout.deps import SessionDep, SettingsDep, authenticate, get_runtime

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


VISTA_SCHEMES = frozenset({signatures.VISTA, signatures.VISTA_CANONICAL})


@dataclass(frozen=True)
class CallbackCaller:
    """Who sent a pipeline callback: a verified signature or, as VISTA allows, a user.

    A user-sent callback names the user; the route checks their access to the analysis.
    """

    body: bytes
    signed: SignedCallback | None = None
    principal: Principal | None = None

    @property
    def speaks_vista(self) -> bool:
        """Answer in VISTA's shapes: its signature scheme, or a user (only VISTA has those)."""
        return self.signed is None or self.signed.scheme in VISTA_SCHEMES


def _has_user_credentials(request: Request, settings: Settings) -> bool:
    headers = request.headers
    return settings.local_mode or any(
        name in headers for name in ("x-api-key", "authorization", settings.proxy_user_header)
    )


def _caller(
    request: Request, body: bytes, session: SessionDep, settings: Settings, *, users: bool
) -> CallbackCaller:
    """A signature is always verified when sent; without one, a user is accepted if `users`."""
    unsigned = signatures.SIGNATURE_HEADER not in request.headers
    if users and unsigned and _has_user_credentials(request, settings):
        return CallbackCaller(body, principal=authenticate(request, session, settings))
    return CallbackCaller(body, signed=verified_callback(request, body, session, settings))


def status_caller(
    request: Request, body: RawBodyDep, session: SessionDep, settings: SettingsDep
) -> CallbackCaller:
    """A status change: signed, or by a user with access to the analysis (as in VISTA)."""
    return _caller(request, body, session, settings, users=True)


def pipeline_caller(
    request: Request, body: RawBodyDep, session: SessionDep, settings: SettingsDep
) -> CallbackCaller:
    """Presign, bulk, finalize: signed, or by a user where ML_PIPELINE_REQUIRE_HMAC is off."""
    users = not settings.pipeline_requires_hmac
    return _caller(request, body, session, settings, users=users)


StatusCallerDep = Annotated[CallbackCaller, Depends(status_caller)]
PipelineCallerDep = Annotated[CallbackCaller, Depends(pipeline_caller)]
