"""FastAPI dependencies: settings, database sessions, storage and the caller."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from lookout.accounts import service as accounts
from lookout.auth.guards import FailureBrake, refuse_cross_site_write
from lookout.auth.principal import Principal
from lookout.config import Settings
from lookout.db import finish_read_only
from lookout.errors import Unauthenticated
from lookout.storage import ObjectStorage

if TYPE_CHECKING:
    import httpx


@dataclass
class Runtime:
    """What the app holds for its whole life (built once in `create_app`)."""

    settings: Settings
    sessions: sessionmaker[Session]
    storage: ObjectStorage
    # Local mode's users by email, made once: the local admin and any a developer names.
    local_users: dict[str, Principal] = field(default_factory=dict)
    auth_brake: FailureBrake = field(default_factory=FailureBrake)
    # Private addresses may be fetched (local mode, or LOOKOUT_FETCH_ALLOW_PRIVATE).
    fetch_private: bool = False
    # Why a presigned PUT to a key must be refused now, or None: the analyses' rule, handed
    # to the storage routes here so storage depends on no domain.
    upload_refusal: Callable[[Session, str], str | None] = lambda _session, _key: None
    # What follows a stored draft of a sequence (grouping its tracks with recurring objects):
    # handed to the sequences routes here, so sequences depend on no domain above them.
    after_draft: Callable[[Session, uuid.UUID], object] = lambda _session, _sequence_id: None
    # What must go before a sequence's rows are purged (its tracks leave their groups), in the
    # same transaction: handed to the sequences routes for the same reason.
    before_sequence_purge: Callable[[Session, uuid.UUID], object] = lambda _s, _sequence_id: None

    @cached_property
    def http(self) -> httpx.Client:
        """One pooled client for everything the server fetches (frames given by URL), made
        when first needed: a server that is never given a URL never loads httpx."""
        from lookout.fetching import make_fetch_client

        return make_fetch_client(allow_private=self.fetch_private)


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


# Dependencies that do no I/O are `async def`: FastAPI runs sync dependencies in the thread
# pool, and a hop there and back costs more than these functions themselves.


async def get_settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


async def get_storage(request: Request) -> ObjectStorage:
    return request.app.state.runtime.storage


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for one request; services commit, anything left uncommitted is rolled back.

    Making a session does no I/O, so it happens on the event loop; closing one that holds a
    connection (rollback, return to the pool) runs in the thread pool.
    """
    session = request.app.state.runtime.sessions()
    failed = False
    try:
        yield session
    except BaseException:
        failed = True
        raise
    finally:
        if session.in_transaction():
            await run_in_threadpool(_end, session, failed)
        else:
            session.close()


def _end(session: Session, failed: bool) -> None:
    """Close the request's session; a transaction that only read is committed first."""
    try:
        if not failed:
            finish_read_only(session)
    finally:
        session.close()


async def public_base_url(request: Request) -> str:
    """Where clients reach this server, for URLs Lookout hands out."""
    configured = request.app.state.runtime.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(request: Request, session: Session, settings: Settings) -> Principal:
    """Resolve the caller (API key, proxy headers, local mode), braking repeated failures."""
    brake: FailureBrake = request.app.state.runtime.auth_brake
    client = request.client.host if request.client else "unknown"
    brake.check(client)
    try:
        principal = _authenticate(request, session, settings)
    except Unauthenticated:
        brake.record_failure(client)
        raise
    if principal.via in {"proxy", "local"}:
        refuse_cross_site_write(request)
    return principal


def _authenticate(request: Request, session: Session, settings: Settings) -> Principal:
    """API key, then proxy headers, then local mode; else 401."""
    token = request.headers.get("x-api-key") or _bearer_token(request)
    if token:
        return accounts.api_key_principal(session, token)
    email = request.headers.get(settings.proxy_user_header)
    if email is not None and settings.local_mode and settings.proxy_secret is None:
        return _local_user(request, session, email)
    if email is not None:
        if settings.proxy_secret is None:
            raise Unauthenticated(
                f"{settings.proxy_user_header} is not accepted: no proxy secret is configured"
            )
        presented = request.headers.get(settings.proxy_secret_header, "")
        expected = settings.proxy_secret.get_secret_value()
        if not hmac.compare_digest(presented.encode(), expected.encode()):
            raise Unauthenticated(f"missing or wrong {settings.proxy_secret_header}")
        user = accounts.get_or_create_user(session, email=email)
        if not user.is_active:
            raise Unauthenticated(f"the account {user.email} is deactivated; ask an admin")
        principal = accounts.principal_for(session, user, via="proxy")
        session.commit()
        return principal
    if settings.local_mode:
        return _local_user(request, session, settings.local_user_email)
    raise Unauthenticated("authentication required: send X-API-Key or Authorization: Bearer")


def _local_user(request: Request, session: Session, email: str) -> Principal:
    """Local mode's caller: the local admin, or the user a developer names (VISTA's debug mode).

    Everyone a local-mode server answers is on this machine and acts as its admin anyway, so
    naming a user (`X-User-Email` without a proxy secret) grants nothing new; it records who.
    """
    known: dict[str, Principal] = request.app.state.runtime.local_users
    email = accounts.normalize_email(email)
    if email not in known:
        if len(known) >= 1000:  # bounded, however many names a script makes up
            known.clear()
        known[email] = local_principal(session, email)
    return known[email]


def local_principal(session: Session, email: str) -> Principal:
    """A local-mode user: an admin, in the default group."""
    user = accounts.get_or_create_user(session, email=email, is_admin=True)
    group = accounts.get_or_create_group(session, name="default")
    accounts.add_member(session, user=user, group=group, role="admin")
    principal = accounts.principal_for(session, user, via="local")
    session.commit()
    return principal


def current_principal(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> Principal:
    return authenticate(request, session, settings)


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StorageDep = Annotated[ObjectStorage, Depends(get_storage)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
BaseUrlDep = Annotated[str, Depends(public_base_url)]
