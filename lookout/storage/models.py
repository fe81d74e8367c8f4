"""Objects that may sit in storage without a row: noted so they can be deleted later."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lookout.db import Base, utcnow


class LeftoverObject(Base):
    """A key whose upload failed without a clear answer, or whose delete failed."""

    __tablename__ = "leftover_objects"

    object_key: Mapped[str] = mapped_column(sa.String(500), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.String(200))
    noted_at: Mapped[datetime] = mapped_column(default=utcnow)
