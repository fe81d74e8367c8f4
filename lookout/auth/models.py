"""Signatures already seen, so a captured request cannot be replayed."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lookout.db import Base


class SeenSignature(Base):
    __tablename__ = "seen_signatures"

    # sha256 of the scheme and the signature (or nonce): fixed size whatever was sent.
    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(index=True)
