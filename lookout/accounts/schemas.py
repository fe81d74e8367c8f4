"""JSON of a user's own account: who they are, their groups, their API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field, field_validator

from lookout.schema import Schema


def _stripped(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


class GroupMembershipRead(Schema):
    id: uuid.UUID
    name: str
    description: str | None
    role: str


class UserRead(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str | None
    is_admin: bool
    is_active: bool
    groups: list[GroupMembershipRead]


class ApiKeyRead(Schema):
    """A key as its owner sees it: never the secret, which was shown once at creation."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's public part: lk_<prefix>_...")
    user_id: uuid.UUID
    is_active: bool = Field(description="Neither revoked nor expired")
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    expires_at: datetime | None = Field(None, description="Aware date and time; none: no expiry")

    _name = field_validator("name")(_stripped)


class ApiKeyCreated(Schema):
    """VISTA's shape: the key's record and, this once, the key itself."""

    api_key: ApiKeyRead
    key: str = Field(description="Shown once: store it now, only its hash is kept")


# --- what an admin sees and sends (/api/admin/...) ------------------------------------------


class AdminUserRead(UserRead):
    created_at: datetime


class AdminUserCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, description="How the proxy names them")
    display_name: str | None = Field(None, max_length=200)
    is_admin: bool = False

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = _stripped(value)
        local, at, domain = value.rpartition("@")
        if not at or not local or not domain or any(c.isspace() for c in value):
            raise ValueError("is not an email address")
        return value


class AdminUserUpdate(Schema):
    """The fields to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(None, max_length=200)
    is_admin: bool | None = None
    is_active: bool | None = Field(None, description="False: the user can no longer sign in")


class GroupMemberRead(Schema):
    user_id: uuid.UUID
    email: str
    role: str


class GroupRead(Schema):
    id: uuid.UUID
    name: str
    description: str | None
    created_at: datetime
    members: list[GroupMemberRead]


class GroupCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)

    _name = field_validator("name")(_stripped)


class MembershipWrite(Schema):
    model_config = ConfigDict(extra="forbid")

    role: str = Field("member", description="member or admin")
