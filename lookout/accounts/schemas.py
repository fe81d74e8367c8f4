"""JSON of a user's own account: who they are, their groups, their API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator


class GroupMembershipRead(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    role: str


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str | None
    is_admin: bool
    is_active: bool
    groups: list[GroupMembershipRead]


class ApiKeyRead(BaseModel):
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


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    expires_at: datetime | None = Field(None, description="Aware date and time; none: no expiry")

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value


class ApiKeyCreated(BaseModel):
    """VISTA's shape: the key's record and, this once, the key itself."""

    api_key: ApiKeyRead
    key: str = Field(description="Shown once: store it now, only its hash is kept")
