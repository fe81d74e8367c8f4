"""The caller of a request, as every service sees it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property

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

    @cached_property
    def scope(self) -> AccessScope:
        """What this caller may read (see `AccessScope`)."""
        return AccessScope.of(self)


GROUP_IDS = "scope_group_ids"


@dataclass(frozen=True)
class AccessScope:
    """Which projects a caller may read, as SQL: the one way every read is scoped.

    `clause` filters a statement by a project's group column. Hot reads build their statement
    once per `kind` and run it with `params`, so building a statement (which costs more than
    running it) happens once, and nothing of one caller is baked into what another runs: a
    statement built from `template(kind)` has no group ids in it and refuses to run without
    the caller's `params`.
    """

    kind: str  # "all", "groups" or "none"
    group_ids: tuple[uuid.UUID, ...] | None = None  # None: a template, ids given at execution

    @classmethod
    def of(cls, principal: Principal) -> AccessScope:
        if principal.is_admin:
            return cls("all", ())
        return cls("groups" if principal.group_ids else "none", tuple(sorted(principal.group_ids)))

    @classmethod
    def template(cls, kind: str) -> AccessScope:
        return cls(kind)

    @property
    def params(self) -> dict[str, list[uuid.UUID]]:
        """What a statement built from `template(kind)` needs at execution."""
        return {GROUP_IDS: list(self.group_ids or ())} if self.kind == "groups" else {}

    def clause(self, group_column: sa.SQLColumnExpression[uuid.UUID]) -> ColumnElement[bool]:
        """A WHERE clause keeping only rows of projects in the caller's groups."""
        if self.kind == "all":
            return sa.true()
        if self.kind == "none":
            return sa.false()
        if self.group_ids is None:
            return group_column.in_(sa.bindparam(GROUP_IDS, expanding=True, required=True))
        return group_column.in_(sa.bindparam(GROUP_IDS, list(self.group_ids), expanding=True))
