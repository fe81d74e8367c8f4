"""Liveness and readiness."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter

from lookout import __version__
from lookout.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/api/health")
def health(session: SessionDep) -> dict[str, str]:
    """Answers 200 when the server and its database respond."""
    session.execute(sa.text("SELECT 1"))
    return {"status": "ok", "version": __version__}
