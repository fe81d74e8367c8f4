"""A caller's own account rows: their memberships and their API keys, nobody else's."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.accounts.models import ApiKey, Group, Membership, User
from lookout.auth.principal import Principal
from lookout.errors import NotFound


class AccountRepository:
    """Reads of the caller's own user, groups and keys, built once per request."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def user(self) -> User:
        user = self.session.get(User, self.principal.user_id)
        if user is None:  # deleted while the request ran
            raise NotFound("your user no longer exists")
        return user

    def memberships(self) -> list[tuple[Group, str]]:
        query = (
            sa.select(Group, Membership.role)
            .join(Membership, Membership.group_id == Group.id)
            .where(Membership.user_id == self.principal.user_id)
            .order_by(Group.name)
        )
        return [(group, role) for group, role in self.session.execute(query)]

    def api_keys(self) -> list[ApiKey]:
        query = sa.select(ApiKey).where(ApiKey.user_id == self.principal.user_id)
        return list(self.session.scalars(query.order_by(ApiKey.created_at, ApiKey.id)))

    def key(self, key_id: uuid.UUID) -> ApiKey:
        """One of the caller's keys; another user's key is as missing as no key (404)."""
        key = self.session.scalar(
            sa.select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == self.principal.user_id)
        )
        if key is None:
            raise NotFound(f"no API key {key_id} of yours", field="api_key_id")
        return key
