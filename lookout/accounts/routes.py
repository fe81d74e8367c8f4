"""HTTP endpoints of a user's own account: who am I, my groups, my API keys (as in VISTA)."""

from __future__ import annotations

import uuid

from fastapi import status

from lookout.accounts import service
from lookout.accounts.models import ApiKey
from lookout.accounts.repository import AccountRepository
from lookout.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    GroupMembershipRead,
    UserRead,
)
from lookout.auth.dependencies import RawBodyDep
from lookout.deps import PrincipalDep, SessionDep
from lookout.jsonbody import CheckedJSONRoute, openapi_body, parse_model
from lookout.route_table import RouteTable

router = RouteTable(prefix="/api", tags=["accounts"], route_class=CheckedJSONRoute)


def _groups(repository: AccountRepository) -> list[GroupMembershipRead]:
    return [
        GroupMembershipRead(id=g.id, name=g.name, description=g.description, role=role)
        for g, role in repository.memberships()
    ]


def _key_read(key: ApiKey) -> ApiKeyRead:
    values = {name: getattr(key, name) for name in ApiKeyRead.model_fields if name != "is_active"}
    return ApiKeyRead(**values, is_active=service.is_key_active(key))


@router.get("/users/me", response_model=UserRead)
def me(session: SessionDep, principal: PrincipalDep) -> UserRead:
    """The caller: their user and the groups whose projects they see."""
    repository = AccountRepository(session, principal)
    user = repository.user()
    fields = {c: getattr(user, c) for c in UserRead.model_fields if c != "groups"}
    return UserRead.model_validate({**fields, "groups": _groups(repository)})


@router.get("/users/me/groups", response_model=list[GroupMembershipRead])
def my_groups(session: SessionDep, principal: PrincipalDep) -> list[GroupMembershipRead]:
    """The caller's groups with their role in each."""
    return _groups(AccountRepository(session, principal))


@router.get("/api-keys", response_model=list[ApiKeyRead])
def my_keys(session: SessionDep, principal: PrincipalDep) -> list[ApiKeyRead]:
    """The caller's API keys, oldest first (revoked and expired ones too, marked inactive)."""
    return [_key_read(key) for key in AccountRepository(session, principal).api_keys()]


@router.post(
    "/api-keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=openapi_body(ApiKeyCreate),
)
def create_key(body: RawBodyDep, session: SessionDep, principal: PrincipalDep) -> ApiKeyCreated:
    """A new key for the caller, shown once. Not with an API key (403): from the UI or CLI."""
    request = parse_model(ApiKeyCreate, body)
    issued = service.create_own_key(
        session, principal=principal, name=request.name, expires_at=request.expires_at
    )
    return ApiKeyCreated(api_key=_key_read(issued.api_key), key=issued.token)


@router.delete("/api-keys/{api_key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_key(api_key_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> None:
    """Revoke one of the caller's keys (it stops working at once); another's key is 404."""
    service.revoke_own_key(session, principal=principal, key_id=api_key_id)
