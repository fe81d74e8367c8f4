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
    principal: Principal, group_column: sa.SQLColumnExpression[uuid.UUID]
) -> ColumnElement[bool]:
    """A WHERE clause keeping only rows of projects in the caller's groups."""
    if principal.is_admin:
        return sa.true()
    if not principal.group_ids:
        return sa.false()
    return group_column.in_(principal.group_ids)


# For statements built once and reused with bound values: building a statement costs more
# than running it, so hot reads cache theirs by "shape", of which the caller's scope is part.


def scope_kind(principal: Principal) -> str:
    """Which `project_scope` clause applies: every project, the caller's groups', or none."""
    if principal.is_admin:
        return "all"
    return "groups" if principal.group_ids else "none"


def scope_clause(kind: str, group_column: sa.SQLColumnExpression[uuid.UUID]) -> ColumnElement[bool]:
    """`project_scope` with the group ids left as a parameter (`scope_params` supplies it)."""
    if kind == "all":
        return sa.true()
    if kind == "none":
        return sa.false()
    return group_column.in_(sa.bindparam("scope_group_ids", expanding=True))


def scope_params(principal: Principal) -> dict[str, list[uuid.UUID]]:
    return {"scope_group_ids": sorted(principal.group_ids)} if principal.group_ids else {}
