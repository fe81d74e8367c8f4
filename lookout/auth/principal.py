"""The caller of a request, as every service sees it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    email: str
    is_admin: bool = False
    group_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    via: str = "api_key"  # "api_key", "proxy" or "local"

    def can_see_group(self, group_id: uuid.UUID) -> bool:
        return self.is_admin or group_id in self.group_ids


def project_scope(
    principal: Principal, group_column: ColumnElement[uuid.UUID]
) -> ColumnElement[bool]:
    """A WHERE clause keeping only rows of projects in the caller's groups."""
    if principal.is_admin:
        return sa.true()
    if not principal.group_ids:
        return sa.false()
    return group_column.in_(principal.group_ids)
