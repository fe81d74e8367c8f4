"""What an admin does to accounts: people, groups and who belongs where (as the CLI does).

Every function takes the caller and refuses anyone but an admin (403), so a route cannot forget
the check. An admin never takes their own admin right or account away (an instance with no admin
left could only be repaired from the command line).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from lookout.accounts import service
from lookout.accounts.models import Group, Membership, User
from lookout.auth.principal import Principal
from lookout.errors import Conflict, Forbidden, InvalidInput, NotFound

ROLES = ("member", "admin")


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin manages users and groups")


def list_users(session: Session, principal: Principal) -> list[User]:
    """Every user with their memberships, by email."""
    require_admin(principal)
    query = sa.select(User).options(selectinload(User.memberships).selectinload(Membership.group))
    return list(session.scalars(query.order_by(User.email)))


def list_groups(session: Session, principal: Principal) -> list[Group]:
    """Every group with its members, by name."""
    require_admin(principal)
    query = sa.select(Group).options(selectinload(Group.memberships).selectinload(Membership.user))
    return list(session.scalars(query.order_by(Group.name)))


def get_user(session: Session, principal: Principal, user_id: uuid.UUID) -> User:
    require_admin(principal)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", field="user_id")
    return user


def get_group(session: Session, principal: Principal, group_id: uuid.UUID) -> Group:
    require_admin(principal)
    group = session.get(Group, group_id)
    if group is None:
        raise NotFound(f"no group {group_id}", field="group_id")
    return group


def create_user(
    session: Session,
    principal: Principal,
    *,
    email: str,
    display_name: str | None = None,
    is_admin: bool = False,
) -> User:
    """A new user (409 if the email is taken): they sign in through the proxy with it."""
    require_admin(principal)
    normalized = service.normalize_email(email)
    if session.scalar(sa.select(User.id).where(User.email == normalized)) is not None:
        raise Conflict(f"email: a user {normalized} already exists", field="email")
    user = service.get_or_create_user(session, email=normalized, is_admin=is_admin)
    user.display_name = display_name
    session.commit()
    return user


def update_user(
    session: Session,
    principal: Principal,
    user_id: uuid.UUID,
    *,
    changes: dict[str, object],
) -> User:
    """Change a user's name, admin right or whether they may sign in."""
    user = get_user(session, principal, user_id)
    if user.id == principal.user_id:
        for field in ("is_admin", "is_active"):
            if changes.get(field) is False:
                raise InvalidInput(
                    f"{field}: you cannot take this away from yourself; ask another admin",
                    field=field,
                )
    for field, value in changes.items():
        setattr(user, field, value)
    session.commit()
    return user


def create_group(
    session: Session, principal: Principal, *, name: str, description: str | None = None
) -> Group:
    """A new group (409 if the name is taken)."""
    require_admin(principal)
    name = name.strip()
    service.ensure_unique_group_name(session, name)
    group = service.get_or_create_group(session, name=name, description=description)
    session.commit()
    return group


def set_membership(
    session: Session,
    principal: Principal,
    *,
    group_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
) -> Membership:
    """Put a user in a group with a role (or change their role there)."""
    if role not in ROLES:
        raise InvalidInput(f"role: use {' or '.join(ROLES)}, not {role!r}", field="role")
    group = get_group(session, principal, group_id)
    user = get_user(session, principal, user_id)
    membership = service.add_member(session, user=user, group=group, role=role)
    session.commit()
    return membership


def remove_membership(
    session: Session, principal: Principal, *, group_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    group = get_group(session, principal, group_id)
    user = get_user(session, principal, user_id)
    service.remove_member(session, user=user, group=group)
    session.commit()
