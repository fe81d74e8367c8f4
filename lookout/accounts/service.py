"""Users, groups, memberships and API keys."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lookout.accounts.models import ApiKey, Group, Membership, User
from lookout.accounts.repository import AccountRepository
from lookout.auth.principal import Principal
from lookout.db import utcnow
from lookout.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated

KEY_PREFIX = "lk"
# Recording every use would turn each read into a write; once a minute is enough to audit.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise InvalidInput(f"invalid email address: {email!r}", field="email")
    return email


def get_or_create_user(session: Session, *, email: str, is_admin: bool | None = None) -> User:
    """The user with this email, created on first sight (people arrive through the proxy)."""
    email = normalize_email(email)
    user = session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        try:
            with session.begin_nested():
                user = User(email=email, is_admin=bool(is_admin))
                session.add(user)
        except IntegrityError:
            # Another request created it at the same moment.
            user = session.scalars(sa.select(User).where(User.email == email)).one()
    if is_admin is not None and user.is_admin != is_admin:
        user.is_admin = is_admin
    return user


def get_user(session: Session, *, email: str) -> User:
    user = session.scalar(sa.select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise NotFound(f"no user {email}", field="email")
    return user


def get_or_create_group(session: Session, *, name: str, description: str | None = None) -> Group:
    name = name.strip()
    if not name:
        raise InvalidInput("group name is empty", field="name")
    group = session.scalar(sa.select(Group).where(Group.name == name))
    if group is None:
        try:
            with session.begin_nested():
                group = Group(name=name, description=description)
                session.add(group)
        except IntegrityError:
            # Another request (or server process) created it at the same moment.
            group = session.scalars(sa.select(Group).where(Group.name == name)).one()
    return group


def get_group(session: Session, *, name_or_id: str) -> Group:
    clause = Group.name == name_or_id
    with contextlib.suppress(ValueError):
        clause = sa.or_(clause, Group.id == uuid.UUID(name_or_id))
    group = session.scalar(sa.select(Group).where(clause))
    if group is None:
        raise NotFound(f"no group {name_or_id}", field="group")
    return group


def add_member(session: Session, *, user: User, group: Group, role: str = "member") -> Membership:
    membership = session.get(Membership, (user.id, group.id))
    if membership is None:
        membership = Membership(user_id=user.id, group_id=group.id, role=role)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def remove_member(session: Session, *, user: User, group: Group) -> None:
    membership = session.get(Membership, (user.id, group.id))
    if membership is None:
        raise NotFound(f"{user.email} is not a member of {group.name}")
    session.delete(membership)


def group_ids_of(session: Session, user_id: uuid.UUID) -> frozenset[uuid.UUID]:
    rows = session.scalars(sa.select(Membership.group_id).where(Membership.user_id == user_id))
    return frozenset(rows)


def principal_for(session: Session, user: User, *, via: str) -> Principal:
    return Principal(
        user_id=user.id,
        email=user.email,
        is_admin=user.is_admin,
        group_ids=group_ids_of(session, user.id),
        via=via,
    )


def _hash_secret(secret: str) -> str:
    # Keys are 256-bit random, so a fast hash is as safe as a slow one and keeps auth cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    token: str  # shown once; only its hash is stored


def create_api_key(
    session: Session, *, user: User, name: str, expires_at: datetime | None = None
) -> IssuedKey:
    """Issue a key `lk_<prefix>_<secret>`; the prefix is public and indexed for lookup."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        user_id=user.id,
        name=name,
        prefix=prefix,
        secret_hash=_hash_secret(secret),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return IssuedKey(api_key=key, token=f"{KEY_PREFIX}_{prefix}_{secret}")


def list_api_keys(session: Session, *, user: User | None = None) -> list[ApiKey]:
    query = sa.select(ApiKey).order_by(ApiKey.created_at)
    if user is not None:
        query = query.where(ApiKey.user_id == user.id)
    return list(session.scalars(query))


def revoke_api_key(session: Session, *, prefix_or_id: str) -> ApiKey:
    clause = ApiKey.prefix == prefix_or_id
    with contextlib.suppress(ValueError):
        clause = sa.or_(clause, ApiKey.id == uuid.UUID(prefix_or_id))
    key = session.scalar(sa.select(ApiKey).where(clause))
    if key is None:
        raise NotFound(f"no API key {prefix_or_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def _parse_token(token: str) -> tuple[str, str] | None:
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


# Built once: making a statement costs more than running it (this runs on every request).
_KEY_LOOKUP = (
    sa.select(
        ApiKey.id.label("key_id"),
        ApiKey.secret_hash,
        ApiKey.revoked_at,
        ApiKey.expires_at,
        ApiKey.last_used_at,
        User.id.label("user_id"),
        User.email,
        User.is_admin,
        User.is_active,
        Membership.group_id,
    )
    .join(User, User.id == ApiKey.user_id)
    .outerjoin(Membership, Membership.user_id == User.id)
    .where(ApiKey.prefix == sa.bindparam("prefix"))
)


def api_key_principal(session: Session, token: str) -> Principal:
    """The caller of an API key, read in one indexed query (key, user and groups together).

    One hash and one constant-time compare; an unknown prefix costs the same compare. The
    last-used stamp is written (and committed) at most once a minute, so most requests stay
    reads and their transaction goes on into the request's own work.
    """
    parsed = _parse_token(token)
    if parsed is None:
        raise Unauthenticated("malformed API key")
    prefix, secret = parsed
    rows = session.connection().execute(_KEY_LOOKUP, {"prefix": prefix}).all()
    presented = _hash_secret(secret)
    stored = rows[0].secret_hash if rows else "0" * 64
    if not hmac.compare_digest(presented, stored) or not rows:
        raise Unauthenticated("invalid API key")
    key = rows[0]
    now = utcnow()
    if key.revoked_at is not None:
        raise Unauthenticated("API key has been revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthenticated("API key has expired")
    if not key.is_active:
        raise Unauthenticated("API key's user is disabled")
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        stamp = sa.update(ApiKey).where(ApiKey.id == key.key_id).values(last_used_at=now)
        session.connection().execute(stamp)
        session.commit()
    return Principal(
        user_id=key.user_id,
        email=key.email,
        is_admin=key.is_admin,
        group_ids=frozenset(row.group_id for row in rows if row.group_id is not None),
        via="api_key",
    )


def authenticate_api_key(session: Session, token: str) -> User:
    """The key's user: one indexed lookup by prefix, one hash, one constant-time compare."""
    parsed = _parse_token(token)
    if parsed is None:
        raise Unauthenticated("malformed API key")
    prefix, secret = parsed
    key = session.scalar(sa.select(ApiKey).where(ApiKey.prefix == prefix))
    presented = _hash_secret(secret)
    stored = key.secret_hash if key is not None else "0" * 64
    if not hmac.compare_digest(presented, stored) or key is None:
        raise Unauthenticated("invalid API key")
    now = utcnow()
    if key.revoked_at is not None:
        raise Unauthenticated("API key has been revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthenticated("API key has expired")
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = now
    user = session.get(User, key.user_id)
    if user is None or not user.is_active:
        raise Unauthenticated("API key's user is disabled")
    return user


def ensure_unique_group_name(session: Session, name: str) -> None:
    if session.scalar(sa.select(Group.id).where(Group.name == name)) is not None:
        raise Conflict(f"group {name} already exists", field="name")


# --- a user's own account (the API's /users/me and /api-keys) ------------------------------


def is_key_active(key: ApiKey, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return key.revoked_at is None and (key.expires_at is None or key.expires_at > now)


def create_own_key(
    session: Session, *, principal: Principal, name: str, expires_at: datetime | None
) -> IssuedKey:
    """A new key for the caller. Not with a key: a leaked key must not mint lasting ones."""
    if principal.via == "api_key":
        raise Forbidden(
            "API keys are created from the web UI or `lookout apikeys create`, not with a key"
        )
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidInput("expires_at: give a time zone (e.g. Z)", field="expires_at")
        if expires_at <= utcnow():
            raise InvalidInput("expires_at: must be in the future", field="expires_at")
    user = AccountRepository(session, principal).user()
    issued = create_api_key(session, user=user, name=name, expires_at=expires_at)
    session.commit()
    return issued


def revoke_own_key(session: Session, *, principal: Principal, key_id: uuid.UUID) -> None:
    """Revoke one of the caller's keys (again: no change); another's key is 404."""
    key = AccountRepository(session, principal).key(key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.commit()
