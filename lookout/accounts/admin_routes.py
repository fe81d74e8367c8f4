"""HTTP endpoints for admins: users, groups and memberships (the CLI's `users`/`groups`)."""

from __future__ import annotations

import uuid

from fastapi import status

from lookout.accounts import admin
from lookout.accounts.models import Group, User
from lookout.accounts.schemas import (
    AdminUserCreate,
    AdminUserRead,
    AdminUserUpdate,
    GroupCreate,
    GroupMemberRead,
    GroupMembershipRead,
    GroupRead,
    MembershipWrite,
)
from lookout.deps import PrincipalDep, SessionDep
from lookout.jsonbody import CheckedJSONRoute
from lookout.route_table import RouteTable

router = RouteTable(prefix="/api/admin", tags=["admin"], route_class=CheckedJSONRoute)


def user_read(user: User) -> AdminUserRead:
    groups = [
        GroupMembershipRead(
            id=m.group.id, name=m.group.name, description=m.group.description, role=m.role
        )
        for m in sorted(user.memberships, key=lambda m: m.group.name)
    ]
    fields = {name: getattr(user, name) for name in AdminUserRead.model_fields if name != "groups"}
    return AdminUserRead(**fields, groups=groups)


def group_read(group: Group) -> GroupRead:
    members = [
        GroupMemberRead(user_id=m.user.id, email=m.user.email, role=m.role)
        for m in sorted(group.memberships, key=lambda m: m.user.email)
    ]
    fields = {name: getattr(group, name) for name in GroupRead.model_fields if name != "members"}
    return GroupRead(**fields, members=members)


@router.get("/users", response_model=list[AdminUserRead])
def list_users(session: SessionDep, principal: PrincipalDep) -> list[AdminUserRead]:
    """Every user with their groups (admins only)."""
    return [user_read(u) for u in admin.list_users(session, principal)]


@router.post("/users", response_model=AdminUserRead, status_code=status.HTTP_201_CREATED)
def create_user(
    body: AdminUserCreate, session: SessionDep, principal: PrincipalDep
) -> AdminUserRead:
    """Add a user by email (409 if taken); they sign in through the proxy under that email."""
    user = admin.create_user(
        session, principal, email=body.email, display_name=body.display_name, is_admin=body.is_admin
    )
    return user_read(user)


@router.patch("/users/{user_id}", response_model=AdminUserRead)
def update_user(
    user_id: uuid.UUID, body: AdminUserUpdate, session: SessionDep, principal: PrincipalDep
) -> AdminUserRead:
    """Change a user's name, admin right or access (not your own admin right or access)."""
    changes = body.model_dump(exclude_unset=True)
    return user_read(admin.update_user(session, principal, user_id, changes=changes))


@router.get("/groups", response_model=list[GroupRead])
def list_groups(session: SessionDep, principal: PrincipalDep) -> list[GroupRead]:
    """Every group with its members (admins only)."""
    return [group_read(g) for g in admin.list_groups(session, principal)]


@router.post("/groups", response_model=GroupRead, status_code=status.HTTP_201_CREATED)
def create_group(body: GroupCreate, session: SessionDep, principal: PrincipalDep) -> GroupRead:
    """A new group (409 if the name is taken)."""
    group = admin.create_group(session, principal, name=body.name, description=body.description)
    return group_read(group)


@router.put("/groups/{group_id}/members/{user_id}", response_model=GroupRead)
def set_member(
    group_id: uuid.UUID,
    user_id: uuid.UUID,
    body: MembershipWrite,
    session: SessionDep,
    principal: PrincipalDep,
) -> GroupRead:
    """Put a user in a group, or change their role there."""
    admin.set_membership(session, principal, group_id=group_id, user_id=user_id, role=body.role)
    return group_read(admin.get_group(session, principal, group_id))


@router.delete("/groups/{group_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(
    group_id: uuid.UUID, user_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> None:
    """Take a user out of a group (they lose its projects at their next request)."""
    admin.remove_membership(session, principal, group_id=group_id, user_id=user_id)
